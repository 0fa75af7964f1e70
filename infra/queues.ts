/**
 * The master's fixed queues, named as the local cluster names them (shared/queues/queues.ts): the
 * status FIFO queue (agents -> master), the heartbeat queue, the allocation-trigger queue, and a queue
 * for invocations that failed for good (schedules and EventBridge events); the status, heartbeat and
 * allocation queues each have a dead-letter queue.
 * The per-agent and per-framework queues are created at runtime by the master.
 */
import { Duration } from 'aws-cdk-lib';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { queueNames } from '#shared/queues/queues.js';

export interface MantleQueuesProps {
  readonly clusterName: string;
  /** Lambda's advice: a source queue's visibility timeout is at least six times its function's timeout. */
  readonly statusVisibility: Duration;
  readonly allocationVisibility: Duration;
  readonly heartbeatVisibility: Duration;
}

export const COMMON = { encryption: sqs.QueueEncryption.SQS_MANAGED, enforceSSL: true } as const;
const DLQ_RETENTION = Duration.days(14);

export class MantleQueues extends Construct {
  readonly status: sqs.Queue;
  readonly statusDeadLetters: sqs.Queue;
  readonly allocation: sqs.Queue;
  readonly allocationDeadLetters: sqs.Queue;
  readonly heartbeats: sqs.Queue;
  readonly heartbeatDeadLetters: sqs.Queue;
  readonly failedInvocations: sqs.Queue;

  constructor(scope: Construct, id: string, props: MantleQueuesProps) {
    super(scope, id);
    const status = queueNames.status(props.clusterName);
    const allocation = queueNames.allocation(props.clusterName);
    this.statusDeadLetters = new sqs.Queue(this, 'StatusDlq', {
      ...COMMON,
      queueName: queueNames.deadLetter(status),
      fifo: true,
      retentionPeriod: DLQ_RETENTION,
    });
    this.status = new sqs.Queue(this, 'Status', {
      ...COMMON,
      queueName: status,
      fifo: true,
      // High-throughput FIFO: ordering (and deduplication) per task, not per queue.
      deduplicationScope: sqs.DeduplicationScope.MESSAGE_GROUP,
      fifoThroughputLimit: sqs.FifoThroughputLimit.PER_MESSAGE_GROUP_ID,
      visibilityTimeout: props.statusVisibility,
      deadLetterQueue: { queue: this.statusDeadLetters, maxReceiveCount: 10 },
    });
    this.allocationDeadLetters = new sqs.Queue(this, 'AllocationDlq', {
      ...COMMON,
      queueName: queueNames.deadLetter(allocation),
      retentionPeriod: DLQ_RETENTION,
    });
    this.allocation = new sqs.Queue(this, 'Allocation', {
      ...COMMON,
      queueName: allocation,
      visibilityTimeout: props.allocationVisibility,
      deadLetterQueue: { queue: this.allocationDeadLetters, maxReceiveCount: 5 },
    });
    const heartbeats = queueNames.heartbeats(props.clusterName);
    this.heartbeatDeadLetters = new sqs.Queue(this, 'HeartbeatsDlq', {
      ...COMMON,
      queueName: queueNames.deadLetter(heartbeats),
      retentionPeriod: DLQ_RETENTION,
    });
    this.heartbeats = new sqs.Queue(this, 'Heartbeats', {
      ...COMMON,
      queueName: heartbeats,
      // A heartbeat is worth nothing after a few minutes.
      retentionPeriod: Duration.minutes(5),
      visibilityTimeout: props.heartbeatVisibility,
      deadLetterQueue: { queue: this.heartbeatDeadLetters, maxReceiveCount: 5 },
    });
    this.failedInvocations = new sqs.Queue(this, 'FailedInvocations', {
      ...COMMON,
      queueName: `${props.clusterName}-failed-invocations`,
      retentionPeriod: DLQ_RETENTION,
    });
  }

  /** The dead-letter queues, each of which gets an alarm. */
  get deadLetterQueues(): Record<string, sqs.Queue> {
    return {
      Status: this.statusDeadLetters,
      Allocation: this.allocationDeadLetters,
      Heartbeats: this.heartbeatDeadLetters,
      FailedInvocations: this.failedInvocations,
    };
  }
}
