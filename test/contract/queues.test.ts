import { randomBytes } from 'node:crypto';
import { GetQueueAttributesCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { afterAll, describe, expect, it } from 'vitest';
import { queueNames, Queues, validateClusterName } from '#shared/queues/queues.js';
import { startEventSource, toSqsRecord } from '../../local/event-source.js';
import { withLogContext } from '#shared/log-context.js';
import { standInClients } from '../support/aws.js';

const clients = standInClients();
const queues = new Queues(clients.sqs);
afterAll(() => clients.destroy());

const unique = () => `q${randomBytes(4).toString('hex')}`;

async function until(condition: () => boolean | Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('queue names', () => {
  it('fit SQS limits for long ids, and cluster names are checked', () => {
    const id = `${'a'.repeat(36)}-S${'b'.repeat(30)}`;
    expect(queueNames.agentCommands('mantle-production-cluster-00001', id).length).toBeLessThanOrEqual(80);
    expect(queueNames.frameworkEvents('c', id)).toMatch(/^c-fw-[0-9a-f]{24}\.fifo$/);
    expect(queueNames.deadLetter('c-status.fifo')).toBe('c-status-dlq.fifo');
    const named = queueNames.frameworkDelivery('mantle-production-cluster-00001', 'team-a', 'x'.repeat(40));
    expect(queueNames.deadLetter(named).length).toBeLessThanOrEqual(80);
    expect(queueNames.frameworkDelivery('c', '', 'jobs')).toMatch(/^c-fwq-[0-9a-f]{24}\.fifo$/);
    // The principal namespaces the name: the same name under two principals is two queues.
    expect(queueNames.frameworkDelivery('c', 'a', 'jobs')).not.toBe(queueNames.frameworkDelivery('c', 'b', 'jobs'));
    expect(validateClusterName('mantle')).toBeUndefined();
    expect(validateClusterName('Mantle_1')).toMatch(/must be/);
  });
});

describe('the queue helper', () => {
  it('keeps FIFO order per group and drops duplicates', async () => {
    const url = await queues.ensure(`${unique()}.fifo`);
    expect(await queues.ensure(`${url.split('/').at(-1)}`)).toBe(url);
    await queues.send(
      url,
      Array.from({ length: 12 }, (_, i) => ({ body: { i }, groupId: 'g', deduplicationId: `d${i}` })),
    );
    await queues.send(url, [{ body: { i: 0 }, groupId: 'g', deduplicationId: 'd0' }]); // duplicate
    const seen: number[] = [];
    for (;;) {
      const batch = await queues.receive(url, { waitSeconds: 1 });
      if (batch.length === 0) break;
      seen.push(...batch.map((m) => (JSON.parse(m.body) as { i: number }).i));
      expect(batch.every((m) => m.groupId === 'g' && m.receiveCount === 1)).toBe(true);
      await queues.delete(
        url,
        batch.map((m) => m.receiptHandle),
      );
    }
    expect(seen).toEqual(Array.from({ length: 12 }, (_, i) => i));
  });

  it('uses a queue that exists as it is, whatever its attributes (one the CDK stack created)', async () => {
    const name = `${unique()}.fifo`;
    const url = await new Queues(clients.sqs).ensure(name, { visibilityTimeoutSeconds: 120 });
    // Another handler (a cold cache) ensures it with other attributes and a dead-letter queue: no failure, no change.
    const again = await new Queues(clients.sqs).ensure(name, { visibilityTimeoutSeconds: 30, maxReceiveCount: 3 });
    expect(again).toBe(url);
    const attributes = await clients.sqs.send(
      new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['VisibilityTimeout', 'RedrivePolicy'] }),
    );
    expect(attributes.Attributes?.VisibilityTimeout).toBe('120');
    expect(attributes.Attributes?.RedrivePolicy).toBeUndefined();
  });

  it('returns as soon as a message arrives during a long wait', async () => {
    const url = await queues.ensure(unique());
    setTimeout(() => void queues.send(url, [{ body: 'late' }]), 300);
    const started = Date.now();
    const batch = await queues.receive(url, { waitSeconds: 20 });
    expect(batch.map((m) => m.body)).toEqual(['"late"']);
    // Well before the wait's end, with room for a loaded machine's slow send.
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it('answers a long poll at once with what is there, and a short poll at once with nothing', async () => {
    const url = await queues.ensure(unique());
    await queues.send(url, [{ body: 1 }, { body: 2 }, { body: 3 }]);
    const started = Date.now();
    // Three of the ten asked for are there: SQS answers with them rather than waiting for the rest.
    const batch = await queues.receive(url, { waitSeconds: 10, max: 10 });
    expect(batch.map((m) => m.body).sort()).toEqual(['1', '2', '3']);
    expect(await queues.receive(url, { waitSeconds: 0 })).toEqual([]);
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('answers a receive waiting when a batch is sent with the whole batch, not its first message', async () => {
    const url = await queues.ensure(unique());
    const waiting = queues.receive(url, { waitSeconds: 20, max: 10 });
    // Let the receive reach the stand-in and wait (were it slower, it would find all three visible: right too).
    await new Promise((resolve) => setTimeout(resolve, 200));
    await queues.send(url, [{ body: 1 }, { body: 2 }, { body: 3 }]);
    expect((await waiting).map((m) => m.body).sort()).toEqual(['1', '2', '3']);
  });

  it("wakes a waiting receive when a message's visibility timeout runs out", async () => {
    const url = await queues.ensure(unique());
    await queues.send(url, [{ body: 'again' }]);
    const [first] = await queues.receive(url, { waitSeconds: 1, visibilityTimeoutSeconds: 1 });
    expect(first?.body).toBe('"again"');
    const started = Date.now();
    const again = await queues.receive(url, { waitSeconds: 10 });
    expect(again.map((m) => m.receiveCount)).toEqual([2]);
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('delays messages (timers) and hands released messages back at once', async () => {
    const url = await queues.ensure(unique());
    const sent = Date.now();
    await queues.send(url, [{ body: 'later', delaySeconds: 2 }]);
    // Not before its delay. (Asserting the first receive empty would fail when, on a loaded machine, it reaches the
    // queue over a second after the send.)
    let later = await queues.receive(url, { waitSeconds: 1 });
    if (later.length === 0) later = await queues.receive(url, { waitSeconds: 3 });
    expect(Date.now() - sent).toBeGreaterThanOrEqual(2_000);
    expect(later.map((m) => m.body)).toEqual(['"later"']);
    await queues.release(
      url,
      later.map((m) => m.receiptHandle),
    );
    const again = await queues.receive(url, { waitSeconds: 1 });
    // 2 on SQS; the stand-in also counts the visibility change (docs/local-cluster.md, "The stand-in's quirks").
    expect(again[0]?.receiveCount).toBeGreaterThanOrEqual(2);
  });
});

describe('the Lambda-style event source', () => {
  it('deletes what the handler did, redelivers what failed, and redrives poison to the DLQ', async () => {
    const name = unique();
    const url = await queues.ensure(name, { visibilityTimeoutSeconds: 1, maxReceiveCount: 2 });
    const dlq = await queues.ensure(queueNames.deadLetter(name));
    const attempts = new Map<string, number>();
    const handled: string[] = [];
    const source = startEventSource({
      queues,
      queueUrl: url,
      queueArn: await queues.arn(url),
      batchSize: 10,
      handler: async (event: SQSEvent): Promise<SQSBatchResponse> => {
        const failures = [];
        for (const record of event.Records) {
          const body = JSON.parse(record.body) as string;
          attempts.set(body, (attempts.get(body) ?? 0) + 1);
          if (body === 'poison' || (body === 'flaky' && attempts.get(body) === 1)) {
            failures.push({ itemIdentifier: record.messageId });
          } else {
            handled.push(body);
          }
        }
        return { batchItemFailures: failures };
      },
    });
    try {
      await queues.send(url, [{ body: 'ok-1' }, { body: 'flaky' }, { body: 'poison' }, { body: 'ok-2' }]);
      await until(() => handled.length === 3);
      expect(handled.sort()).toEqual(['flaky', 'ok-1', 'ok-2']);
      await until(async () => (await queues.receive(dlq, { waitSeconds: 1 })).length === 1);
      expect(attempts.get('poison')).toBe(2);
      expect(source.invocations()).toBeGreaterThanOrEqual(2);
    } finally {
      await source.stop();
    }
  });

  it('holds a FIFO group while a batch of it is in flight, and runs other groups beside it (pollers)', async () => {
    const url = await queues.ensure(`${unique()}.fifo`, { visibilityTimeoutSeconds: 30 });
    const inFlight = new Map<string, number>();
    const order: string[] = [];
    let overlappedGroups = false;
    let overlappedSameGroup = false;
    const source = startEventSource({
      queues,
      queueUrl: url,
      queueArn: await queues.arn(url),
      batchSize: 1,
      pollers: 3,
      handler: async (event: SQSEvent) => {
        const record = event.Records[0] as SQSEvent['Records'][number];
        const group = record.attributes.MessageGroupId as string;
        if ((inFlight.get(group) ?? 0) > 0) overlappedSameGroup = true;
        if ([...inFlight.values()].some((n) => n > 0)) overlappedGroups = true;
        inFlight.set(group, (inFlight.get(group) ?? 0) + 1);
        await new Promise((resolve) => setTimeout(resolve, 150));
        order.push(JSON.parse(record.body) as string);
        inFlight.set(group, (inFlight.get(group) ?? 0) - 1);
        return { batchItemFailures: [] };
      },
    });
    try {
      const messages = ['a1', 'b1', 'a2', 'b2', 'a3', 'b3'].map((body, i) => ({
        body,
        groupId: body[0] as string,
        deduplicationId: `d${i}`,
      }));
      await queues.send(url, messages);
      await until(() => order.length === 6);
      expect(order.filter((body) => body.startsWith('a'))).toEqual(['a1', 'a2', 'a3']);
      expect(order.filter((body) => body.startsWith('b'))).toEqual(['b1', 'b2', 'b3']);
      expect(overlappedSameGroup).toBe(false);
      expect(overlappedGroups).toBe(true);
    } finally {
      await source.stop();
    }
  });

  it('waits on an idle queue with one poller at a time, and brings them all in for a backlog', async () => {
    const url = await queues.ensure(unique());
    let receives = 0;
    const counted = Object.create(queues) as Queues;
    counted.receive = (...args) => {
      receives++;
      return queues.receive(...args);
    };
    let running = 0;
    let most = 0;
    let handled = 0;
    // Each batch is held until four are in hand at once (or 10 s, for a source that never gets there): a fixed hold
    // was shorter than the pollers' wake-ups, one receive after the other, take on a loaded machine.
    let allIn: () => void = () => undefined;
    const fourAtOnce = new Promise<void>((resolve) => (allIn = resolve));
    const source = startEventSource({
      queues: counted,
      queueUrl: url,
      queueArn: await queues.arn(url),
      batchSize: 2,
      pollers: 4,
      handler: async (event: SQSEvent) => {
        most = Math.max(most, ++running);
        if (most === 4) allIn();
        await Promise.race([fourAtOnce, new Promise((resolve) => setTimeout(resolve, 10_000))]);
        running--;
        handled += event.Records.length;
        return { batchItemFailures: [] };
      },
    });
    try {
      // The four first receives, then one a second (waits of 1 s) where each poller made one a second.
      await new Promise((resolve) => setTimeout(resolve, 3500));
      expect(receives).toBeGreaterThanOrEqual(5);
      expect(receives).toBeLessThanOrEqual(8);
      await queues.send(
        url,
        Array.from({ length: 16 }, (_, i) => ({ body: `m${i}` })),
      );
      await until(() => handled === 16);
      expect(most).toBe(4);
    } finally {
      await source.stop();
    }
  });

  it("gathers a batch over several receives within a batching window (the heartbeats' event source in AWS)", async () => {
    const url = await queues.ensure(unique());
    const message = (i: number) => ({ body: `beat-${i}` });
    await queues.send(
      url,
      Array.from({ length: 25 }, (_, i) => message(i)),
    );
    const batches: number[] = [];
    const source = startEventSource({
      queues,
      queueUrl: url,
      queueArn: await queues.arn(url),
      batchSize: 40,
      batchingWindowSeconds: 2,
      handler: async (event: SQSEvent) => {
        batches.push(event.Records.length);
        return { batchItemFailures: [] };
      },
    });
    try {
      // Ten more arrive within the window: one invocation of 35 (one receive brings at most 10).
      await new Promise((resolve) => setTimeout(resolve, 500));
      await queues.send(
        url,
        Array.from({ length: 10 }, (_, i) => message(25 + i)),
      );
      await until(() => batches.length > 0);
      expect(batches).toEqual([35]);
      // The batch was deleted whole: nothing comes back.
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect(await queues.depth(url)).toBe(0);
    } finally {
      await source.stop();
    }
  });

  it('takes a FIFO receipt that expired (the message comes back) as not its to delete', async () => {
    const url = await queues.ensure(`${unique()}.fifo`, { visibilityTimeoutSeconds: 1 });
    await queues.send(url, [{ body: 'late', groupId: 'g', deduplicationId: 'late' }]);
    const [first] = await queues.receive(url, { waitSeconds: 1 });
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    await expect(queues.delete(url, [first?.receiptHandle as string])).resolves.toBeUndefined();
    const again = await queues.receive(url, { waitSeconds: 2 });
    expect(again.map((message) => JSON.parse(message.body) as string)).toEqual(['late']);
  });
});

describe('the ids a message carries (message attributes)', () => {
  it("sends the sender's scope and the message's own ids, and the stand-in keeps them as SQS does", async () => {
    const url = await queues.ensure(`${unique()}.fifo`);
    await withLogContext({ correlation_id: 'req-7', task_id: 'from-scope' }, () =>
      queues.send(url, [
        { body: { n: 1 }, groupId: 'g', deduplicationId: 'd1', context: { framework_id: 'f', task_id: 't' } },
      ]),
    );
    // An older sender: no attributes at all.
    await clients.sqs.send(
      new SendMessageCommand({
        QueueUrl: url,
        MessageBody: '{"n":2}',
        MessageGroupId: 'g',
        MessageDeduplicationId: 'd2',
      }),
    );
    // A receive answers with what is visible when it looks (SQS may answer with one of two, too): take both.
    const received = await queues.receive(url, { waitSeconds: 1, max: 10 });
    if (received.length < 2) received.push(...(await queues.receive(url, { waitSeconds: 1, max: 10 })));
    expect(received.map((message) => message.context)).toEqual([
      { correlation_id: 'req-7', framework_id: 'f', task_id: 't' },
      {},
    ]);
    const [record] = received.map((message) => toSqsRecord(message, 'arn:aws:sqs:local:0:q', 'local'));
    expect(record?.messageAttributes.correlation_id).toMatchObject({ stringValue: 'req-7', dataType: 'String' });
  });
});
