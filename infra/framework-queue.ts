/**
 * A first-party queue-delivered framework's queue (docs/scheduler-api.md, "Queue-delivered frameworks"): the named
 * FIFO queue its events go to, its dead-letter queue, and the event source mapping that runs its handler on it with
 * partial batch failures. The queue's name is the one the master uses (`<cluster>-fwq-<digest(principal/name)>.fifo`),
 * so the stack can create it before the framework first subscribes; the master then finds it as it is.
 */
import { Duration } from 'aws-cdk-lib';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { queueNames } from '#shared/queues/queues.js';
import { COMMON } from './queues.js';

export interface FrameworkQueueProps {
  readonly clusterName: string;
  /** The framework's principal (authentication is always on in AWS). */
  readonly principal: string;
  /** The name it subscribes with: `Mantle-Event-Delivery: queue; name=<name>`. */
  readonly name: string;
  /** The framework's handler, fed the queue's records (it returns batchItemFailures). */
  readonly handler: lambda.IFunction;
  /** Lambda's advice: at least six times the handler's timeout (default 6 × 60 s). */
  readonly visibilityTimeout?: Duration;
  /** Receives before a record goes to the dead-letter queue (default 5). */
  readonly maxReceiveCount?: number;
  /** Records per invocation (FIFO: at most 10; default 10). */
  readonly batchSize?: number;
}

export class FrameworkQueue extends Construct {
  readonly queue: sqs.Queue;
  readonly deadLetters: sqs.Queue;

  constructor(scope: Construct, id: string, props: FrameworkQueueProps) {
    super(scope, id);
    const queueName = queueNames.frameworkDelivery(props.clusterName, props.principal, props.name);
    this.deadLetters = new sqs.Queue(this, 'Dlq', {
      ...COMMON,
      queueName: queueNames.deadLetter(queueName),
      fifo: true,
      retentionPeriod: Duration.days(14),
    });
    this.queue = new sqs.Queue(this, 'Queue', {
      ...COMMON,
      queueName,
      fifo: true,
      // Events wait while no handler runs (a deploy, an outage); the master would keep them 4 days too.
      retentionPeriod: Duration.days(4),
      visibilityTimeout: props.visibilityTimeout ?? Duration.seconds(360),
      deadLetterQueue: { queue: this.deadLetters, maxReceiveCount: props.maxReceiveCount ?? 5 },
    });
    props.handler.addEventSource(
      new SqsEventSource(this.queue, { batchSize: props.batchSize ?? 10, reportBatchItemFailures: true }),
    );
  }
}
