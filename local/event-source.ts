/**
 * Lambda's SQS event source, for the local cluster and the tests (nothing else emulates it): polls a
 * queue, hands batches to a handler as an `SQSEvent`, deletes what succeeded and leaves the rest to
 * come back after the visibility timeout (and, past maxReceiveCount, to the dead-letter queue), exactly
 * as Lambda does with ReportBatchItemFailures. A handler that throws fails the whole batch.
 */
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { toRecordAttributes } from '#shared/queues/attributes.js';
import type { Queues, ReceivedMessage } from '#shared/queues/queues.js';

export type SqsHandler = (event: SQSEvent, context: Context) => Promise<SQSBatchResponse | undefined>;

export interface EventSourceOptions {
  readonly queues: Queues;
  readonly queueUrl: string;
  readonly queueArn: string;
  readonly handler: SqsHandler;
  /** Records per invocation (Lambda: up to 10 for FIFO). */
  readonly batchSize?: number;
  /** How long one receive waits for the first message. */
  readonly waitSeconds?: number;
  /** How long a received batch stays invisible (default: the queue's; Lambda uses the queue's too). */
  readonly visibilityTimeoutSeconds?: number;
  /**
   * Parallel pollers (Lambda scales these with the backlog). On a FIFO queue a batch waits for the batches in
   * flight that hold any of its message groups, as Lambda handles one batch per group at a time (the stand-in
   * does not lock groups itself).
   */
  readonly pollers?: number;
  readonly onError?: (error: unknown) => void;
  readonly region?: string;
}

export interface EventSource {
  stop(): Promise<void>;
  /** Invocations so far (for tests and metrics). */
  readonly invocations: () => number;
}

/** A received message as Lambda's SQS event source hands it over (SQS stamps the sender as SenderId). */
export function toSqsRecord(message: ReceivedMessage, arn: string, region: string, senderId = 'local'): SQSRecord {
  return {
    messageId: message.messageId,
    receiptHandle: message.receiptHandle,
    body: message.body,
    attributes: {
      ApproximateReceiveCount: String(message.receiveCount),
      SentTimestamp: String(Date.now()),
      SenderId: senderId,
      ApproximateFirstReceiveTimestamp: String(Date.now()),
      ...(message.groupId ? { MessageGroupId: message.groupId } : {}),
    },
    messageAttributes: toRecordAttributes(message.context ?? {}),
    md5OfBody: '',
    eventSource: 'aws:sqs',
    eventSourceARN: arn,
    awsRegion: region,
  };
}

function lambdaContext(name: string): Context {
  const deadline = Date.now() + 900_000;
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName: name,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:local:000000000000:function:${name}`,
    memoryLimitInMB: '1024',
    awsRequestId: crypto.randomUUID(),
    logGroupName: `/aws/lambda/${name}`,
    logStreamName: 'local',
    getRemainingTimeInMillis: () => deadline - Date.now(),
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

export function startEventSource(options: EventSourceOptions): EventSource {
  const controller = new AbortController();
  const region = options.region ?? 'us-east-1';
  const name = options.queueArn.split(':').at(-1) ?? 'local';
  let invocations = 0;
  /** Per message group, the batch in flight that holds it. */
  const groupTails = new Map<string, Promise<void>>();

  async function poll(): Promise<void> {
    while (!controller.signal.aborted) {
      let messages: ReceivedMessage[];
      try {
        messages = await options.queues.receive(options.queueUrl, {
          waitSeconds: options.waitSeconds ?? 1,
          max: options.batchSize ?? 10,
          abortSignal: controller.signal,
          ...(options.visibilityTimeoutSeconds !== undefined
            ? { visibilityTimeoutSeconds: options.visibilityTimeoutSeconds }
            : {}),
        });
      } catch (error) {
        if (controller.signal.aborted) return;
        options.onError?.(error);
        await new Promise((resolve) => setTimeout(resolve, 500));
        continue;
      }
      if (messages.length === 0) continue;
      const release = await takeGroups(messages);
      try {
        await invoke(messages);
      } finally {
        release();
      }
    }
  }

  /** Waits for the batches in flight with any of these messages' groups; answers the release of them. */
  async function takeGroups(messages: readonly ReceivedMessage[]): Promise<() => void> {
    const groups = [...new Set(messages.flatMap((message) => (message.groupId ? [message.groupId] : [])))];
    const before = groups.flatMap((group) => groupTails.get(group) ?? []);
    let done: () => void = () => undefined;
    const mine = new Promise<void>((resolve) => (done = resolve));
    for (const group of groups) groupTails.set(group, mine);
    await Promise.all(before);
    return () => {
      done();
      for (const group of groups) if (groupTails.get(group) === mine) groupTails.delete(group);
    };
  }

  async function invoke(messages: ReceivedMessage[]): Promise<void> {
    invocations++;
    const event: SQSEvent = { Records: messages.map((m) => toSqsRecord(m, options.queueArn, region)) };
    let failed: Set<string>;
    try {
      const response = await options.handler(event, lambdaContext(name));
      failed = new Set((response?.batchItemFailures ?? []).map((failure) => failure.itemIdentifier));
    } catch (error) {
      options.onError?.(error);
      return; // the whole batch comes back after the visibility timeout
    }
    const done = messages.filter((message) => !failed.has(message.messageId));
    try {
      await options.queues.delete(
        options.queueUrl,
        done.map((message) => message.receiptHandle),
      );
    } catch (error) {
      options.onError?.(error);
    }
  }

  const pollers = Array.from({ length: options.pollers ?? 1 }, () => poll());
  return {
    invocations: () => invocations,
    async stop() {
      controller.abort();
      await Promise.allSettled(pollers);
    },
  };
}
