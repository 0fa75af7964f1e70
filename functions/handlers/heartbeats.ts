/**
 * The heartbeat handler: a middy SQS handler over the heartbeat queue (functions/fleet/heartbeats.ts). A whole
 * batch is recorded in one write; a batch that fails comes back whole (heartbeats are idempotent).
 */
import middy from '@middy/core';
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { handleHeartbeats } from '../fleet/heartbeats.js';
import type { Master } from '../master/master.js';

export function createHeartbeatHandler(master: Master) {
  return middy(async (event: SQSEvent): Promise<SQSBatchResponse> => {
    const report = await handleHeartbeats(
      master,
      event.Records.map((record) => ({
        body: record.body,
        ...(record.attributes.SenderId ? { senderId: record.attributes.SenderId } : {}),
      })),
    );
    if (report.dropped > 0 || report.reregister > 0) master.logger.info('Heartbeats handled', { ...report });
    return { batchItemFailures: [] };
  });
}
