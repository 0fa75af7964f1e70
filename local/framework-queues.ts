/**
 * Queue-delivered frameworks hosted beside the local master (docs/scheduler-api.md, "Queue-delivered frameworks"):
 * `register` creates a framework's named queue as the CDK stack does (with its dead-letter queue) and runs its
 * handler on it with the SQS event-source poller, as Lambda's event source mapping runs it in AWS.
 */
import { queueNames } from '#shared/queues/queues.js';
import type { Master } from '../functions/master/master.js';
import { startEventSource, type EventSource, type SqsHandler } from './event-source.js';

export interface FrameworkQueueRegistration {
  /** The name the framework subscribes with (`Mantle-Event-Delivery: queue; name=<name>`). */
  readonly name: string;
  /** Its principal; "" (the default) with authentication off. */
  readonly principal?: string;
  readonly handler: SqsHandler;
  /** How long a record that failed waits before it comes back (default 60 s, the queue's). */
  readonly visibilityTimeoutSeconds?: number;
  /** Receives before a record goes to the dead-letter queue (default 5). */
  readonly maxReceiveCount?: number;
  /**
   * Batches handled at once, each holding its message groups (default 1), as Lambda runs several for a queue
   * with many groups: only for a handler that is safe to run concurrently.
   */
  readonly pollers?: number;
}

export interface FrameworkQueues {
  /** Runs `handler` on the framework's named queue; resolves with its queue URL once polling. */
  register(registration: FrameworkQueueRegistration): Promise<{ queueUrl: string; source: EventSource }>;
  stop(): Promise<void>;
}

export function frameworkQueues(master: Master): FrameworkQueues {
  const sources: EventSource[] = [];
  return {
    async register(registration) {
      const name = queueNames.frameworkDelivery(master.config.cluster, registration.principal ?? '', registration.name);
      const queueUrl = await master.queues.ensure(name, {
        visibilityTimeoutSeconds: 60,
        retentionSeconds: 4 * 24 * 3600,
        maxReceiveCount: registration.maxReceiveCount ?? 5,
      });
      const source = startEventSource({
        queues: master.queues,
        queueUrl,
        queueArn: await master.queues.arn(queueUrl),
        handler: registration.handler,
        batchSize: 10,
        ...(registration.pollers !== undefined ? { pollers: registration.pollers } : {}),
        ...(registration.visibilityTimeoutSeconds !== undefined
          ? { visibilityTimeoutSeconds: registration.visibilityTimeoutSeconds }
          : {}),
        onError: (error) =>
          master.logger.error('Framework queue handler failed', { name: registration.name, error: String(error) }),
      });
      sources.push(source);
      return { queueUrl, source };
    },
    async stop() {
      await Promise.all(sources.splice(0).map((source) => source.stop()));
    },
  };
}
