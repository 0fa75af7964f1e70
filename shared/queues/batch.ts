/**
 * Processing an SQS batch the way Lambda expects with ReportBatchItemFailures. Records of one FIFO
 * message group are handled one after another, in order; a record that fails is reported, and so is
 * every later record of its group (handling them would break the group's order). Different groups —
 * and records without one — are independent and are handled concurrently, as Lambda's FIFO event
 * source would spread them over invocations. Malformed records are dropped by the caller's `handle`
 * (returning normally), not retried forever.
 */
import type { SQSBatchResponse, SQSRecord } from 'aws-lambda';

export async function processInOrder(
  records: readonly SQSRecord[],
  handle: (record: SQSRecord) => Promise<void>,
  onError: (record: SQSRecord, error: unknown) => void,
): Promise<SQSBatchResponse> {
  const groups = new Map<string, SQSRecord[]>();
  for (const [index, record] of records.entries()) {
    const key = record.attributes.MessageGroupId ?? `\u0000${index}`;
    const group = groups.get(key);
    if (group) group.push(record);
    else groups.set(key, [record]);
  }
  const failed = new Set<string>();
  await Promise.all(
    [...groups.values()].map(async (group) => {
      let broken = false;
      for (const record of group) {
        if (broken) {
          failed.add(record.messageId);
          continue;
        }
        try {
          await handle(record);
        } catch (error) {
          onError(record, error);
          failed.add(record.messageId);
          broken = true;
        }
      }
    }),
  );
  // Reported in the batch's order.
  return {
    batchItemFailures: records.filter((r) => failed.has(r.messageId)).map((r) => ({ itemIdentifier: r.messageId })),
  };
}
