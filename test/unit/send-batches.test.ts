import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  BatchSender,
  MAX_BATCH_BYTES,
  SQS_MAX_BATCH,
  entryBytes,
  nextBatch,
  type BatchEntry,
  type BatchSenderOptions,
} from '#shared/queues/send-batches.js';

/** A SendBatch that records each request and answers when told. */
function recorder(options: BatchSenderOptions = {}) {
  const requests: Array<{
    url: string;
    bodies: string[];
    answer: (refusals?: Map<number, string>) => void;
    fail: (e: unknown) => void;
  }> = [];
  const send = (url: string, entries: readonly BatchEntry[]) =>
    new Promise<ReadonlyMap<number, string>>((resolve, reject) => {
      requests.push({
        url,
        bodies: entries.map((entry) => entry.MessageBody ?? ''),
        answer: (refusals = new Map()) => resolve(refusals),
        fail: reject,
      });
    });
  return { requests, sender: new BatchSender(send, options) };
}

const entry = (body: string): BatchEntry => ({ MessageBody: body });
const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('sending in shared batches', () => {
  it('sends at once when idle, and what arrives meanwhile together in the next request', async () => {
    const { requests, sender } = recorder();
    const first = sender.send('q', [entry('a')]);
    await tick();
    expect(requests.map((r) => r.bodies)).toEqual([['a']]);
    const others = [sender.send('q', [entry('b')]), sender.send('q', [entry('c'), entry('d')])];
    const elsewhere = sender.send('other', [entry('x')]);
    await tick();
    expect(requests.map((r) => r.bodies)).toEqual([['a'], ['x']]);
    requests[0]?.answer();
    await first;
    await tick();
    expect(requests.map((r) => r.bodies)).toEqual([['a'], ['x'], ['b', 'c', 'd']]);
    requests[1]?.answer();
    requests[2]?.answer();
    await Promise.all([...others, elsewhere]);
  });

  it('rejects only the caller whose message SQS refused', async () => {
    const { requests, sender } = recorder();
    const blocker = sender.send('q', [entry('first')]);
    const ok = sender.send('q', [entry('fine')]);
    const refused = sender.send('q', [entry('bad'), entry('also fine')]);
    requests[0]?.answer();
    await blocker;
    await tick();
    requests[1]?.answer(new Map([[1, 'InvalidParameterValue too long']]));
    await expect(ok).resolves.toBeUndefined();
    await expect(refused).rejects.toThrow('SQS refused 1 message(s) to q: InvalidParameterValue too long');
  });

  it("gives every caller of a failed request that request's error, and goes on with the next", async () => {
    const { requests, sender } = recorder();
    const blocker = sender.send('q', [entry('first')]);
    const a = sender.send('q', [entry('a')]);
    const b = sender.send('q', [entry('b')]);
    const down = new Error('QueueDoesNotExist');
    requests[0]?.fail(down);
    await expect(blocker).rejects.toBe(down);
    await tick();
    requests[1]?.fail(down);
    await expect(a).rejects.toBe(down);
    await expect(b).rejects.toBe(down);
    const after = sender.send('q', [entry('c')]);
    await tick();
    requests[2]?.answer();
    await after;
    expect(requests.map((r) => r.bodies)).toEqual([['first'], ['a', 'b'], ['c']]);
  });

  it('does not send the rest of a call after one of its requests failed (a FIFO group must not skip)', async () => {
    const { requests, sender } = recorder();
    const down = new Error('ServiceUnavailable');
    const call = sender.send(
      'q',
      Array.from({ length: 12 }, (_, i) => entry(`m${i}`)),
    );
    const other = sender.send('q', [entry('other')]);
    await tick();
    requests[0]?.fail(down);
    await expect(call).rejects.toBe(down);
    await tick();
    expect(requests.map((r) => r.bodies)).toEqual([Array.from({ length: 10 }, (_, i) => `m${i}`), ['other']]);
    requests[1]?.answer();
    await other;
  });

  it('keeps every message, in the order handed over, in requests of at most 10 and 256 KiB', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.array(fc.integer({ min: 1, max: 120_000 }), { minLength: 1, maxLength: 12 }), {
          minLength: 1,
          maxLength: 8,
        }),
        async (calls) => {
          const requests: string[][] = [];
          const sender = new BatchSender(async (_url, entries) => {
            requests.push(entries.map((e) => e.MessageBody ?? ''));
            await tick();
            return new Map();
          });
          let n = 0;
          const sent = calls.map((sizes) => sizes.map((size) => `${n++}:`.padEnd(size, 'x')));
          await Promise.all(sent.map((bodies) => sender.send('q', bodies.map(entry))));
          expect(requests.flat()).toEqual(sent.flat());
          for (const request of requests) {
            expect(request.length).toBeLessThanOrEqual(SQS_MAX_BATCH);
            const bytes = request.reduce((sum, body) => sum + Buffer.byteLength(body), 0);
            if (request.length > 1) expect(bytes).toBeLessThanOrEqual(MAX_BATCH_BYTES);
          }
        },
      ),
      { numRuns: 60 },
    );
  });

  it('gathering a turn: what one turn hands over goes in one request, later turns while it flies in the next', async () => {
    const { requests, sender } = recorder({ gatherTurn: true });
    const first = [sender.send('q', [entry('a')]), sender.send('q', [entry('b')])];
    // Handed over from a callback of the same turn, as a second task's update is.
    await Promise.resolve();
    first.push(sender.send('q', [entry('c')]));
    const elsewhere = sender.send('other', [entry('x')]);
    expect(requests).toEqual([]);
    await tick();
    expect(requests.map((r) => r.bodies)).toEqual([['a', 'b', 'c'], ['x']]);
    const later = sender.send('q', [entry('d')]);
    await tick();
    expect(requests).toHaveLength(2);
    requests[0]?.answer();
    await Promise.all(first);
    // The flight's end sends at once what waited for it.
    await Promise.resolve();
    expect(requests.map((r) => r.bodies)).toEqual([['a', 'b', 'c'], ['x'], ['d']]);
    requests[1]?.answer();
    requests[2]?.answer();
    await Promise.all([later, elsewhere]);
    // Idle again: the next turn's first message waits for its turn's end once more.
    const again = sender.send('q', [entry('e')]);
    expect(requests).toHaveLength(3);
    await tick();
    requests[3]?.answer();
    await again;
  });

  it('gathering a turn: a refused entry fails its own call, a failed request all of them', async () => {
    const { requests, sender } = recorder({ gatherTurn: true });
    const calls = ['a', 'b', 'c'].map((body) => sender.send('q', [entry(body)]));
    await tick();
    requests[0]?.answer(new Map([[1, 'InternalError try again']]));
    await expect(calls[0]).resolves.toBeUndefined();
    await expect(calls[1]).rejects.toThrow('SQS refused 1 message(s) to q: InternalError try again');
    await expect(calls[2]).resolves.toBeUndefined();
    const down = new Error('ServiceUnavailable');
    const more = ['d', 'e'].map((body) => sender.send('q', [entry(body)]));
    await tick();
    requests[1]?.fail(down);
    for (const call of more) await expect(call).rejects.toBe(down);
    expect(requests.map((r) => r.bodies)).toEqual([
      ['a', 'b', 'c'],
      ['d', 'e'],
    ]);
  });

  it("counts attributes in an entry's size and always takes at least one entry", () => {
    expect(
      entryBytes({ MessageBody: 'abc', MessageAttributes: { task_id: { DataType: 'String', StringValue: 'xy' } } }),
    ).toBe(3 + 7 + 6 + 2);
    expect(nextBatch([{ bytes: MAX_BATCH_BYTES * 2 }, { bytes: 1 }])).toHaveLength(1);
  });
});
