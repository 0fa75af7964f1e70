/**
 * The status handler: a middy SQS batch handler over the status FIFO queue (ARCHITECTURE flow 6), with
 * partial batch failures (a failed update holds back the later ones of its task, keeping their order).
 */
import middy from '@middy/core';
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { AgentMessageSchema } from '../shared/protocol/internal.js';
import type { Master } from '../shared/master/master.js';
import { handleAgentMessage } from '../shared/master/status-updates.js';
import { processInOrder } from '../shared/queues/batch.js';

export function createStatusHandler(master: Master) {
  return middy(async (event: SQSEvent): Promise<SQSBatchResponse> =>
    processInOrder(
      event.Records,
      async (record) => {
        let body: unknown;
        try {
          body = JSON.parse(record.body);
        } catch {
          body = undefined;
        }
        const parsed = AgentMessageSchema.safeParse(body);
        if (!parsed.success) {
          // Malformed: retrying cannot help. Drop it loudly.
          master.logger.error('Dropping a malformed agent message', { messageId: record.messageId });
          master.metrics.increment('master/invalid_status_updates');
          return;
        }
        await handleAgentMessage(master, parsed.data);
      },
      (record, error) =>
        master.logger.warn('Status update failed; SQS will redeliver it', {
          messageId: record.messageId,
          error: String(error),
        }),
    ),
  );
}
