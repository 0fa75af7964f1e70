/**
 * The status handler: a middy SQS batch handler over the status FIFO queue (functions/master/status-updates.ts), with
 * partial batch failures (a failed update holds back the later ones of its task, keeping their order);
 * the resources a batch frees are announced to the allocator with one trigger. Each update is handled (and logged)
 * under the ids its message carries (shared/queues/batch.ts).
 */
import middy from '@middy/core';
import { CoalescedTriggers } from '../allocation/triggers.js';
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { AgentMessageSchema, parseMessageBody } from '#shared/protocol/internal.js';
import type { Master } from '../master/master.js';
import { handleAgentMessage } from '../master/status-updates.js';
import { processInOrder } from '#shared/queues/batch.js';

export function createStatusHandler(master: Master) {
  return middy(async (event: SQSEvent): Promise<SQSBatchResponse> => {
    // One allocation trigger for the resources a whole batch recovers.
    const triggers = new CoalescedTriggers(master.allocation);
    const batch: Master = { ...master, allocation: triggers };
    const response = await processInOrder(
      event.Records,
      async (record) => {
        const message = parseMessageBody(AgentMessageSchema, record.body);
        if (!message) {
          // Malformed: retrying cannot help. Drop it loudly.
          master.logger.error('Dropping a malformed agent message', { messageId: record.messageId });
          master.metrics.increment('master/invalid_status_updates');
          return;
        }
        master.logger.debug('Agent message received', {
          type: message.type,
          ...(message.type === 'STATUS_UPDATE' ? { state: message.status.state } : {}),
        });
        // SQS stamps the sender: on EC2, the role session of the sending instance.
        await handleAgentMessage(batch, message, record.attributes.SenderId);
      },
      (record, error) =>
        master.logger.warn('Status update failed; SQS will redeliver it', {
          messageId: record.messageId,
          error: String(error),
        }),
    );
    // Not worth redelivering the batch for: the periodic pass offers the resources anyway.
    await triggers.flush().catch((error: unknown) => {
      master.metrics.increment('master/allocation_trigger_errors');
      master.logger.error('Sending the allocation trigger failed', { error: String(error) });
    });
    return response;
  });
}
