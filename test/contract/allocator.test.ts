/**
 * The allocation pass on DynamoDB Local and the SQS stand-in: offers written to the ledgers and sent,
 * offer expiry, two racing passes, and the Lambda handler fed by the SQS event source emulation.
 */
import { randomBytes } from 'node:crypto';
import type { Context, SQSEvent, SQSRecord } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startEventSource } from '../../local/event-source.js';
import { Allocator } from '../../functions/allocator/allocator.js';
import { allocatorConfig } from '../../functions/allocator/config.js';
import { allocationHandler } from '../../functions/handlers/allocation.js';
import { runAllocationPass, type AllocationPassDeps } from '../../functions/allocation/run-pass.js';
import {
  AllocationTriggers,
  ensureAllocationQueue,
  triggerMessage,
  type AllocationTrigger,
} from '../../functions/allocation/triggers.js';
import { SqsEventPublisher, type EventPublisher, type EventTarget } from '../../functions/master/event-publisher.js';
import { newStreamId } from '#shared/ids.js';
import { Metrics } from '#shared/metrics.js';
import type { FrameworkInfo } from '#shared/protocol/mesos.js';
import type { Event } from '#shared/protocol/scheduler.js';
import { Queues } from '#shared/queues/queues.js';
import {
  ledgerViolation,
  type AgentRecord,
  type FrameworkRecord,
  type Registrar,
} from '../../functions/registrar/index.js';
import { equals } from '#shared/resources/resources.js';
import { resources, seeded } from '../support/allocator.js';
import { injectFaults } from '../support/faults.js';
import { standInClients } from '../support/aws.js';
import { freshRegistrar, type TestRegistrar } from '../support/registrar.js';

const AGENT = 'cpus:24;mem:4096;disk:4096;ports:[31000-32000]';

class RecordingPublisher implements EventPublisher {
  readonly events: Array<{ frameworkId: string; event: Event }> = [];
  /** Each publish's framework and event types. */
  readonly calls: Array<{ frameworkId: string; types: Array<Event['type']> }> = [];
  async publish(target: EventTarget, events: readonly Event[]): Promise<void> {
    for (const event of events) this.events.push({ frameworkId: target.frameworkId, event });
    this.calls.push({ frameworkId: target.frameworkId, types: events.map((event) => event.type) });
  }
  of(type: Event['type']): Array<{ frameworkId: string; event: Event }> {
    return this.events.filter((entry) => entry.event.type === type);
  }
}

class RecordingTriggers {
  readonly sent: Array<{ trigger: AllocationTrigger; delaySeconds: number | undefined }> = [];
  async request(trigger: AllocationTrigger, delaySeconds?: number): Promise<void> {
    this.sent.push({ trigger, delaySeconds });
  }
}

async function admit(registrar: Registrar, count: number, text = AGENT): Promise<AgentRecord[]> {
  return Promise.all(
    Array.from({ length: count }, async (_, i) => {
      const result = await registrar.agents.admit({
        hostname: `agent-${i}.test`,
        resources: resources(text),
        capabilities: ['MULTI_ROLE', 'HIERARCHICAL_ROLE', 'RESERVATION_REFINEMENT'],
      });
      if (!result.ok) throw new Error(result.error.message);
      return result.value;
    }),
  );
}

async function subscribe(
  registrar: Registrar,
  name: string,
  eventQueueUrl = `queue-of-${name}`,
  info: Partial<FrameworkInfo> = {},
) {
  const result = await registrar.frameworks.subscribe({
    info: { user: 'svc', name, ...info },
    streamId: newStreamId(),
    eventQueueUrl,
  });
  if (!result.ok) throw new Error(result.error.message);
  return result.value.framework;
}

async function ledgers(registrar: Registrar): Promise<AgentRecord[]> {
  const result: AgentRecord[] = [];
  for await (const agent of registrar.agents.list()) result.push(agent);
  return result;
}

describe('an allocation pass over the registrar', () => {
  let t: TestRegistrar;
  beforeAll(async () => {
    t = await freshRegistrar();
  });
  afterAll(async () => {
    await t.close();
  });

  it('writes offers to the ledgers, sends them, times them out, and takes back stale ones', async () => {
    const agents = await admit(t.registrar, 4);
    const [fwA, fwB] = [await subscribe(t.registrar, 'a'), await subscribe(t.registrar, 'b')] as [
      FrameworkRecord,
      FrameworkRecord,
    ];
    await subscribe(t.registrar, 'no-queue', '');
    const events = new RecordingPublisher();
    const triggers = new RecordingTriggers();
    const deps: AllocationPassDeps = {
      registrar: t.registrar,
      events,
      triggers,
      allocator: new Allocator(allocatorConfig({ offerTimeoutSeconds: 60 })),
      now: () => t.clock.now,
      random: seeded(1),
      metrics: t.metrics,
    };

    const first = await runAllocationPass(deps);
    expect(first.offers).toHaveLength(4);
    expect(first.conflicts).toBe(0);
    expect(first.pending.map((pending) => pending.frameworkId)).toEqual([]);
    const stored = await ledgers(t.registrar);
    for (const agent of stored) {
      expect(Object.values(agent.offers)).toHaveLength(1);
      expect(ledgerViolation(agent)).toBeUndefined();
      expect(Object.values(agent.offers)[0]?.expiresAt).toBe(t.clock.now + 60_000);
    }
    const offersEvents = events.of('OFFERS');
    expect(new Set(offersEvents.map((entry) => entry.frameworkId))).toEqual(
      new Set([fwA.frameworkId, fwB.frameworkId]),
    );
    const sent = offersEvents.flatMap((entry) => entry.event.offers?.offers ?? []);
    expect(sent).toHaveLength(4);
    expect(sent.every((offer) => offer.allocation_info === undefined && offer.hostname.endsWith('.test'))).toBe(true);
    expect(
      sent.every((offer) =>
        equals(
          offer.resources ?? [],
          resources(AGENT).map((r) => ({ ...r, role: '*' })),
        ),
      ),
    ).toBe(true);
    expect(triggers.sent).toEqual([
      {
        trigger: { reason: 'OFFER_EXPIRED', agentIds: expect.arrayContaining(agents.map((a) => a.agentId)) },
        delaySeconds: 61,
      },
    ]);
    expect(t.metrics.snapshot()['allocator/mesos/allocation_runs']).toBe(1);

    // Nothing free: the next pass offers nothing, and everyone is told why.
    const second = await runAllocationPass(deps);
    expect(second.offers).toEqual([]);
    expect(second.pending.map((pending) => pending.code)).toEqual(['NOTHING_FREE', 'NOTHING_FREE']);

    // Past the timeout the offers are rescinded and the resources offered again.
    t.clock.advance(60_000);
    // The four ledgers' expiries go in one batch request, as their offers' writes do: no write of its own each.
    const singles = injectFaults(t.clients.dynamodb, {
      commands: ['UpdateItemCommand'],
      table: t.tables.agents,
      times: 1000,
      fault: { kind: 'hold', until: Promise.resolve() },
    });
    const third = await runAllocationPass(deps).finally(() => singles.remove());
    expect(singles.hits()).toBe(0);
    expect(third.expired).toBe(4);
    expect(events.of('RESCIND')).toHaveLength(4);
    // Each framework's RESCINDs of the pass in one publish, whichever agents they were on.
    const rescindCalls = events.calls.filter((call) => call.types.includes('RESCIND'));
    expect(rescindCalls.map((call) => call.frameworkId).sort()).toEqual([fwA.frameworkId, fwB.frameworkId].sort());
    for (const call of rescindCalls) expect(call.types.every((type) => type === 'RESCIND')).toBe(true);
    expect(third.offers).toHaveLength(4);

    // A framework that is no longer active loses its offers (and is not sent RESCIND).
    const heldByB = third.offers.filter((offer) => offer.frameworkId === fwB.frameworkId).length;
    expect(await t.registrar.frameworks.deactivate(fwB.frameworkId, fwB.streamId as string)).toMatchObject({
      ok: true,
    });
    const rescinds = events.of('RESCIND').length;
    const fourth = await runAllocationPass(deps);
    expect(fourth.stale).toBe(heldByB);
    expect(events.of('RESCIND')).toHaveLength(rescinds);
    expect(fourth.offers.every((offer) => offer.frameworkId === fwA.frameworkId)).toBe(true);
    expect(fourth.offers).toHaveLength(heldByB);
  });
});

describe('two passes started together', () => {
  let t: TestRegistrar;
  beforeAll(async () => {
    t = await freshRegistrar();
  });
  afterAll(async () => {
    await t.close();
  });

  it('never produce overlapping offers: one wins each agent, the other skips it', async () => {
    await admit(t.registrar, 40, 'cpus:8;mem:2048;ports:[31000-31099]');
    for (let i = 0; i < 8; i++) await subscribe(t.registrar, `fw-${i}`);
    // Both passes read the same snapshot before either writes: a barrier after the agents' scan.
    let arrived = 0;
    let release!: () => void;
    const bothRead = new Promise<void>((resolve) => (release = resolve));
    const racing = (): Registrar => {
      const agents = Object.create(t.registrar.agents) as Registrar['agents'];
      agents.list = async function* () {
        const all = await ledgers(t.registrar);
        if (++arrived === 2) release();
        await bothRead;
        yield* all;
      };
      return Object.assign(Object.create(t.registrar) as Registrar, { agents });
    };
    const pass = (seed: number) =>
      runAllocationPass({
        registrar: racing(),
        events: new RecordingPublisher(),
        allocator: new Allocator(),
        now: () => t.clock.now,
        random: seeded(seed),
      });
    const [a, b] = await Promise.all([pass(1), pass(2)]);

    const stored = await ledgers(t.registrar);
    for (const agent of stored) {
      expect(ledgerViolation(agent)).toBeUndefined();
      expect(Object.keys(agent.offers)).toHaveLength(1);
    }
    // Each agent's one offer came from exactly one pass; the other pass lost the race on it.
    const committed = [...a.offers, ...b.offers].map((offer) => offer.offerId).sort();
    expect(committed).toEqual(stored.flatMap((agent) => Object.keys(agent.offers)).sort());
    expect(a.conflicts + b.conflicts).toBe(40);
    expect(a.offers.length + b.offers.length).toBe(40);
  });
});

describe('the allocator Lambda handler', () => {
  let t: TestRegistrar;
  const clients = standInClients();
  const queues = new Queues(clients.sqs);
  beforeAll(async () => {
    t = await freshRegistrar();
  });
  afterAll(async () => {
    await t.close();
    clients.destroy();
  });

  it('runs a pass per batch of triggers from the SQS event source and sends OFFERS to the framework event queue', async () => {
    const cluster = `c${randomBytes(4).toString('hex')}`;
    const allocationQueueUrl = await ensureAllocationQueue(queues, cluster);
    const eventQueueUrl = await queues.ensure(`${cluster}-fw.fifo`);
    const framework = await subscribe(t.registrar, 'lambda', eventQueueUrl, {
      roles: ['gpu'],
      capabilities: [{ type: 'MULTI_ROLE' }, { type: 'GPU_RESOURCES' }],
    });
    const triggers = new AllocationTriggers(queues, allocationQueueUrl);
    const passes: number[] = [];
    const handler = allocationHandler({
      registrar: t.registrar,
      events: new SqsEventPublisher(queues),
      allocator: new Allocator(),
      triggers,
      metrics: t.metrics,
      onPass: (report) => passes.push(report.offers.length),
    });
    const source = startEventSource({
      queues,
      queueUrl: allocationQueueUrl,
      queueArn: await queues.arn(allocationQueueUrl),
      handler,
      waitSeconds: 1,
    });
    try {
      await queues.send(allocationQueueUrl, [{ body: 'not a trigger' }]);
      const [agent] = await admit(t.registrar, 1, 'cpus:8;mem:8192;gpus:2');
      await triggers.request({ reason: 'AGENT_ADDED', agentIds: [(agent as AgentRecord).agentId] });
      const received: Event[] = [];
      const deadline = Date.now() + 20_000;
      while (received.length === 0 && Date.now() < deadline) {
        const batch = await queues.receive(eventQueueUrl, { waitSeconds: 1 });
        received.push(...batch.map((message) => JSON.parse(message.body) as Event));
      }
      expect(received).toHaveLength(1);
      const offer = received[0]?.offers?.offers?.[0];
      expect(offer).toMatchObject({
        framework_id: { value: framework.frameworkId },
        agent_id: { value: (agent as AgentRecord).agentId },
        allocation_info: { role: 'gpu' },
      });
      // The pass reports once it has written its pending reasons too, which can be after the framework has its offer.
      await vi.waitFor(() => expect(passes).toEqual([1]), { timeout: 5000 });
      expect(t.metrics.snapshot()['allocator/invalid_triggers']).toBe(1);
      // The invalid message was dropped, not retried: the queue is empty but for the delayed expiry timer.
      expect(await queues.depth(allocationQueueUrl)).toBe(0);
    } finally {
      await source.stop();
      await queues.remove(eventQueueUrl);
      await queues.remove(allocationQueueUrl);
    }
  });
  it('coalesces a REVIVE flood: triggers sent before a pass over all agents started need no pass of their own', async () => {
    await subscribe(t.registrar, 'flood');
    const passes: number[] = [];
    const metrics = new Metrics();
    const handler = allocationHandler({
      registrar: t.registrar,
      events: { publish: async () => {} },
      allocator: new Allocator(),
      triggers: { request: async () => {} },
      metrics,
      now: () => t.clock.now,
      onPass: (report) => passes.push(report.offers.length),
    });
    const batch = (sentAt: number, count = 10): SQSEvent => ({
      Records: Array.from(
        { length: count },
        (_, i) =>
          ({
            messageId: `m${i}`,
            body: JSON.stringify(triggerMessage({ reason: 'REVIVE', frameworkId: 'f' }, sentAt)),
          }) as SQSRecord,
      ),
    });
    const before = t.clock.now - 5_000;
    for (let i = 0; i < 100; i++) await handler(batch(before), {} as Context);
    expect(passes).toHaveLength(1);
    expect(metrics.snapshot()['allocator/triggers_coalesced']).toBe(990);
    // A REVIVE sent after that pass started gets a pass of its own.
    t.clock.advance(10_000);
    await handler(batch(t.clock.now, 1), {} as Context);
    expect(passes).toHaveLength(2);
  });
});
