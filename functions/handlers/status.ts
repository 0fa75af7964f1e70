/**
 * The status handler: a middy SQS batch handler over the status FIFO queue (functions/master/status-updates.ts), with
 * partial batch failures (a failed update holds back the later ones of its task, keeping their order). A batch is
 * applied update by update, then its resources freed, an agent's in one write, and its updates forwarded, a
 * framework's in one send; the resources a batch frees are announced to the allocator with one trigger. Each update is handled (and logged)
 * under the ids its message carries (shared/queues/batch.ts).
 */
import middy from '@middy/core';
import { CoalescedTriggers } from '../allocation/triggers.js';
import type { SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { inLogContext } from '#shared/log-context.js';
import { AgentMessageSchema, parseMessageBody, type AgentMessage } from '#shared/protocol/internal.js';
import { fromMessageAttributes } from '#shared/queues/attributes.js';
import { processInOrder } from '#shared/queues/batch.js';
import type { Master } from '../master/master.js';
import { AgentMessageBatch } from '../master/status-updates.js';

export function createStatusHandler(master: Master) {
  return middy(async (event: SQSEvent): Promise<SQSBatchResponse> => {
    // One allocation trigger for the resources a whole batch recovers.
    const triggers = new CoalescedTriggers(master.allocation);
    const batch = new AgentMessageBatch<SQSRecord>({ ...master, allocation: triggers });
    const messages = new Map<SQSRecord, AgentMessage>();
    for (const record of event.Records) {
      const message = parseMessageBody(AgentMessageSchema, record.body);
      if (message) messages.set(record, message);
      else {
        // Malformed: retrying cannot help. Drop it loudly.
        master.logger.error('Dropping a malformed agent message', { messageId: record.messageId });
        master.metrics.increment('master/invalid_status_updates');
      }
    }
    const failedToRedeliver = (record: SQSRecord, error: unknown) =>
      master.logger.warn('Status update failed; SQS will redeliver it', {
        messageId: record.messageId,
        error: String(error),
      });
    // The batch's changes of task states are counted in one write at its end (not one per update).
    const failed = await master.registrar.counters.batched(async () => {
      // The batch's task rows in one read; a failure here only means each update reads its own.
      await batch.preload([...messages.values()]).catch((error: unknown) => {
        master.logger.warn("Reading the batch's tasks failed; each update reads its own", { error: String(error) });
      });
      const applied = await processInOrder(
        event.Records,
        async (record) => {
          const message = messages.get(record);
          if (!message) return;
          master.logger.debug('Agent message received', {
            type: message.type,
            ...(message.type === 'STATUS_UPDATE' ? { state: message.status.state } : {}),
          });
          // SQS stamps the sender: on EC2, the role session of the sending instance.
          await batch.apply(record, message, record.attributes.SenderId);
        },
        failedToRedeliver,
      );
      const failing = new Set(
        event.Records.filter((record) =>
          applied.batchItemFailures.some((failure) => failure.itemIdentifier === record.messageId),
        ),
      );
      for (const [record, error] of await batch.finish(failing)) {
        inLogContext(fromMessageAttributes(record.messageAttributes), () => failedToRedeliver(record, error));
        failing.add(record);
      }
      return failing;
    });
    // Not worth redelivering the batch for: the periodic pass offers the resources anyway.
    await triggers.flush().catch((error: unknown) => {
      master.metrics.increment('master/allocation_trigger_errors');
      master.logger.error('Sending the allocation trigger failed', { error: String(error) });
    });
    return { batchItemFailures: heldBack(event.Records, failed).map((r) => ({ itemIdentifier: r.messageId })) };
  });
}

/** The failed records and every later one of their message groups (a group's order must hold), in batch order. */
function heldBack(records: readonly SQSRecord[], failed: ReadonlySet<SQSRecord>): SQSRecord[] {
  const broken = new Set<string>();
  return records.filter((record) => {
    const group = record.attributes.MessageGroupId;
    if (failed.has(record)) {
      if (group !== undefined) broken.add(group);
      return true;
    }
    return group !== undefined && broken.has(group);
  });
}
