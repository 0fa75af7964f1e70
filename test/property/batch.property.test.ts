import type { SQSRecord } from 'aws-lambda';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { processInOrder } from '#shared/queues/batch.js';

function record(messageId: string, group: string | undefined): SQSRecord {
  return {
    messageId,
    receiptHandle: messageId,
    body: '{}',
    attributes: {
      ApproximateReceiveCount: '1',
      SentTimestamp: '0',
      SenderId: 'test',
      ApproximateFirstReceiveTimestamp: '0',
      ...(group !== undefined ? { MessageGroupId: group } : {}),
    },
    messageAttributes: {},
    md5OfBody: '',
    eventSource: 'aws:sqs',
    eventSourceARN: 'arn:aws:sqs:local:000000000000:q',
    awsRegion: 'local',
  };
}

const batches = fc.array(
  fc.record({ group: fc.option(fc.constantFrom('a', 'b', 'c'), { nil: undefined }), fails: fc.boolean() }),
  { maxLength: 10 },
);

describe('processInOrder', () => {
  it('keeps each group in order, stops a group at its first failure, and handles the rest', async () => {
    await fc.assert(
      fc.asyncProperty(batches, async (specs) => {
        const records = specs.map((spec, i) => record(`m${i}`, spec.group));
        const handled: string[] = [];
        const response = await processInOrder(
          records,
          async (r) => {
            await new Promise((resolve) => setTimeout(resolve, Math.random() * 2));
            handled.push(r.messageId);
            if (specs[Number(r.messageId.slice(1))]?.fails) throw new Error('no');
          },
          () => undefined,
        );
        const reported = response.batchItemFailures.map((f) => f.itemIdentifier);
        for (const [i, spec] of specs.entries()) {
          const id = `m${i}`;
          const earlierFailed =
            spec.group !== undefined && specs.slice(0, i).some((s) => s.group === spec.group && s.fails);
          // Skipped after an earlier failure of its group; otherwise handled, and reported if it failed.
          expect(handled.includes(id)).toBe(!earlierFailed);
          expect(reported.includes(id)).toBe(earlierFailed || spec.fails);
        }
        for (const group of ['a', 'b', 'c']) {
          const order = handled.filter((id) => records[Number(id.slice(1))]?.attributes.MessageGroupId === group);
          expect(order).toEqual([...order].sort((x, y) => Number(x.slice(1)) - Number(y.slice(1))));
        }
        expect(reported).toEqual([...reported].sort((x, y) => Number(x.slice(1)) - Number(y.slice(1))));
      }),
      { numRuns: 200 },
    );
  });

  it('does not hold one group behind another', async () => {
    let release: () => void = () => undefined;
    const slow = new Promise<void>((resolve) => (release = resolve));
    const handled: string[] = [];
    const done = processInOrder(
      [record('slow', 'a'), record('fast', 'b')],
      async (r) => {
        if (r.messageId === 'slow') await slow;
        handled.push(r.messageId);
      },
      () => undefined,
    );
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(handled).toEqual(['fast']);
    release();
    expect((await done).batchItemFailures).toEqual([]);
    expect(handled).toEqual(['fast', 'slow']);
  });
});
