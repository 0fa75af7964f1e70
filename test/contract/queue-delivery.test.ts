/**
 * Queue-delivered frameworks (issue 12) against a real master, DynamoDB Local and the SQS stand-in: SUBSCRIBE by
 * queue answers JSON, events go to the named queue, the QueueScheduler handles them from the local event source
 * (redelivering what threw), the sweeper leaves the framework alone, TEARDOWN ends it, and with authentication on
 * a principal reaches only its own queue.
 */
import type { SQSEvent } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sweep } from '../../functions/fleet/sweeper.js';
import { publishEvents } from '../../functions/master/master.js';
import { createApp } from '../../functions/handlers/app.js';
import type { Offer, TaskStatus } from '#shared/protocol/mesos.js';
import { queueNames } from '#shared/queues/queues.js';
import { frameworkQueues } from '../../local/framework-queues.js';
import { CallError, inProcess, QueueScheduler, type QueueFramework } from '../../sdk/queue-scheduler.js';
import { post } from '../support/http.js';
import { startTestMaster, type TestMaster } from '../support/master.js';
import {
  commands,
  commandsUntil,
  commandTask,
  offer,
  registerAgent,
  resources,
  sendStatus,
  subscribe,
  uuid,
  type TestAgent,
} from '../support/scheduler.js';

const FRAMEWORK = { user: 'jobs', name: 'queue-framework', failover_timeout: 60 };

let tm: TestMaster;
let agent: TestAgent;
beforeAll(async () => {
  tm = await startTestMaster({ heartbeatIntervalSeconds: 1, reconnectGraceSeconds: 1 });
  agent = await registerAgent(tm, 'cpus:8;mem:8192');
});
afterAll(async () => tm.close());

async function until(check: () => boolean | Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function frameworkCount(): Promise<number> {
  let count = 0;
  for await (const framework of tm.master.registrar.frameworks.list()) if (framework.frameworkId) count++;
  return count;
}

function subscribeCall(info: Record<string, unknown> = FRAMEWORK) {
  return { type: 'SUBSCRIBE', subscribe: { framework_info: info } };
}

describe('SUBSCRIBE by queue', () => {
  it('answers 200 JSON with the SUBSCRIBED event, the stream id and the queue url, and records the delivery', async () => {
    const answer = await post(tm.url, subscribeCall(), { 'Mantle-Event-Delivery': 'queue; name=answers' });
    expect(answer.status).toBe(200);
    expect(answer.headers.get('content-type')).toBe('application/json');
    const event = JSON.parse(answer.body) as { type: string; subscribed: { framework_id: { value: string } } };
    expect(event.type).toBe('SUBSCRIBED');
    const frameworkId = event.subscribed.framework_id.value;
    const streamId = answer.headers.get('mesos-stream-id') as string;
    const queueUrl = answer.headers.get('mantle-event-queue-url') as string;
    expect(queueUrl.endsWith(`/${queueNames.frameworkDelivery(tm.cluster, '', 'answers')}`)).toBe(true);
    const record = await tm.master.registrar.frameworks.get(frameworkId);
    expect(record).toMatchObject({ status: 'SUBSCRIBED', delivery: 'queue', eventQueueUrl: queueUrl, streamId });

    // Resubscribing with the id keeps the framework and replaces the stream id, as Mesos does.
    const again = await post(
      tm.url,
      { ...subscribeCall({ ...FRAMEWORK, id: { value: frameworkId } }), framework_id: { value: frameworkId } },
      { 'Mantle-Event-Delivery': 'queue; name=answers' },
    );
    expect(again.status).toBe(200);
    expect(JSON.parse(again.body)).toMatchObject({ subscribed: { framework_id: { value: frameworkId } } });
    expect(again.headers.get('mesos-stream-id')).not.toBe(streamId);
    const stale = await post(
      tm.url,
      { type: 'REVIVE', framework_id: { value: frameworkId } },
      { 'Mesos-Stream-Id': streamId },
    );
    expect(stale.status).toBe(400);
  });

  it('refuses a bad header with 400 and a clear message, and creates nothing', async () => {
    const before = await frameworkCount();
    for (const header of ['queue', 'queue; name=', 'queue; name=Jobs', 'queue; name=a_b', 'stream; name=a']) {
      const answer = await post(tm.url, subscribeCall(), { 'Mantle-Event-Delivery': header });
      expect(answer.status, header).toBe(400);
      expect(answer.body, header).toMatch(/^Invalid 'Mantle-Event-Delivery' header: /);
    }
    const long = await post(tm.url, subscribeCall(), { 'Mantle-Event-Delivery': `queue; name=${'a'.repeat(41)}` });
    expect(long.body).toMatch(/1 to 40 characters/);
    const twice = await post(tm.url, subscribeCall(), { 'Mantle-Event-Delivery': 'queue; name=a; name=b' });
    expect(twice.body).toMatch(/only one 'name'/);
    expect(await frameworkCount()).toBe(before);
  });

  it('answers what Mesos says in an ERROR event as 400 plain text', async () => {
    const invalid = await post(tm.url, subscribeCall({ ...FRAMEWORK, role: 'bad role' }), {
      'Mantle-Event-Delivery': 'queue; name=refused',
    });
    expect(invalid.status).toBe(400);
    expect(invalid.body).toMatch(/role/i);
  });
});

/** A queue-delivered framework that launches one task per offer and records what it saw. */
function launcher(taskPrefix: string) {
  const seen = { offers: [] as Offer[], statuses: [] as TaskStatus[], subscribed: 0 };
  const callbacks: QueueFramework = {
    subscribed: () => void seen.subscribed++,
    async resourceOffers(scheduler, offers) {
      seen.offers.push(...offers);
      for (const made of offers) {
        const task = commandTask(`${taskPrefix}-${seen.offers.length}`, agent);
        await scheduler.launch([made.id.value], [task], 0);
      }
    },
    statusUpdate: (_scheduler, status) => void seen.statuses.push(status),
  };
  return { seen, callbacks };
}

describe('the QueueScheduler', () => {
  it('takes offers from its queue, launches through the master in process, and acknowledges updates', async () => {
    const { seen, callbacks } = launcher('q');
    const options = {
      master: 'http://master.in-process',
      fetch: inProcess(createApp(tm.master)),
      framework: FRAMEWORK,
      name: 'launcher',
    };
    let active = new QueueScheduler(callbacks, options);
    const hosted = frameworkQueues(tm.master);
    const { queueUrl } = await hosted.register({
      name: 'launcher',
      handler: (event) => active.handleRecords(event.Records),
    });
    try {
      const subscription = await active.subscribe();
      expect(subscription.queueUrl).toBe(queueUrl);
      expect(seen.subscribed).toBe(1);
      const made = await offer(tm, { frameworkId: subscription.frameworkId }, agent, 'cpus:2;mem:512');
      await until(() => seen.offers.some((o) => o.id.value === made.offerId));
      // The launch, and the acknowledgement below, is sent a moment after the callback the test waited for.
      const launched = await commandsUntil(tm, agent, (read) => read.length > 0);
      expect(launched.map((c) => c.type)).toEqual(['LAUNCH']);
      const running = uuid();
      await sendStatus(tm, agent, subscription.frameworkId, {
        task_id: { value: 'q-1' },
        state: 'TASK_RUNNING',
        uuid: running,
      });
      await until(() => seen.statuses.some((s) => s.uuid === running));
      await until(
        async () => (await tm.master.registrar.tasks.get(subscription.frameworkId, 'q-1'))?.state === 'TASK_RUNNING',
      );
      const acknowledgements = await commandsUntil(tm, agent, (read) =>
        read.some((c) => c.type === 'ACKNOWLEDGE' && c.uuid === running),
      );
      expect(acknowledgements).toContainEqual(expect.objectContaining({ type: 'ACKNOWLEDGE', uuid: running }));

      // A handler that restarted resubscribes with the framework id and reconciles: it hears of q-1 again.
      active = new QueueScheduler(callbacks, { ...options, frameworkId: subscription.frameworkId });
      const resubscribed = await active.subscribe();
      expect(resubscribed.frameworkId).toBe(subscription.frameworkId);
      expect(resubscribed.streamId).not.toBe(subscription.streamId);
      await until(() => seen.statuses.some((s) => s.task_id.value === 'q-1' && s.reason === 'REASON_RECONCILIATION'));
      await active.teardown();
      expect((await tm.master.registrar.frameworks.get(subscription.frameworkId))?.status).toBe('REMOVED');
    } finally {
      await hosted.stop();
    }
  });

  it("leaves a record that threw for the next handler run, and does not hold other tasks' updates behind it", async () => {
    let failuresLeft = 1;
    const statuses: string[] = [];
    const scheduler = new QueueScheduler(
      {
        statusUpdate(_s, status) {
          if (status.task_id.value === 'r-1' && failuresLeft-- > 0) throw new Error('handler died');
          statuses.push(`${status.task_id.value}:${status.state}`);
        },
      },
      { master: tm.url, framework: FRAMEWORK, name: 'redelivery', reconcileOnSubscribe: false },
    );
    const hosted = frameworkQueues(tm.master);
    // r-1 comes back 3 s after its receive: r-2 is received before that even when handling r-1 takes a second or two.
    await hosted.register({ name: 'redelivery', handler: scheduler.handler(), visibilityTimeoutSeconds: 3 });
    try {
      const { frameworkId } = await scheduler.subscribe();
      const made = await offer(tm, { frameworkId }, agent, 'cpus:2;mem:512');
      await post(
        tm.url,
        {
          type: 'ACCEPT',
          framework_id: { value: frameworkId },
          accept: {
            offer_ids: [{ value: made.offerId }],
            operations: [
              { type: 'LAUNCH', launch: { task_infos: [commandTask('r-1', agent), commandTask('r-2', agent)] } },
            ],
          },
        },
        { 'Mesos-Stream-Id': scheduler.streamId as string },
      );
      await commands(tm, agent, 2);
      // Reconciliation answers both tasks (TASK_STAGING), each in its task's group: r-1 throws once and comes
      // back after the visibility timeout, while r-2 is handled meanwhile.
      await scheduler.reconcile([{ taskId: 'r-1' }, { taskId: 'r-2' }]);
      await until(() => statuses.length === 2);
      expect(statuses).toEqual(['r-2:TASK_STAGING', 'r-1:TASK_STAGING']);
      expect(failuresLeft).toBe(-1);
    } finally {
      await hosted.stop();
    }
  });

  it('fails the group after a failure, drops records of another framework and non-events, and needs a subscription', async () => {
    const handled: string[] = [];
    const dropped: string[] = [];
    const scheduler = new QueueScheduler(
      {
        offerRescinded(_s, offerId) {
          if (offerId === 'boom') throw new Error('boom');
          handled.push(offerId);
        },
      },
      { master: tm.url, framework: FRAMEWORK, name: 'batches', onDropped: (_r, why) => void dropped.push(why) },
    );
    const record = (id: string, group: string, offerId: string) => ({
      messageId: id,
      body: JSON.stringify({ type: 'RESCIND', rescind: { offer_id: { value: offerId } } }),
      attributes: { MessageGroupId: group },
    });
    const batch = [record('1', 'f', 'a'), record('2', 'f', 'boom'), record('3', 'f', 'b'), record('4', 'old', 'c')];
    const notEvent = { messageId: '5', body: 'not json', attributes: { MessageGroupId: 'f' } };
    // Without a subscription, everything comes back later.
    expect((await scheduler.handleRecords(batch)).batchItemFailures).toHaveLength(4);
    scheduler.resume({ frameworkId: 'f', streamId: 's' });
    const [first, ...rest] = batch;
    const event = { Records: [first, notEvent, ...rest] } as unknown as SQSEvent;
    const response = await scheduler.handler()(event);
    expect(response.batchItemFailures).toEqual([{ itemIdentifier: '2' }, { itemIdentifier: '3' }]);
    expect(handled).toEqual(['a']);
    expect(dropped).toEqual(['not a scheduler event', 'an event of framework old, not f']);
    // After TEARDOWN nothing of the framework's can be answered: its events are dropped, not retried.
    const { frameworkId } = await scheduler.subscribe();
    await scheduler.teardown();
    dropped.length = 0;
    const late = await scheduler.handleRecords([record('6', frameworkId, 'late')]);
    expect(late.batchItemFailures).toEqual([]);
    expect(dropped).toEqual(['the framework was torn down']);
  });

  it('with concurrentUpdates, handles a run of updates one chain per task at once, each task in order', async () => {
    const started: string[] = [];
    const dropped: string[] = [];
    let bStarted: () => void = () => undefined;
    const bHasStarted = new Promise<void>((resolve) => (bStarted = resolve));
    const scheduler = new QueueScheduler(
      {
        async statusUpdate(_s, status) {
          const name = status.message ?? '';
          started.push(name);
          if (name === 'b1') bStarted();
          // a1 finishes only once b1 has begun: handled one after the other, this batch would never end.
          if (name === 'a1') await bHasStarted;
          if (name === 'b2') throw new Error('boom');
        },
        offerRescinded(_s, offerId) {
          started.push(offerId);
        },
      },
      {
        master: tm.url,
        framework: FRAMEWORK,
        name: 'concurrent',
        concurrentUpdates: true,
        autoAcknowledge: false,
        onDropped: (_r, why) => void dropped.push(why),
      },
    );
    scheduler.resume({ frameworkId: 'f', streamId: 's' });
    // As the master sends them to a queue-delivered framework: a group per task for updates (eventGroup).
    const update = (id: string, task: string, message: string, framework = 'f') => ({
      messageId: id,
      body: JSON.stringify({
        type: 'UPDATE',
        update: { status: { task_id: { value: task }, state: 'TASK_RUNNING', message } },
      }),
      attributes: { MessageGroupId: `${framework}/${task}` },
    });
    const rescind = {
      messageId: 'r',
      body: JSON.stringify({ type: 'RESCIND', rescind: { offer_id: { value: 'r' } } }),
      attributes: { MessageGroupId: 'f' },
    };
    const batch = [
      update('1', 'a', 'a1'),
      update('2', 'b', 'b1'),
      update('3', 'a', 'a2'),
      update('4', 'b', 'b2'),
      update('5', 'b', 'b3'),
      update('6', 'c', 'c1', 'old'),
      rescind,
      update('7', 'a', 'a3'),
    ];
    const response = await Promise.race([
      scheduler.handleRecords(batch),
      new Promise<never>((_, reject) => setTimeout(() => reject(new Error('handled one at a time')), 5_000)),
    ]);
    // b2 failed: b3, its task's next, comes back with it; the other groups' records stand.
    expect(response.batchItemFailures.map((f) => f.itemIdentifier).sort()).toEqual(['4', '5']);
    expect(started.filter((name) => name.startsWith('a'))).toEqual(['a1', 'a2', 'a3']);
    expect(started.filter((name) => name.startsWith('b'))).toEqual(['b1', 'b2']);
    expect(started.indexOf('r')).toBeLessThan(started.indexOf('a3'));
    expect(dropped).toEqual(['an event of framework old, not f']);
  });

  it('refuses to subscribe with a CallError the framework can read', async () => {
    const scheduler = new QueueScheduler({}, { master: tm.url, framework: { ...FRAMEWORK, user: '' }, name: 'x' });
    const error = await scheduler.subscribe().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CallError);
    expect((error as CallError).status).toBe(400);
    await expect(scheduler.revive()).rejects.toThrow(/not subscribed/);
  });

  it('gives up at once on a master without the extension, which streams instead', async () => {
    let cancelled = false;
    const endless = new ReadableStream<Uint8Array>({ cancel: () => void (cancelled = true) });
    const mesos = new QueueScheduler(
      {},
      {
        master: 'http://mesos.example:5050',
        fetch: () => Promise.resolve(new Response(endless, { status: 200, headers: { 'Mesos-Stream-Id': 's' } })),
        framework: FRAMEWORK,
        name: 'x',
      },
    );
    await expect(mesos.subscribe()).rejects.toThrow(/no Mantle-Event-Queue-Url: no queue delivery/);
    expect(cancelled).toBe(true);
  });
});

describe('liveness', () => {
  it('never deactivates a queue-delivered framework for lack of a stream; a stream framework is', async () => {
    const queued = new QueueScheduler({}, { master: tm.url, framework: FRAMEWORK, name: 'liveness' });
    const { frameworkId } = await queued.subscribe();
    const streamed = await subscribe(tm, { ...FRAMEWORK, name: 'streamed' });
    streamed.close();
    const record = await tm.master.registrar.agents.get(agent.agentId);
    if (!record) throw new Error('no agent');
    const created = await tm.master.registrar.agents.createOffers(record, [
      { frameworkId, role: '*', resources: resources('cpus:1;mem:128'), expiresAt: tm.master.now() + 5_000 },
    ]);
    const made = created.ok ? created.value.offers[0] : undefined;
    if (!made) throw new Error('no offer');
    tm.advance(3_600_000);
    for (let i = 0; i < 3; i++) await sweep(tm.master);
    expect((await tm.master.registrar.frameworks.get(frameworkId))?.status).toBe('SUBSCRIBED');
    expect((await tm.master.registrar.frameworks.get(streamed.frameworkId))?.status).not.toBe('SUBSCRIBED');
    // Its offers still expire by the offer timeout, and its calls still work.
    expect(Object.keys((await tm.master.registrar.agents.get(agent.agentId))?.offers ?? {})).not.toContain(
      made.offerId,
    );
    await queued.revive();
    await queued.teardown();
    expect((await tm.master.registrar.frameworks.get(frameworkId))?.status).toBe('REMOVED');
    // The named queue outlives the framework (the stack may own it); the next framework of that name uses it.
    const again = new QueueScheduler({}, { master: tm.url, framework: FRAMEWORK, name: 'liveness' });
    const next = await again.subscribe();
    expect(next.frameworkId).not.toBe(frameworkId);
    expect(next.queueUrl).toBe(queued.queueUrl);
  });
});

describe('with authentication on', () => {
  const SECRET = 'correct-horse-battery-staple';
  let secured: TestMaster;
  const basic = (principal: string) => ({ principal, secret: SECRET });
  beforeAll(async () => {
    secured = await startTestMaster({ authenticate: true });
    for (const principal of ['team-a', 'team-b']) {
      await secured.master.registrar.principals.create({ principal, secret: SECRET, kind: 'framework', roles: ['*'] });
    }
  });
  afterAll(async () => secured.close());

  it("gives two principals with the same name different queues, and neither reaches the other's", async () => {
    const rescinded: Record<string, string[]> = { a: [], b: [] };
    const scheduler = (who: 'a' | 'b') =>
      new QueueScheduler(
        { offerRescinded: (_s, offerId) => void rescinded[who]?.push(offerId) },
        { master: secured.url, framework: FRAMEWORK, name: 'jobs', credentials: basic(`team-${who}`) },
      );
    const a = scheduler('a');
    const b = scheduler('b');
    const hosted = frameworkQueues(secured.master);
    await hosted.register({ name: 'jobs', principal: 'team-a', handler: a.handler() });
    await hosted.register({ name: 'jobs', principal: 'team-b', handler: b.handler() });
    try {
      const subA = await a.subscribe();
      const subB = await b.subscribe();
      expect(subA.queueUrl).not.toBe(subB.queueUrl);
      expect(subA.queueUrl.endsWith(queueNames.frameworkDelivery(secured.cluster, 'team-a', 'jobs'))).toBe(true);
      const target = await secured.master.registrar.frameworks.get(subB.frameworkId);
      if (!target) throw new Error('no framework');
      await publishEvents(secured.master, target, [{ type: 'RESCIND', rescind: { offer_id: { value: 'for-b' } } }]);
      await until(() => rescinded.b?.length === 1);
      expect(rescinded.a).toEqual([]);
      // B cannot take over A's framework (and so its queue) by its id.
      const takeover = await post(
        secured.url,
        {
          ...subscribeCall({ ...FRAMEWORK, id: { value: subA.frameworkId } }),
          framework_id: { value: subA.frameworkId },
        },
        {
          'Mantle-Event-Delivery': 'queue; name=jobs',
          Authorization: `Basic ${Buffer.from(`team-b:${SECRET}`).toString('base64')}`,
        },
      );
      expect(takeover.status).toBe(400);
      expect(takeover.body).toMatch(/principal/);
      // Without credentials there is no subscription at all.
      const anonymous = await post(secured.url, subscribeCall(), { 'Mantle-Event-Delivery': 'queue; name=jobs' });
      expect(anonymous.status).toBe(401);
    } finally {
      await hosted.stop();
    }
  });
});
