/**
 * Every batch and multi-entry write of the registrar within DynamoDB's limits (issue 10): no key twice
 * in one BatchGetItem / BatchWriteItem, at most 100 / 25 keys a request, what DynamoDB leaves
 * unprocessed retried, and removals of any number of ledger entries cut into writes whose expressions
 * fit. DynamoDB Local enforces these limits as DynamoDB does, so each test fails without its fix.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { filterKey } from '#shared/ids.js';
import type { AgentRecord } from '../../functions/registrar/index.js';
import { injectFaults, leaveUnprocessed } from '../support/faults.js';
import { freshRegistrar, type TestRegistrar } from '../support/registrar.js';
import { resources } from '../support/resources.js';

let t: TestRegistrar;
beforeAll(async () => {
  t = await freshRegistrar();
});
afterAll(async () => {
  await t.close();
});

const cpus = (value: number) => [{ name: 'cpus', type: 'SCALAR' as const, scalar: { value } }];

async function admitted(text = 'cpus:1000;mem:100000'): Promise<AgentRecord> {
  const result = await t.registrar.agents.admit({ hostname: 'big.local', resources: resources(text) });
  if (!result.ok) throw new Error(result.error.message);
  return result.value;
}

describe('the registrar batch helpers', () => {
  it('reads thousands of keys, each named twice, retrying what DynamoDB leaves unprocessed', async () => {
    const table = t.tables.principals;
    await t.registrar.context.batchWrite(
      table,
      Array.from({ length: 1000 }, (_, i) => ({ key: { principal: `p${i}` }, item: { principal: `p${i}`, n: i } })),
    );
    const keys = Array.from({ length: 2500 }, (_, i) => ({ principal: `p${i % 1250}` }));
    const faults = leaveUnprocessed(t.clients.dynamodb, 6);
    try {
      const items = await t.registrar.context.batchGet(table, [...keys, ...keys, { principal: '' }], {
        consistent: true,
      });
      expect(faults.hits()).toBe(6);
      expect(items.map((item) => item.principal).sort()).toEqual(
        Array.from({ length: 1000 }, (_, i) => `p${i}`).sort(),
      );
    } finally {
      faults.remove();
    }
  });

  it('writes thousands of puts and deletes, a key written twice keeping its last write', async () => {
    const table = t.tables.principals;
    const writes = Array.from({ length: 3000 }, (_, i) => {
      const key = { principal: `w${i % 1000}` };
      return i >= 2000 && i % 2 === 0 ? { key } : { key, item: { ...key, n: i } };
    });
    const faults = leaveUnprocessed(t.clients.dynamodb, 6);
    try {
      await t.registrar.context.batchWrite(table, writes);
      expect(faults.hits()).toBe(6);
    } finally {
      faults.remove();
    }
    const items = await t.registrar.context.batchGet(
      table,
      Array.from({ length: 1000 }, (_, i) => ({ principal: `w${i}` })),
      { consistent: true },
    );
    // Keys 0, 2, 4 … were deleted last; the odd ones keep the put of round 3.
    expect(items).toHaveLength(500);
    for (const item of items) expect(item.n).toBe(2000 + Number((item.principal as string).slice(1)));
  });

  it('gives up, loudly, when DynamoDB keeps leaving writes unprocessed', async () => {
    const faults = leaveUnprocessed(t.clients.dynamodb, 100);
    try {
      await expect(
        t.registrar.context.batchWrite(t.tables.principals, [
          { key: { principal: 'x1' }, item: { principal: 'x1' } },
          { key: { principal: 'x2' }, item: { principal: 'x2' } },
        ]),
      ).rejects.toThrow(/unprocessed/);
    } finally {
      faults.remove();
    }
  });
});

describe('the stores that batch', () => {
  it('reads agent statuses for thousands of ids with duplicates (the heartbeat handler)', async () => {
    const agents = await Promise.all(Array.from({ length: 3 }, () => admitted()));
    const ids = [...Array.from({ length: 3000 }, (_, i) => `nobody-${i % 1500}`), ...agents.map((a) => a.agentId)];
    const found = await t.registrar.agents.statuses([...ids, ...ids, '']);
    expect([...found.keys()].sort()).toEqual(agents.map((a) => a.agentId).sort());
    expect([...found.values()].every((view) => view.status === 'ACTIVE')).toBe(true);
  });

  it('installs filters named twice for one role and agent (the last one holds)', async () => {
    const now = t.clock.now;
    await t.registrar.filters.put('fw-dup', [
      { role: '*', agentId: 'a1', resources: cpus(1), expiresAt: now + 5_000 },
      { role: '*', agentId: 'a1', resources: cpus(2), expiresAt: now + 6_000 },
      ...Array.from({ length: 60 }, (_, i) => ({
        role: '*',
        agentId: `b${i % 30}`,
        resources: cpus(i),
        expiresAt: now + 5_000,
      })),
    ]);
    const filters = await t.registrar.filters.of('fw-dup');
    expect(Object.keys(filters)).toHaveLength(31);
    expect(filters[filterKey('*', 'a1')]?.resources).toEqual(cpus(2));
    expect(filters[filterKey('*', 'b0')]?.resources).toEqual(cpus(30));
    expect(await t.registrar.filters.clear('fw-dup')).toBe(31);
  });

  it('creates offers on 25 agents in one request, each write decided alone', async () => {
    const agents = await Promise.all(Array.from({ length: 25 }, () => admitted('cpus:4;mem:400')));
    // One ledger changed since it was read, one agent is gone, one item lacks the executors map (an older item).
    const [changed, gone, old] = agents as [AgentRecord, AgentRecord, AgentRecord];
    const made = await t.registrar.agents.createOffers(changed, [
      { frameworkId: 'fw-b', role: '*', resources: cpus(1) },
    ]);
    if (!made.ok) throw new Error(made.error.message);
    await t.registrar.context.batchWrite(t.tables.agents, [{ key: { agent_id: gone.agentId } }]);
    await t.registrar.context.update({
      TableName: t.tables.agents,
      Key: { agent_id: old.agentId },
      UpdateExpression: 'REMOVE executors',
    });
    const faults = injectFaults(t.clients.dynamodb, {
      commands: ['BatchExecuteStatementCommand'],
      times: 1,
      fault: { kind: 'lose-response' },
    });
    try {
      const results = await t.registrar.agents.createOffersBatch(
        agents.map((agent) => ({ agent, requests: [{ frameworkId: 'fw-a', role: '*', resources: cpus(2) }] })),
      );
      // The response was lost and the SDK sent the batch again: its own writes count as written.
      expect(faults.hits()).toBe(1);
      expect(results[0]).toMatchObject({ ok: false, error: { code: 'VERSION_CONFLICT' }, current: made.value.agent });
      expect(results[1]).toMatchObject({ ok: false, error: { code: 'UNKNOWN_AGENT' } });
      for (const [i, result] of results.entries()) {
        if (i < 2) continue;
        if (!result.ok) throw new Error(result.error.message);
        const stored = await t.registrar.agents.get(agents[i]?.agentId as string);
        expect(result.value.agent).toEqual(stored);
        expect(Object.keys(stored?.offers ?? {})).toEqual(result.value.offers.map((offer) => offer.offerId));
      }
      expect((await t.registrar.agents.get(old.agentId))?.version).toBe(old.version + 1);
    } finally {
      faults.remove();
    }
    // A ledger the offers would not fit is refused before anything is sent.
    const [full] = await t.registrar.agents.createOffersBatch([
      { agent: agents[3] as AgentRecord, requests: [{ frameworkId: 'fw-a', role: '*', resources: cpus(5) }] },
    ]);
    expect(full).toMatchObject({ ok: false, error: { code: 'INSUFFICIENT_RESOURCES' } });
  });

  it('removes offers of 25 agents in one request, an agent changed since its read or gone going alone', async () => {
    const agents = await Promise.all(Array.from({ length: 25 }, () => admitted('cpus:4;mem:400')));
    const offered = await Promise.all(
      agents.map(async (agent) => {
        const made = await t.registrar.agents.createOffers(agent, [
          { frameworkId: 'fw-a', role: '*', resources: cpus(1) },
          { frameworkId: 'fw-b', role: '*', resources: cpus(1) },
        ]);
        if (!made.ok) throw new Error(made.error.message);
        return made.value;
      }),
    );
    // As the pass read them; then one ledger takes another offer and one agent is removed.
    const [changed, gone] = offered as [(typeof offered)[number], (typeof offered)[number]];
    const later = await t.registrar.agents.createOffers(changed.agent, [
      { frameworkId: 'fw-b', role: '*', resources: cpus(1) },
    ]);
    if (!later.ok) throw new Error(later.error.message);
    await t.registrar.context.batchWrite(t.tables.agents, [{ key: { agent_id: gone.agent.agentId } }]);
    const counted = (command: string) =>
      injectFaults(t.clients.dynamodb, {
        commands: [command],
        times: 1000,
        fault: { kind: 'hold', until: Promise.resolve() },
      });
    const [batches, singles] = [counted('BatchExecuteStatementCommand'), counted('UpdateItemCommand')];
    try {
      const results = await t.registrar.agents.removeOffersBatch(
        offered.map(({ agent, offers }) => ({ agent, offerIds: offers.map((offer) => offer.offerId) })),
      );
      expect(batches.hits()).toBe(1);
      // The changed ledger's and the gone agent's statements failed; each went on alone.
      expect(singles.hits()).toBe(2);
      expect(results[1]).toMatchObject({ ok: false, error: { code: 'UNKNOWN_AGENT' } });
      for (const [i, result] of results.entries()) {
        if (i === 1) continue;
        if (!result.ok) throw new Error(result.error.message);
        const { agent, offers } = offered[i] as (typeof offered)[number];
        expect(result.value.removed.map((offer) => offer.offerId).sort()).toEqual(offers.map((o) => o.offerId).sort());
        const stored = await t.registrar.agents.get(agent.agentId);
        expect(result.value.agent).toEqual(stored);
        // Only the named offers went: the changed ledger keeps the one made after the read.
        expect(Object.keys(stored?.offers ?? {})).toEqual(i === 0 ? later.value.offers.map((o) => o.offerId) : []);
      }
    } finally {
      batches.remove();
      singles.remove();
    }
  });

  it('takes no more agents than a request holds, and sends an offer named twice alone', async () => {
    const made = await t.registrar.agents.createOffers(await admitted('cpus:4;mem:400'), [
      { frameworkId: 'fw-a', role: '*', resources: cpus(1) },
    ]);
    if (!made.ok) throw new Error(made.error.message);
    const entry = { agent: made.value.agent, offerIds: made.value.offers.map((offer) => offer.offerId) };
    await expect(t.registrar.agents.removeOffersBatch(Array.from({ length: 26 }, () => entry))).rejects.toThrow(
      'At most 25 agents',
    );
    const batches = injectFaults(t.clients.dynamodb, {
      commands: ['BatchExecuteStatementCommand'],
      times: 1000,
      fault: { kind: 'hold', until: Promise.resolve() },
    });
    try {
      const [removed] = await t.registrar.agents.removeOffersBatch([
        { ...entry, offerIds: [...entry.offerIds, ...entry.offerIds] },
      ]);
      expect(batches.hits()).toBe(0);
      expect(removed).toMatchObject({ ok: true, value: { removed: made.value.offers } });
    } finally {
      batches.remove();
    }
  });

  it('removes each agent s offers alone when the batch request fails', async () => {
    const offered = await Promise.all(
      Array.from({ length: 3 }, async () => {
        const made = await t.registrar.agents.createOffers(await admitted('cpus:4;mem:400'), [
          { frameworkId: 'fw-a', role: '*', resources: cpus(1) },
        ]);
        if (!made.ok) throw new Error(made.error.message);
        return made.value;
      }),
    );
    const faults = injectFaults(t.clients.dynamodb, {
      commands: ['BatchExecuteStatementCommand'],
      times: 10,
      fault: { kind: 'reject', name: 'ThrottlingException' },
    });
    try {
      const results = await t.registrar.agents.removeOffersBatch(
        offered.map(({ agent, offers }) => ({ agent, offerIds: offers.map((offer) => offer.offerId) })),
      );
      expect(faults.hits()).toBeGreaterThan(0);
      for (const [i, result] of results.entries()) {
        if (!result.ok) throw new Error(result.error.message);
        expect(result.value.removed).toEqual((offered[i] as (typeof offered)[number]).offers);
        expect((await t.registrar.agents.get(result.value.agent.agentId))?.offers).toEqual({});
      }
    } finally {
      faults.remove();
    }
  });

  it('removes any number of offers of one agent, named with thousands of unknown ones', async () => {
    let agent = await admitted();
    const made = await t.registrar.agents.createOffers(
      agent,
      Array.from({ length: 80 }, () => ({ frameworkId: 'fw-a', role: '*', resources: resources('cpus:1') })),
    );
    if (!made.ok) throw new Error(made.error.message);
    agent = made.value.agent;
    const real = made.value.offers.map((offer) => offer.offerId);
    const junk = Array.from({ length: 3000 }, (_, i) => `${agent.agentId}-Ojunk${i}`);
    const removed = await t.registrar.agents.removeOffers({
      agentId: agent.agentId,
      offerIds: [...junk, ...real, ...real],
      frameworkId: 'fw-a',
    });
    if (!removed.ok) throw new Error(removed.error.message);
    expect(removed.value.removed.map((offer) => offer.offerId).sort()).toEqual([...real].sort());
    expect(Object.keys((await t.registrar.agents.get(agent.agentId))?.offers ?? {})).toEqual([]);
  });

  it('refuses to remove a long list that holds another framework s offer, removing none of it', async () => {
    const agent = await admitted();
    const made = await t.registrar.agents.createOffers(agent, [
      ...Array.from({ length: 30 }, () => ({ frameworkId: 'fw-a', role: '*', resources: resources('cpus:1') })),
      { frameworkId: 'fw-b', role: '*', resources: resources('cpus:1') },
    ]);
    if (!made.ok) throw new Error(made.error.message);
    const removed = await t.registrar.agents.removeOffers({
      agentId: agent.agentId,
      offerIds: made.value.offers.map((offer) => offer.offerId),
      frameworkId: 'fw-a',
    });
    expect(removed.ok ? 'removed' : removed.error.code).toBe('OFFER_NOT_OWNED');
    expect(Object.keys((await t.registrar.agents.get(agent.agentId))?.offers ?? {})).toHaveLength(31);
  });

  it('releases any number of tasks of one agent in writes DynamoDB takes', async () => {
    const agent = await admitted();
    let current = agent;
    const keys: Array<{ frameworkId: string; taskId: string }> = [];
    for (let round = 0; round < 4; round++) {
      const made = await t.registrar.agents.createOffers(current, [
        { frameworkId: 'fw-t', role: '*', resources: resources('cpus:30') },
      ]);
      if (!made.ok) throw new Error(made.error.message);
      const launches = Array.from({ length: 30 }, (_, i) => ({
        taskId: `task-${round}-${i}-${'é'.repeat(200)}`,
        resources: resources('cpus:1'),
      }));
      const accepted = await t.registrar.agents.acceptOffers({
        agentId: agent.agentId,
        frameworkId: 'fw-t',
        offers: made.value.offers,
        launches,
        launchId: `l-${round}`,
      });
      if (!accepted.ok) throw new Error(accepted.error.message);
      current = accepted.value.agent;
      keys.push(...launches.map((launch) => ({ frameworkId: 'fw-t', taskId: launch.taskId })));
    }
    expect(Object.keys(current.tasks)).toHaveLength(120);
    const released = await t.registrar.agents.releaseTasks({ agentId: agent.agentId, tasks: [...keys, ...keys] });
    if (!released.ok) throw new Error(released.error.message);
    expect(released.value.released).toHaveLength(120);
    expect((await t.registrar.agents.get(agent.agentId))?.tasks).toEqual({});
  });
});
