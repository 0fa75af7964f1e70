/**
 * Processing a batch of queue messages by FIFO message group: the messages of one group one after
 * another, in order, stopping the group at its first failure (handling the rest would break its
 * order); different groups — and messages without one — concurrently, as Lambda's FIFO event source
 * spreads groups over invocations. `processInOrder` is the Lambda shape (ReportBatchItemFailures);
 * the agent's command loop uses `inGroups` directly. Malformed messages are dropped by the caller's
 * `handle` (returning normally), not retried forever. Each record is handled in the log scope of the ids its
 * message attributes carry (shared/queues/attributes.ts).
 */
import type { SQSBatchResponse, SQSRecord } from 'aws-lambda';
import { inLogContext } from '../log-context.js';
import { fromMessageAttributes } from './attributes.js';

/** Handles `items` by group; returns those that failed or were skipped behind a failure of their group. */
export async function inGroups<T>(
  items: readonly T[],
  groupOf: (item: T) => string | undefined,
  handle: (item: T) => Promise<void>,
  onError: (item: T, error: unknown) => void,
): Promise<Set<T>> {
  const groups = new Map<unknown, T[]>();
  for (const item of items) {
    // An item without a group is a group of its own.
    const key = groupOf(item) ?? Symbol('ungrouped');
    const group = groups.get(key);
    if (group) group.push(item);
    else groups.set(key, [item]);
  }
  const failed = new Set<T>();
  await Promise.all(
    [...groups.values()].map(async (group) => {
      let broken = false;
      for (const item of group) {
        if (broken) {
          failed.add(item);
          continue;
        }
        try {
          await handle(item);
        } catch (error) {
          onError(item, error);
          failed.add(item);
          broken = true;
        }
      }
    }),
  );
  return failed;
}

export async function processInOrder(
  records: readonly SQSRecord[],
  handle: (record: SQSRecord) => Promise<void>,
  onError: (record: SQSRecord, error: unknown) => void,
): Promise<SQSBatchResponse> {
  const ids = (record: SQSRecord) => fromMessageAttributes(record.messageAttributes);
  const failed = await inGroups(
    records,
    (record) => record.attributes.MessageGroupId,
    (record) => inLogContext(ids(record), () => handle(record)),
    (record, error) => inLogContext(ids(record), () => onError(record, error)),
  );
  // Reported in the batch's order.
  return {
    batchItemFailures: records.filter((r) => failed.has(r)).map((r) => ({ itemIdentifier: r.messageId })),
  };
}
