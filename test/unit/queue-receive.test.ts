/**
 * Queues.receive against SQS, which no test here can reach: one long poll for up to `max` messages (one billed
 * request; test/contract/queues.test.ts has the stand-in's side). A client that records the requests and answers as
 * SQS would stands in for SQS.
 */
import { ReceiveMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { describe, expect, it } from 'vitest';
import { Queues } from '#shared/queues/queues.js';

const SQS_URL = 'https://sqs.us-east-1.amazonaws.com/123456789012/prod-agent-0123456789abcdef01234567.fifo';

function sqs(waiting: number) {
  const requests: Array<{ max?: number; wait?: number }> = [];
  const client = {
    send: (command: unknown) => {
      if (!(command instanceof ReceiveMessageCommand)) throw new Error('only receives are expected');
      const max = command.input.MaxNumberOfMessages ?? 1;
      requests.push({ max, wait: command.input.WaitTimeSeconds });
      const count = Math.min(max, waiting);
      waiting -= count;
      return Promise.resolve({
        Messages: Array.from({ length: count }, (_, i) => ({
          MessageId: `m${i}`,
          ReceiptHandle: `r${i}`,
          Body: '{}',
          Attributes: { ApproximateReceiveCount: '1' },
        })),
      });
    },
  };
  return { requests, queues: new Queues(client as unknown as SQSClient) };
}

describe('receiving from SQS', () => {
  it('takes up to max messages in one long poll', async () => {
    const { requests, queues } = sqs(12);
    expect(await queues.receive(SQS_URL, { waitSeconds: 20, max: 10 })).toHaveLength(10);
    expect(requests).toEqual([{ max: 10, wait: 20 }]);
  });

  it('asks once when the queue is empty, and never for more than SQS allows', async () => {
    const { requests, queues } = sqs(0);
    expect(await queues.receive(SQS_URL, { waitSeconds: 20, max: 50 })).toEqual([]);
    expect(requests).toEqual([{ max: 10, wait: 20 }]);
  });
});
