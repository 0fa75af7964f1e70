/**
 * Lambda's SQS event source, for the local cluster and the tests (nothing else emulates it): polls a
 * queue, hands batches to a handler as an `SQSEvent`, deletes what succeeded and leaves the rest to
 * come back after the visibility timeout (and, past maxReceiveCount, to the dead-letter queue), exactly
 * as Lambda does with ReportBatchItemFailures. A handler that throws fails the whole batch.
 */
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { toRecordAttributes } from '#shared/queues/attributes.js';
import type { Queues, ReceivedMessage } from '#shared/queues/queues.js';

/** What one ReceiveMessage returns at most. */
const SQS_MAX_RECEIVE = 10;

export type SqsHandler = (event: SQSEvent, context: Context) => Promise<SQSBatchResponse | undefined>;

export interface EventSourceOptions {
  readonly queues: Queues;
  readonly queueUrl: string;
  readonly queueArn: string;
  readonly handler: SqsHandler;
  /** Records per invocation (Lambda: up to 10 for FIFO; more than 10 gathers several receives, with a window). */
  readonly batchSize?: number;
  /**
   * Lambda's MaximumBatchingWindowInSeconds: once a receive brings messages, receives go on until `batchSize` have
   * come or the window has passed, and the handler gets them in one invocation (default 0: one receive).
   */
  readonly batchingWindowSeconds?: number;
  /** How long one receive waits for the first message. */
  readonly waitSeconds?: number;
  /** How long a received batch stays invisible (default: the queue's; Lambda uses the queue's too). */
  readonly visibilityTimeoutSeconds?: number;
  /**
   * Parallel pollers (Lambda scales these with the backlog). On a FIFO queue a batch waits for the batches in
   * flight that hold any of its message groups, as Lambda handles one batch per group at a time (the stand-in
   * does not lock groups itself). One poller at a time waits on an empty queue: a poller whose receive came back
   * empty while another receives rests until a batch comes (idle, a source makes one receive a wait, not one per
   * poller), and a poller that takes a batch while none other receives wakes one that rests, so that a backlog
   * brings them all in.
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

/** One receive, or with a batching window, as many as fill the batch within the window after the first. */
async function receiveBatch(options: EventSourceOptions, signal: AbortSignal): Promise<ReceivedMessage[]> {
  const receive = (waitSeconds: number, max: number) =>
    options.queues.receive(options.queueUrl, {
      waitSeconds,
      max: Math.min(SQS_MAX_RECEIVE, max),
      abortSignal: signal,
      ...(options.visibilityTimeoutSeconds !== undefined
        ? { visibilityTimeoutSeconds: options.visibilityTimeoutSeconds }
        : {}),
    });
  const size = options.batchSize ?? 10;
  const batch = await receive(options.waitSeconds ?? 1, size);
  const windowEnds = Date.now() + (options.batchingWindowSeconds ?? 0) * 1000;
  while (batch.length > 0 && batch.length < size && !signal.aborted) {
    const left = windowEnds - Date.now();
    if (left <= 0) break;
    batch.push(...(await receive(Math.min(20, Math.ceil(left / 1000)), size - batch.length)));
  }
  return batch;
}

export function startEventSource(options: EventSourceOptions): EventSource {
  const controller = new AbortController();
  const region = options.region ?? 'us-east-1';
  const name = options.queueArn.split(':').at(-1) ?? 'local';
  let invocations = 0;
  /** Per message group, the batch in flight that holds it. */
  const groupTails = new Map<string, Promise<void>>();
  /** Pollers receiving now, and those resting until a batch comes. */
  let receiving = 0;
  const resting: Array<() => void> = [];
  const wakeOne = () => resting.shift()?.();

  async function poll(): Promise<void> {
    while (!controller.signal.aborted) {
      let messages: ReceivedMessage[];
      receiving++;
      try {
        messages = await receiveBatch(options, controller.signal);
      } catch (error) {
        if (controller.signal.aborted) return;
        options.onError?.(error);
        await new Promise((resolve) => setTimeout(resolve, 500));
        continue;
      } finally {
        receiving--;
      }
      if (messages.length === 0) {
        if (receiving > 0) await new Promise<void>((resolve) => resting.push(resolve));
        continue;
      }
      if (receiving === 0) wakeOne();
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
      while (resting.length > 0) wakeOne();
      await Promise.allSettled(pollers);
    },
  };
}
