import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AGENTS_PER_ITEM } from '../../functions/registrar/heartbeats.js';
import { freeResources, ledgerViolation, type AgentRecord, type OfferRecord } from '../../functions/registrar/index.js';
import { RecentAgents } from '../../functions/registrar/recent-agents.js';
import { equals, quantities } from '#shared/resources/resources.js';
import { freshRegistrar, type TestRegistrar } from '../support/registrar.js';
import { resources } from '../support/resources.js';

let t: TestRegistrar;
beforeAll(async () => {
  t = await freshRegistrar();
});
afterAll(async () => {
  await t.close();
});

async function admitted(text = 'cpus:8;mem:8192;gpus:2;ports:[31000-31009];cpus(ml):2'): Promise<AgentRecord> {
  const result = await t.registrar.agents.admit({ hostname: 'gpu-1.local', resources: resources(text) });
  if (!result.ok) throw new Error(result.error.message);
  return result.value;
}

async function offered(agent: AgentRecord, frameworkId: string, text: string, role = '*'): Promise<OfferRecord> {
  const result = await t.registrar.agents.createOffers(agent, [{ frameworkId, role, resources: resources(text) }]);
  if (!result.ok) throw new Error(`${result.error.code}: ${result.error.message}`);
  return result.value.offers[0] as OfferRecord;
}

let launches = 0;
function launchId(): string {
  return `launch-${++launches}`;
}

describe('agent admission', () => {
  it('admits an agent with its resources, attributes and capabilities', async () => {
    const result = await t.registrar.agents.admit({
      hostname: 'gpu-2.local',
      port: 5051,
      resources: resources('cpus:4;mem:1024'),
      attributes: [{ name: 'instance_type', type: 'TEXT', text: { value: 'g5.xlarge' } }],
      domain: { fault_domain: { region: { name: 'us-east-1' }, zone: { name: 'us-east-1a' } } },
      capabilities: ['MULTI_ROLE', 'HIERARCHICAL_ROLE'],
    });
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.value.agentId).toMatch(/^test-cluster-S/);
    const stored = await t.registrar.agents.get(result.value.agentId);
    expect(stored).toEqual(result.value);
    expect(stored?.status).toBe('ACTIVE');
    expect(stored?.attributes[0]?.text?.value).toBe('g5.xlarge');
  });

  it('refuses bad input with typed errors and stores nothing', async () => {
    const cases: Array<[Parameters<typeof t.registrar.agents.admit>[0], string]> = [
      [{ hostname: 'h', resources: [{ name: 'gpus', type: 'SCALAR', scalar: { value: 1.5 } }] }, 'INVALID_RESOURCES'],
      [{ hostname: 'h', resources: [{ name: 'cpus', type: 'SCALAR', scalar: { value: -2 } }] }, 'INVALID_RESOURCES'],
      [{ hostname: 'h', resources: 'cpus:4' }, 'INVALID_RESOURCES'],
      [
        { hostname: 'h', resources: resources('cpus:1').map((r) => ({ ...r, allocation_info: { role: 'ml' } })) },
        'INVALID_RESOURCES',
      ],
      [{ hostname: '', resources: [] }, 'INVALID_ARGUMENT'],
      [{ hostname: 'h', port: 70000, resources: [] }, 'INVALID_ARGUMENT'],
      [{ hostname: 'h', resources: [], capabilities: ['TIME_TRAVEL'] }, 'INVALID_ARGUMENT'],
      [{ hostname: 'h', resources: [], attributes: [{ name: 'x' }] }, 'INVALID_ARGUMENT'],
    ];
    for (const [registration, code] of cases) {
      const result = await t.registrar.agents.admit(registration);
      expect(result.ok ? 'ok' : result.error.code, JSON.stringify(registration)).toBe(code);
    }
  });

  it("logs heartbeats a batch per item, and reads back each agent's latest since a time", async () => {
    const [a, b] = ['agent-a', 'agent-b'];
    const first = t.clock.now;
    await t.registrar.heartbeats.record(
      new Map([
        [a, first],
        [b, first],
      ]),
    );
    t.clock.advance(61_000); // the next minute's item
    await t.registrar.heartbeats.record(new Map([[a, t.clock.now]]));
    expect(await t.registrar.heartbeats.lastSeen(first - 1)).toEqual(
      new Map([
        [a, t.clock.now],
        [b, first],
      ]),
    );
    // Older heartbeats do not count.
    expect(await t.registrar.heartbeats.lastSeen(first + 1)).toEqual(new Map([[a, t.clock.now]]));
    expect(await t.registrar.heartbeats.record(new Map())).toBeUndefined();
  });

  it('splits a batch beyond what one item holds', async () => {
    const many = new Map(Array.from({ length: AGENTS_PER_ITEM + 5 }, (_, i) => [`many-${i}`, t.clock.now]));
    await t.registrar.heartbeats.record(many);
    const seen = await t.registrar.heartbeats.lastSeen(t.clock.now);
    expect([...many.keys()].every((id) => seen.get(id) === t.clock.now)).toBe(true);
  });

  it("reads many agents' statuses at once; unknown ones are absent", async () => {
    const agent = await admitted();
    const ids = [agent.agentId, 'nope', ...Array.from({ length: 150 }, (_, i) => `missing-${i}`)];
    const statuses = await t.registrar.agents.statuses(ids);
    expect([...statuses.keys()]).toEqual([agent.agentId]);
    expect(statuses.get(agent.agentId)).toEqual({
      status: 'ACTIVE',
      commandQueueUrl: agent.commandQueueUrl,
      attributes: agent.attributes,
    });
    await t.registrar.agents.markUnreachable(agent.agentId, t.clock.now + 1);
    expect((await t.registrar.agents.statuses([agent.agentId])).get(agent.agentId)?.status).toBe('UNREACHABLE');
  });

  it('marks a silent agent unreachable, but a late heartbeat wins the race', async () => {
    const agent = await admitted();
    const offer = await offered(agent, 'fw-1', 'cpus:1;mem:128');
    expect(await t.registrar.agents.markUnreachable(agent.agentId, agent.lastHeartbeat)).toMatchObject({
      ok: false,
      error: { code: 'AGENT_ALIVE' },
    });
    t.clock.advance(80_000);
    const result = await t.registrar.agents.markUnreachable(agent.agentId, t.clock.now - 75_000);
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.value.rescinded.map((o) => o.offerId)).toEqual([offer.offerId]);
    const stored = await t.registrar.agents.get(agent.agentId);
    expect(stored).toMatchObject({ status: 'UNREACHABLE', offers: {} });
    expect(result.value.agent).toEqual(stored);
  });

  it('re-admits a restarted agent: same id, offers rescinded, tasks kept', async () => {
    const agent = await admitted();
    const offer = await offered(agent, 'fw-1', 'cpus:2;mem:256');
    const accepted = await t.registrar.agents.acceptOffers({
      agentId: agent.agentId,
      frameworkId: 'fw-1',
      offers: [offer],
      launches: [{ taskId: 't1', resources: resources('cpus:1;mem:128') }],
      launchId: launchId(),
    });
    expect(accepted.ok).toBe(true);
    const spare = await offered((await t.registrar.agents.get(agent.agentId)) as AgentRecord, 'fw-2', 'cpus:1');
    await t.registrar.agents.markUnreachable(agent.agentId, t.clock.now + 1);

    const again = await t.registrar.agents.readmit(agent.agentId, {
      hostname: 'gpu-1.local',
      resources: agent.total,
    });
    expect(again.ok).toBe(true);
    if (!again.ok) return;
    expect(again.value.wasUnreachable).toBe(true);
    expect(again.value.rescinded).toEqual([]); // marking it unreachable already rescinded the spare offer
    expect(again.value.agent.status).toBe('ACTIVE');
    expect(Object.keys(again.value.agent.tasks)).toEqual(['fw-1/t1']);
    expect(again.value.agent.offers[spare.offerId]).toBeUndefined();

    const shrink = await t.registrar.agents.readmit(agent.agentId, {
      hostname: 'gpu-1.local',
      resources: resources('mem:64'),
    });
    expect(shrink).toMatchObject({ ok: false, error: { code: 'INSUFFICIENT_RESOURCES' } });
    expect(await t.registrar.agents.readmit('unknown', { hostname: 'h', resources: [] })).toMatchObject({
      ok: false,
      error: { code: 'UNKNOWN_AGENT' },
    });
    await t.registrar.agents.markGone(agent.agentId);
    expect(await t.registrar.agents.readmit(agent.agentId, { hostname: 'h', resources: agent.total })).toMatchObject({
      ok: false,
      error: { code: 'AGENT_GONE' },
    });
  });
});

describe('the agent ledger', () => {
  it('creates offers from free resources only, and keeps reservations for their role', async () => {
    const agent = await admitted();
    const offer = await offered(agent, 'fw-1', 'cpus:3;mem:1024;gpus:1;ports:[31000-31004]');
    expect(offer.offerId.startsWith(`${agent.agentId}-O`)).toBe(true);
    expect(offer.resources.every((r) => r.allocation_info?.role === '*')).toBe(true);
    const current = (await t.registrar.agents.get(agent.agentId)) as AgentRecord;
    expect(current.version).toBe(agent.version + 1);
    expect(quantities(freeResources(current))).toEqual({ cpus: 7, mem: 7168, gpus: 1, ports: 5 });

    // More than is free, a stale copy, and reserved resources to the wrong role are refused.
    expect(
      await t.registrar.agents.createOffers(current, [
        { frameworkId: 'fw-2', role: '*', resources: resources('cpus:6') },
      ]),
    ).toMatchObject({ ok: false, error: { code: 'INSUFFICIENT_RESOURCES' } });
    expect(
      await t.registrar.agents.createOffers(agent, [
        { frameworkId: 'fw-2', role: '*', resources: resources('cpus:1') },
      ]),
    ).toMatchObject({ ok: false, error: { code: 'VERSION_CONFLICT' } });
    expect(
      await t.registrar.agents.createOffers(current, [
        { frameworkId: 'fw-2', role: 'eng', resources: resources('cpus(ml):1') },
      ]),
    ).toMatchObject({ ok: false, error: { code: 'INVALID_ARGUMENT' } });
    expect(
      await t.registrar.agents.createOffers(current, [
        { frameworkId: 'fw-2', role: 'ml', resources: [{ name: 'cpus', type: 'SCALAR', scalar: { value: -1 } }] },
      ]),
    ).toMatchObject({ ok: false, error: { code: 'INVALID_RESOURCES' } });
    // A port already offered cannot be offered again.
    expect(
      await t.registrar.agents.createOffers(current, [
        { frameworkId: 'fw-2', role: 'ml', resources: resources('ports:[31004-31005]') },
      ]),
    ).toMatchObject({ ok: false, error: { code: 'INSUFFICIENT_RESOURCES' } });
    const mlOffer = await offered(current, 'fw-2', 'cpus(ml):2;cpus:1', 'ml');
    expect(mlOffer.role).toBe('ml');
    const after = (await t.registrar.agents.get(agent.agentId)) as AgentRecord;
    expect(ledgerViolation(after)).toBeUndefined();
  });

  it('accepts an offer into tasks in one write; unused resources become free', async () => {
    const agent = await admitted();
    const offer = await offered(agent, 'fw-1', 'cpus:4;mem:2048;gpus:2;ports:[31000-31009]');
    const result = await t.registrar.agents.acceptOffers({
      agentId: agent.agentId,
      frameworkId: 'fw-1',
      offers: [offer],
      launches: [
        { taskId: 'train-1', resources: resources('cpus:1;mem:512;gpus:1;ports:[31000-31000]') },
        { taskId: 'train-2', resources: resources('cpus:1;mem:512;gpus:1;ports:[31001-31001]') },
      ],
      launchId: launchId(),
    });
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(quantities(result.value.unused)).toEqual({ cpus: 2, mem: 1024, ports: 8 });
    const stored = (await t.registrar.agents.get(agent.agentId)) as AgentRecord;
    expect(stored.offers).toEqual({});
    expect(Object.keys(stored.tasks).sort()).toEqual(['fw-1/train-1', 'fw-1/train-2']);
    expect(quantities(freeResources(stored))).toEqual({ cpus: 8, mem: 7168, ports: 8 });
    expect(ledgerViolation(stored)).toBeUndefined();
  });

  it('refuses accepts that Mesos refuses, leaving the ledger as it was', async () => {
    const agent = await admitted();
    const offer = await offered(agent, 'fw-1', 'cpus:2;mem:256;ports:[31000-31001]');
    const before = (await t.registrar.agents.get(agent.agentId)) as AgentRecord;
    const attempt = (overrides: Partial<Parameters<typeof t.registrar.agents.acceptOffers>[0]>) =>
      t.registrar.agents.acceptOffers({
        agentId: agent.agentId,
        frameworkId: 'fw-1',
        offers: [offer],
        launches: [{ taskId: 't', resources: resources('cpus:1') }],
        launchId: launchId(),
        ...overrides,
      });
    const cases: Array<[Partial<Parameters<typeof t.registrar.agents.acceptOffers>[0]>, string]> = [
      [{ frameworkId: 'fw-2' }, 'OFFER_NOT_OWNED'],
      [{ offers: [{ ...offer, frameworkId: 'fw-2' }], frameworkId: 'fw-2' }, 'OFFER_NOT_OWNED'],
      [{ offers: [{ ...offer, offerId: `${agent.agentId}-Ozzz` }] }, 'OFFER_GONE'],
      // A fabricated copy of the offer with more resources than were offered.
      [
        {
          offers: [{ ...offer, resources: [...offer.resources, ...resources('gpus:1')] }],
          launches: [{ taskId: 't', resources: resources('gpus:1') }],
        },
        'OFFER_GONE',
      ],
      [{ launches: [{ taskId: 't', resources: resources('cpus:3') }] }, 'INSUFFICIENT_RESOURCES'],
      // Two tasks claiming the same port: the union of their ranges fits, but not both.
      [
        {
          launches: [
            { taskId: 'a', resources: resources('ports:[31000-31000]') },
            { taskId: 'b', resources: resources('ports:[31000-31000]') },
          ],
        },
        'INSUFFICIENT_RESOURCES',
      ],
      [{ launches: [{ taskId: 't', resources: resources('gpus:1') }] }, 'INSUFFICIENT_RESOURCES'],
      [
        { launches: [{ taskId: 't', resources: [{ name: 'gpus', type: 'SCALAR', scalar: { value: 0.5 } }] }] },
        'INVALID_RESOURCES',
      ],
      [{ launches: [{ taskId: 't', resources: 'cpus:1' }] }, 'INVALID_RESOURCES'],
      [
        {
          launches: [
            { taskId: 'x', resources: [] },
            { taskId: 'x', resources: [] },
          ],
        },
        'DUPLICATE_TASK',
      ],
      [{ offers: [offer, offer] }, 'INVALID_ARGUMENT'],
      [{ offers: [] }, 'INVALID_ARGUMENT'],
    ];
    for (const [overrides, code] of cases) {
      const result = await attempt(overrides);
      expect(result.ok ? 'ok' : result.error.code, JSON.stringify(overrides).slice(0, 200)).toBe(code);
    }
    expect(await t.registrar.agents.get(agent.agentId)).toEqual(before);

    // Once accepted, the offer is gone for everyone, including the same framework.
    expect((await attempt({})).ok).toBe(true);
    expect(await attempt({ launches: [{ taskId: 'u', resources: resources('cpus:1') }] })).toMatchObject({
      ok: false,
      error: { code: 'OFFER_GONE' },
    });
  });

  it('refuses a task id already placed on the agent', async () => {
    const agent = await admitted();
    const first = await offered(agent, 'fw-1', 'cpus:1');
    await t.registrar.agents.acceptOffers({
      agentId: agent.agentId,
      frameworkId: 'fw-1',
      offers: [first],
      launches: [{ taskId: 'same', resources: resources('cpus:1') }],
      launchId: launchId(),
    });
    const second = await offered((await t.registrar.agents.get(agent.agentId)) as AgentRecord, 'fw-1', 'cpus:1');
    const result = await t.registrar.agents.acceptOffers({
      agentId: agent.agentId,
      frameworkId: 'fw-1',
      offers: [second],
      launches: [{ taskId: 'same', resources: resources('cpus:1') }],
      launchId: launchId(),
    });
    expect(result).toMatchObject({ ok: false, error: { code: 'DUPLICATE_TASK' } });
  });

  it('declines offers (ignoring gone ones) and refuses to decline other frameworks offers', async () => {
    const agent = await admitted();
    const mine = await offered(agent, 'fw-1', 'cpus:1');
    const theirs = await offered((await t.registrar.agents.get(agent.agentId)) as AgentRecord, 'fw-2', 'cpus:1');
    expect(
      await t.registrar.agents.removeOffers({
        agentId: agent.agentId,
        offerIds: [mine.offerId, theirs.offerId],
        frameworkId: 'fw-1',
      }),
    ).toMatchObject({ ok: false, error: { code: 'OFFER_NOT_OWNED' } });
    const declined = await t.registrar.agents.removeOffers({
      agentId: agent.agentId,
      offerIds: [mine.offerId, `${agent.agentId}-Ogone`],
      frameworkId: 'fw-1',
    });
    expect(declined.ok && declined.value.removed.map((o) => o.offerId)).toEqual([mine.offerId]);
    expect(
      await t.registrar.agents.removeOffers({ agentId: agent.agentId, offerIds: [mine.offerId], frameworkId: 'fw-1' }),
    ).toMatchObject({ ok: true, value: { removed: [] } });
    // Rescind (no framework given) removes anyone's offer.
    const rescinded = await t.registrar.agents.removeOffers({ agentId: agent.agentId, offerIds: [theirs.offerId] });
    expect(rescinded.ok && rescinded.value.removed[0]?.frameworkId).toBe('fw-2');
    expect(await t.registrar.agents.removeOffers({ agentId: 'nope', offerIds: ['x'] })).toMatchObject({
      ok: false,
      error: { code: 'UNKNOWN_AGENT' },
    });
  });

  it('releases task resources once (idempotent)', async () => {
    const agent = await admitted();
    const offer = await offered(agent, 'fw-1', 'cpus:2;mem:100');
    await t.registrar.agents.acceptOffers({
      agentId: agent.agentId,
      frameworkId: 'fw-1',
      offers: [offer],
      launches: [{ taskId: 't1', resources: resources('cpus:2;mem:100') }],
      launchId: launchId(),
    });
    const released = await t.registrar.agents.releaseTasks({
      agentId: agent.agentId,
      tasks: [{ frameworkId: 'fw-1', taskId: 't1' }],
    });
    expect(
      released.ok &&
        equals(
          released.value.released[0]?.resources ?? [],
          resources('cpus:2;mem:100').map((r) => ({ ...r, allocation_info: { role: '*' } })),
        ),
    ).toBe(true);
    const again = await t.registrar.agents.releaseTasks({
      agentId: agent.agentId,
      tasks: [{ frameworkId: 'fw-1', taskId: 't1' }],
    });
    expect(again).toMatchObject({ ok: true, value: { released: [] } });
    const stored = (await t.registrar.agents.get(agent.agentId)) as AgentRecord;
    // Nothing was there to release: no write, no version bump.
    expect(again.ok && again.value.agent).toEqual(stored);
    expect(released.ok && released.value.agent).toEqual(stored);
    expect(equals(freeResources(stored), agent.total)).toBe(true);
  });

  it("releases a task named with its launch id only if the ledger holds that launch's entry", async () => {
    const agent = await admitted();
    const offer = await offered(agent, 'fw-1', 'cpus:2;mem:100');
    const placed = launchId();
    await t.registrar.agents.acceptOffers({
      agentId: agent.agentId,
      frameworkId: 'fw-1',
      offers: [offer],
      launches: [{ taskId: 't1', resources: resources('cpus:1;mem:50') }],
      launchId: placed,
    });
    const other = await t.registrar.agents.releaseTasks({
      agentId: agent.agentId,
      tasks: [{ frameworkId: 'fw-1', taskId: 't1', launchId: 'an-older-launch' }],
    });
    expect(other).toMatchObject({ ok: true, value: { released: [] } });
    expect(Object.keys(((await t.registrar.agents.get(agent.agentId)) as AgentRecord).tasks)).toEqual(['fw-1/t1']);
    const own = await t.registrar.agents.releaseTasks({
      agentId: agent.agentId,
      tasks: [{ frameworkId: 'fw-1', taskId: 't1', launchId: placed }],
    });
    expect(own.ok && own.value.released.map((task) => task.launchId)).toEqual([placed]);
  });
});

describe('agent registration details', () => {
  it('keeps the command queue, containerizers and isolation it was admitted with, under a given id', async () => {
    const result = await t.registrar.agents.admit(
      {
        hostname: 'h',
        resources: resources('cpus:1;mem:64'),
        commandQueueUrl: 'http://127.0.0.1:1/queue/x.fifo',
        containerizers: ['docker', 'mesos'],
        isolation: { cgroups: 'v2', gpus: 'none', notes: ['no GPUs'] },
      },
      'chosen-agent-id',
    );
    expect(result.ok && result.value).toMatchObject({
      agentId: 'chosen-agent-id',
      commandQueueUrl: 'http://127.0.0.1:1/queue/x.fifo',
      containerizers: ['docker', 'mesos'],
      isolation: { cgroups: 'v2' },
    });
    expect(await t.registrar.agents.admit({ hostname: 'h', resources: [], containerizers: ['lxc'] })).toMatchObject({
      ok: false,
      error: { code: 'INVALID_ARGUMENT' },
    });
    const ids: string[] = [];
    for await (const agent of t.registrar.agents.list()) ids.push(agent.agentId);
    expect(ids).toContain('chosen-agent-id');
  });
});

describe('recent agents', () => {
  /** The registrar's statuses, counting the agents read and held until `release` where `hold` is set. */
  function counted(hold?: Promise<void>) {
    const reads: string[] = [];
    const agents = {
      statuses: async (ids: readonly string[]) => {
        reads.push(...ids);
        const found = await t.registrar.agents.statuses(ids);
        await hold;
        return found;
      },
    };
    return { reads, agents };
  }

  it('answers from memory within its time and reads again after it; a GONE agent is kept for good', async () => {
    const agent = await admitted();
    let now = 1_000;
    const { reads, agents } = counted();
    const recent = new RecentAgents(agents, 1_000, () => now);
    expect(await recent.get(agent.agentId)).toMatchObject({ status: 'ACTIVE', commandQueueUrl: '' });
    now += 999;
    await recent.get(agent.agentId);
    expect(reads).toHaveLength(1);
    now += 1;
    expect((await t.registrar.agents.markGone(agent.agentId)).ok).toBe(true);
    expect((await recent.get(agent.agentId))?.status).toBe('GONE');
    expect(reads).toHaveLength(2);
    now += 365 * 24 * 3600 * 1000;
    expect((await recent.get(agent.agentId))?.status).toBe('GONE');
    expect(reads).toHaveLength(2);
    // An unknown agent is read each time: it may be one being admitted.
    expect(await recent.get('no-such-agent')).toBeUndefined();
    expect(await recent.get('no-such-agent')).toBeUndefined();
    expect(reads).toHaveLength(4);
  });

  it('shares one read among the callers asking meanwhile; a forgotten agent is read again, its read not kept', async () => {
    const agent = await admitted();
    let release: () => void = () => {};
    const { reads, agents } = counted(new Promise<void>((resolve) => (release = resolve)));
    const recent = new RecentAgents(agents, 60_000, () => 0);
    const together = [recent.get(agent.agentId), recent.get(agent.agentId)];
    expect(reads).toHaveLength(1);
    recent.forget(agent.agentId);
    const after = recent.get(agent.agentId);
    expect(reads).toHaveLength(2);
    release();
    expect((await Promise.all([...together, after])).map((view) => view?.status)).toEqual([
      'ACTIVE',
      'ACTIVE',
      'ACTIVE',
    ]);
    await recent.get(agent.agentId);
    expect(reads).toHaveLength(2);
    recent.forget(agent.agentId);
    await recent.get(agent.agentId);
    expect(reads).toHaveLength(3);
  });

  it('lets a failed read fail its callers and reads again for the next', async () => {
    const agent = await admitted();
    let fail = true;
    const reads: string[] = [];
    const flaky = {
      statuses: async (ids: readonly string[]) => {
        reads.push(...ids);
        if (fail) throw new Error('throttled');
        return t.registrar.agents.statuses(ids);
      },
    };
    const recent = new RecentAgents(flaky, 60_000, () => 0);
    await expect(Promise.all([recent.get(agent.agentId), recent.get(agent.agentId)])).rejects.toThrow('throttled');
    expect(reads).toHaveLength(1);
    fail = false;
    expect((await recent.get(agent.agentId))?.status).toBe('ACTIVE');
    expect(reads).toHaveLength(2);
  });
});
