/**
 * Processing an SQS batch the way Lambda expects with ReportBatchItemFailures: each record in order;
 * a record that fails is reported, and so is every later record of the same FIFO message group
 * (processing them would break the group's order). Records that are malformed are dropped by the
 * caller's `handle` (returning normally), not retried forever.
 */
import type { SQSBatchResponse, SQSRecord } from 'aws-lambda';

export async function processInOrder(
  records: readonly SQSRecord[],
  handle: (record: SQSRecord) => Promise<void>,
  onError: (record: SQSRecord, error: unknown) => void,
): Promise<SQSBatchResponse> {
  const failedGroups = new Set<string>();
  const failures: { itemIdentifier: string }[] = [];
  for (const record of records) {
    const group = record.attributes.MessageGroupId;
    if (group !== undefined && failedGroups.has(group)) {
      failures.push({ itemIdentifier: record.messageId });
      continue;
    }
    try {
      await handle(record);
    } catch (error) {
      onError(record, error);
      failures.push({ itemIdentifier: record.messageId });
      if (group !== undefined) failedGroups.add(group);
    }
  }
  return { batchItemFailures: failures };
}
