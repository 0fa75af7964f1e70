/**
 * Sending to SQS in shared batches: per queue, one SendMessageBatch in flight at a time, and whatever callers hand
 * over while it flies goes together in the next one (at most 10 messages and 256 KiB). Nagle's algorithm for
 * queues: an idle sender adds no wait, a busy one makes fewer requests (the status handler's batch of ten updates
 * publishes its events in one request instead of ten; an agent's updates for several tasks go together).
 *
 * A sender made with `gatherTurn` (the agent's) does not send an idle queue's first message at once but at the end of
 * the event loop's turn (setImmediate, no timer): what else is handed over in that turn goes with it. An agent's
 * updates become ready together (a receive's launches, a bunch of acknowledgements), and without it the first went
 * alone and the rest in a second request. A fixed linger would add its wait to every update (a 3 ms one cost
 * throughput).
 *
 * Order: batches to a queue go one after another, so a caller that awaits one send before the next keeps its
 * order, and one call's messages keep theirs: once one of a call's messages failed, the rest of that call are not
 * sent (a FIFO group must not skip a message). Each caller's promise settles with its own messages: it rejects
 * when SQS refused any of them, or with the request's error when the whole request failed.
 */
import type { SendMessageBatchRequestEntry } from '@aws-sdk/client-sqs';

/** A batch entry without its Id (the sender numbers each request's entries). */
export type BatchEntry = Omit<SendMessageBatchRequestEntry, 'Id'>;

/** Sends one request; resolves with the refusals by entry index (SQS's Failed list). */
export type SendBatch = (url: string, entries: readonly BatchEntry[]) => Promise<ReadonlyMap<number, string>>;

export const SQS_MAX_BATCH = 10;
/** SQS's bound on a whole SendMessageBatch request's payload. */
export const MAX_BATCH_BYTES = 256 * 1024;

interface Waiting {
  readonly entry: BatchEntry;
  readonly bytes: number;
  readonly settle: (outcome: { readonly refused?: string; readonly error?: unknown }) => void;
  /** Whether one of this call's messages failed already. */
  readonly failed: () => boolean;
}

interface Lane {
  readonly waiting: Waiting[];
  flying: boolean;
  /** A send is due at the end of this turn (gatherTurn). */
  due: boolean;
}

export interface BatchSenderOptions {
  /** An idle queue's first request waits for the end of the event loop's turn (see above). */
  readonly gatherTurn?: boolean;
}

/** The bytes SQS counts for an entry: its body and its attributes' names and values. */
export function entryBytes(entry: BatchEntry): number {
  let bytes = Buffer.byteLength(entry.MessageBody ?? '');
  for (const [name, value] of Object.entries(entry.MessageAttributes ?? {})) {
    bytes +=
      Buffer.byteLength(name) + Buffer.byteLength(value.DataType ?? '') + Buffer.byteLength(value.StringValue ?? '');
  }
  return bytes;
}

/** The next request's entries: the oldest waiting, up to 10 and 256 KiB (always at least one). */
export function nextBatch<T extends { readonly bytes: number }>(waiting: readonly T[]): T[] {
  const batch: T[] = [];
  let bytes = 0;
  for (const each of waiting) {
    if (batch.length === SQS_MAX_BATCH || (batch.length > 0 && bytes + each.bytes > MAX_BATCH_BYTES)) break;
    batch.push(each);
    bytes += each.bytes;
  }
  return batch;
}

export class BatchSender {
  private readonly lanes = new Map<string, Lane>();

  constructor(
    private readonly sendBatch: SendBatch,
    private readonly options: BatchSenderOptions = {},
  ) {}

  /** Sends `entries` to `url` in order; resolves when SQS took them all. */
  send(url: string, entries: readonly BatchEntry[]): Promise<void> {
    if (entries.length === 0) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      let left = entries.length;
      let refused = 0;
      let firstRefusal: string | undefined;
      let error: unknown;
      const failed = () => error !== undefined || refused > 0;
      const settle: Waiting['settle'] = (outcome) => {
        if (outcome.error !== undefined) error ??= outcome.error;
        if (outcome.refused !== undefined) {
          refused++;
          firstRefusal ??= outcome.refused;
        }
        if (--left > 0) return;
        if (error !== undefined) reject(error instanceof Error ? error : new Error(String(error)));
        else if (refused > 0) reject(new Error(`SQS refused ${refused} message(s) to ${url}: ${firstRefusal}`));
        else resolve();
      };
      let lane = this.lanes.get(url);
      if (!lane) {
        lane = { waiting: [], flying: false, due: false };
        this.lanes.set(url, lane);
      }
      for (const entry of entries) lane.waiting.push({ entry, bytes: entryBytes(entry), settle, failed });
      if (this.options.gatherTurn && !lane.flying && !lane.due) {
        const due = lane;
        due.due = true;
        setImmediate(() => {
          due.due = false;
          this.pump(url, due);
        });
      } else {
        this.pump(url, lane);
      }
    });
  }

  private pump(url: string, lane: Lane): void {
    if (lane.flying || lane.due) return;
    for (const dropped of lane.waiting.filter((each) => each.failed())) {
      dropped.settle({ refused: 'not sent: an earlier message of the same call failed' });
    }
    lane.waiting.splice(0, lane.waiting.length, ...lane.waiting.filter((each) => !each.failed()));
    if (lane.waiting.length === 0) {
      this.lanes.delete(url);
      return;
    }
    const batch = nextBatch(lane.waiting);
    lane.waiting.splice(0, batch.length);
    lane.flying = true;
    let sent: Promise<ReadonlyMap<number, string>>;
    try {
      sent = this.sendBatch(
        url,
        batch.map((each) => each.entry),
      );
    } catch (error) {
      sent = Promise.reject(error);
    }
    void sent
      .then(
        (refusals) =>
          batch.forEach((each, i) => {
            const refused = refusals.get(i);
            each.settle(refused === undefined ? {} : { refused });
          }),
        (error: unknown) => batch.forEach((each) => each.settle({ error })),
      )
      .finally(() => {
        lane.flying = false;
        this.pump(url, lane);
      });
  }
}
