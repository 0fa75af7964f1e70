/**
 * Incremental allocation on DynamoDB Local: with a warm snapshot, a pass over the agents a trigger names
 * reads those agents and what its offers depend on, not the cluster; frameworks and filters that changed
 * since the snapshot are read again before an offer is written; and an agent whose ledger changed after
 * the pass read it is never offered twice.
 */
import { randomUUID } from 'node:crypto';
import type { Context, SQSEvent, SQSRecord } from 'aws-lambda';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Allocator } from '../../functions/allocator/allocator.js';
import { allocatorConfig } from '../../functions/allocator/config.js';
import { runAllocationPass, type AllocationPassDeps } from '../../functions/allocation/run-pass.js';
import { triggerMessage, type AllocationTrigger } from '../../functions/allocation/triggers.js';
import { WarmSnapshot } from '../../functions/allocation/warm-snapshot.js';
import { allocationHandler } from '../../functions/handlers/allocation.js';
import { newStreamId } from '#shared/ids.js';
import { Metrics } from '#shared/metrics.js';
import type { AgentRecord, FrameworkRecord, OfferRecord, Registrar } from '../../functions/registrar/index.js';
import { ledgerViolation } from '../../functions/registrar/index.js';
import { resources, seeded } from '../support/allocator.js';
import { freshRegistrar, type TestRegistrar } from '../support/registrar.js';

const AGENT = 'cpus:8;mem:1024';

async function admit(registrar: Registrar, count: number): Promise<AgentRecord[]> {
  return Promise.all(
    Array.from({ length: count }, async (_, i) => {
      const result = await registrar.agents.admit({ hostname: `agent-${i}.test`, resources: resources(AGENT) });
      if (!result.ok) throw new Error(result.error.message);
      return result.value;
    }),
  );
}

async function subscribe(registrar: Registrar, name: string): Promise<FrameworkRecord> {
  const result = await registrar.frameworks.subscribe({
    info: { user: 'svc', name },
    streamId: newStreamId(),
    eventQueueUrl: `queue-of-${name}`,
  });
  if (!result.ok) throw new Error(result.error.message);
  return result.value.framework;
}

/** The framework launches one task on each offer, taking all of it: every agent is then full. */
async function launchOnAll(registrar: Registrar, offers: readonly OfferRecord[]): Promise<Map<string, string>> {
  const tasks = new Map<string, string>();
  for (const offer of offers) {
    const taskId = `task-${offer.agentId}`;
    const accepted = await registrar.agents.acceptOffers({
      agentId: offer.agentId,
      frameworkId: offer.frameworkId,
      offers: [offer],
      launches: [{ taskId, resources: offer.resources }],
      launchId: randomUUID(),
    });
    if (!accepted.ok) throw new Error(accepted.error.message);
    tasks.set(offer.agentId, taskId);
  }
  return tasks;
}

function passDeps(t: TestRegistrar, snapshot: WarmSnapshot, metrics = new Metrics()): AllocationPassDeps {
  return {
    registrar: t.registrar,
    events: { publish: async () => {} },
    allocator: new Allocator(allocatorConfig({ offerTimeoutSeconds: 60 })),
    now: () => t.clock.now,
    random: seeded(1),
    metrics,
    snapshot,
  };
}

describe('a pass over the agents a trigger names, on a warm snapshot', () => {
  let t: TestRegistrar;
  beforeEach(async () => {
    t = await freshRegistrar();
  });
  afterEach(async () => {
    await t.close();
  });

  it.each([10, 50])(
    'reads and writes the same few items whatever the cluster (%i agents), and offers what a finished task freed',
    async (count) => {
      const agents = await admit(t.registrar, count);
      const framework = await subscribe(t.registrar, 'a');
      const snapshot = new WarmSnapshot();
      const deps = passDeps(t, snapshot);

      const full = await runAllocationPass(deps);
      expect(full.fullRead).toBe(true);
      expect(full.itemsRead.agents).toBe(count);
      expect(full.itemsRead.frameworks).toBe(1);
      expect(full.offers).toHaveLength(count);
      const tasks = await launchOnAll(t.registrar, full.offers);

      // One agent's task finishes: its resources come back, and a trigger names that agent.
      const freed = agents[0] as AgentRecord;
      const released = await t.registrar.agents.releaseTasks({
        agentId: freed.agentId,
        tasks: [{ frameworkId: framework.frameworkId, taskId: tasks.get(freed.agentId) as string }],
      });
      expect(released.ok).toBe(true);
      const partial = await runAllocationPass(deps, { agentIds: new Set([freed.agentId]) });

      expect(partial.fullRead).toBe(false);
      expect(partial.offers.map((offer) => [offer.agentId, offer.frameworkId])).toEqual([
        [freed.agentId, framework.frameworkId],
      ]);
      // The named agent, the maintenance item, the offer's framework and its filter on that agent.
      expect(partial.itemsRead).toEqual({
        agents: 1,
        frameworks: 1,
        filters: 1,
        roles: 0,
        maintenance: 1,
        total: 4,
      });
      expect(partial.itemsWritten).toBe(1);
      expect(partial.rechecks).toBe(0);
      // The other agents stayed in the snapshot for the shares: the allocator saw them all.
      expect(partial.stats.agents).toBe(count);
      expect(partial.stats.candidates).toBe(1);

      const again = await runAllocationPass(deps);
      expect(again.fullRead).toBe(true);
      expect(again.itemsRead.agents).toBe(count);
      expect(again.offers).toHaveLength(0);

      // A pass over all agents that knows no agent changed (a REVIVE) reads the frameworks, not the agents.
      const revived = await runAllocationPass(deps, { changedAgents: new Set() });
      expect(revived.fullRead).toBe(false);
      expect(revived.itemsRead).toMatchObject({ agents: 0, frameworks: 1, maintenance: 1 });
      expect(revived.stats.agents).toBe(count);
      expect(revived.itemsWritten).toBe(0);
    },
  );

  it('a pass over all agents on the warm snapshot reads the agents named, offers them, and reads all when old', async () => {
    const agents = await admit(t.registrar, 6);
    const { frameworkId } = await subscribe(t.registrar, 'a');
    const metrics = new Metrics();
    const snapshot = new WarmSnapshot();
    const config = allocatorConfig({ offerTimeoutSeconds: 60, snapshotMaxAgeSeconds: 30 });
    const deps = { ...passDeps(t, snapshot, metrics), allocator: new Allocator(config) };
    const tasks = await launchOnAll(t.registrar, (await runAllocationPass(deps)).offers);
    const [freed, taken, other] = agents as [AgentRecord, AgentRecord, AgentRecord];
    const release = async (agent: AgentRecord) => {
      const done = await t.registrar.agents.releaseTasks({
        agentId: agent.agentId,
        tasks: [{ frameworkId, taskId: tasks.get(agent.agentId) as string }],
      });
      expect(done.ok).toBe(true);
    };
    // Two agents free their tasks; the trigger of one joins a REVIVE, the other's is lost.
    await release(freed);
    await release(other);
    const revived = await runAllocationPass(deps, { changedAgents: new Set([freed.agentId]) });
    expect(revived.fullRead).toBe(false);
    expect(revived.itemsRead.agents).toBe(1);
    expect(revived.offers.map((offer) => offer.agentId)).toEqual([freed.agentId]);

    // Another container offers `taken` after this snapshot took it in: the stale copy loses its write,
    // and the snapshot keeps the ledger as it now is (the next pass does not try again).
    await release(taken);
    const rival = await runAllocationPass(
      { ...passDeps(t, new WarmSnapshot()), random: seeded(2) },
      {
        agentIds: new Set([taken.agentId]),
      },
    );
    expect(rival.offers.map((offer) => offer.agentId)).toEqual([taken.agentId]);
    const stale = await t.registrar.agents.get(taken.agentId);
    snapshot.agents.set(taken.agentId, { ...(stale as AgentRecord), offers: {}, version: (stale?.version ?? 0) - 1 });
    const lost = await runAllocationPass(deps, { changedAgents: new Set() });
    expect(lost.conflicts).toBe(1);
    expect(lost.offers).toHaveLength(0);
    expect(snapshot.agents.get(taken.agentId)).toEqual(stale);
    const stored = await t.registrar.agents.get(taken.agentId);
    expect(Object.keys(stored?.offers ?? {})).toHaveLength(1);
    expect(ledgerViolation(stored as AgentRecord)).toBeUndefined();
    expect((await runAllocationPass(deps, { changedAgents: new Set() })).conflicts).toBe(0);

    // The lost trigger's agent is found by the next full read, once the last is snapshotMaxAgeSeconds old.
    t.clock.advance(30_000);
    const aged = await runAllocationPass(deps, { changedAgents: new Set() });
    expect(aged.fullRead).toBe(true);
    expect(aged.itemsRead.agents).toBe(6);
    expect(aged.offers.map((offer) => offer.agentId)).toEqual([other.agentId]);
    expect(metrics.snapshot()['allocator/warm_reads']).toBe(3);
  });

  it('writes no pending reasons from a warm pass that counted on offers held by agents it did not read', async () => {
    await admit(t.registrar, 1);
    const framework = await subscribe(t.registrar, 'a');
    const deps = passDeps(t, new WarmSnapshot());
    const [offer] = (await runAllocationPass(deps)).offers as [OfferRecord];
    const reasons = async () => (await t.registrar.pending.list(framework.frameworkId)).map((record) => record.code);

    // DECLINE with a filter; its trigger naming the agent has not come yet when a REVIVE's pass runs.
    await t.registrar.filters.put(framework.frameworkId, [
      { role: offer.role, agentId: offer.agentId, resources: offer.resources, expiresAt: t.clock.now + 60_000 },
    ]);
    await t.registrar.agents.removeOffers({ agentId: offer.agentId, offerIds: [offer.offerId] });
    t.clock.advance(1_000);
    const warm = await runAllocationPass(deps, { changedAgents: new Set() });
    expect(warm.fullRead).toBe(false);
    // The snapshot still holds the offer: nothing free, as far as this pass can tell; it writes no reasons.
    expect(warm.pending.map((reason) => reason.code)).toEqual(['NOTHING_FREE']);
    expect(await reasons()).toEqual([]);

    // A pass that reads the agent sees the filter, and says so.
    t.clock.advance(1_000);
    const full = await runAllocationPass(deps);
    expect(full.fullRead).toBe(true);
    expect(await reasons()).toEqual(['FILTERED']);
    // A warm pass whose snapshot holds no offers writes them: the same.
    t.clock.advance(1_000);
    await runAllocationPass(deps, { changedAgents: new Set() });
    expect(await reasons()).toEqual(['FILTERED']);
  });

  it('reads again the framework an offer goes to: a suppression or a decline filter made since is kept', async () => {
    const [agent] = await admit(t.registrar, 1);
    const framework = await subscribe(t.registrar, 'a');
    const deps = passDeps(t, new WarmSnapshot());
    const [offer] = (await runAllocationPass(deps)).offers as [OfferRecord];
    const agentIds = new Set([(agent as AgentRecord).agentId]);

    // DECLINE with a filter: the resources come back, the filter is written; the snapshot has neither.
    await t.registrar.filters.put(framework.frameworkId, [
      { role: offer.role, agentId: offer.agentId, resources: offer.resources, expiresAt: t.clock.now + 60_000 },
    ]);
    await t.registrar.agents.removeOffers({ agentId: offer.agentId, offerIds: [offer.offerId] });
    const filtered = await runAllocationPass(deps, { agentIds });
    expect(filtered.offers).toHaveLength(0);
    expect(filtered.rechecks).toBe(1);

    // SUPPRESS after the filter expired: the snapshot still has the framework unsuppressed.
    t.clock.advance(61_000);
    expect((await t.registrar.frameworks.suppress(framework.frameworkId, [])).ok).toBe(true);
    const suppressed = await runAllocationPass(deps, { agentIds });
    expect(suppressed.offers).toHaveLength(0);
    expect(suppressed.rechecks).toBe(1);

    // What widens a framework's claim (SUBSCRIBE, REVIVE, UPDATE_FRAMEWORK) asks for a pass over all agents.
    expect((await t.registrar.frameworks.revive(framework.frameworkId, [])).ok).toBe(true);
    expect((await runAllocationPass(deps, { agentIds })).offers).toHaveLength(0);
    const revived = await runAllocationPass(deps);
    expect(revived.fullRead).toBe(true);
    expect(revived.offers.map((made) => made.frameworkId)).toEqual([framework.frameworkId]);
  });

  it('runs the allocator again at most three times: an offer it could not check is left to the next pass', async () => {
    const [agent] = (await admit(t.registrar, 1)) as [AgentRecord];
    const frameworks = await Promise.all(['a', 'b', 'c', 'd'].map((name) => subscribe(t.registrar, name)));
    const metrics = new Metrics();
    const deps = passDeps(t, new WarmSnapshot(), metrics);
    const [offer] = (await runAllocationPass(deps)).offers as [OfferRecord];
    await t.registrar.agents.removeOffers({ agentId: agent.agentId, offerIds: [offer.offerId] });
    // Every framework declined the agent since the snapshot: each check finds one more filter.
    for (const framework of frameworks) {
      await t.registrar.filters.put(framework.frameworkId, [
        { role: '*', agentId: agent.agentId, resources: agent.total, expiresAt: t.clock.now + 60_000 },
      ]);
    }
    const agentIds = new Set([agent.agentId]);
    const gaveUp = await runAllocationPass(deps, { agentIds });
    expect(gaveUp.rechecks).toBe(3);
    expect(gaveUp.offers).toHaveLength(0);
    expect(gaveUp.itemsWritten).toBe(0);
    const next = await runAllocationPass(deps, { agentIds });
    expect(next.rechecks).toBe(1);
    expect(next.offers).toHaveLength(0);
    expect(metrics.snapshot()['allocator/snapshot_rechecks']).toBe(4);
  });

  it('reads a framework again before sweeping its offer as stale: one the snapshot saw inactive may be back', async () => {
    const [agent] = (await admit(t.registrar, 1)) as [AgentRecord];
    const framework = await subscribe(t.registrar, 'a');
    expect((await t.registrar.frameworks.deactivate(framework.frameworkId, framework.streamId as string)).ok).toBe(
      true,
    );
    const deps = passDeps(t, new WarmSnapshot());
    expect((await runAllocationPass(deps)).offers).toHaveLength(0);
    // It subscribes again, and another container's pass offers it the agent.
    const back = await t.registrar.frameworks.subscribe({
      frameworkId: framework.frameworkId,
      info: { user: 'svc', name: 'a', id: { value: framework.frameworkId } },
      streamId: newStreamId(),
      eventQueueUrl: framework.eventQueueUrl,
    });
    expect(back.ok).toBe(true);
    expect((await runAllocationPass({ ...passDeps(t, new WarmSnapshot()) })).offers).toHaveLength(1);

    const partial = await runAllocationPass(deps, { agentIds: new Set([agent.agentId]) });
    expect(partial.stale).toBe(0);
    expect(partial.itemsRead.frameworks).toBe(1);
    const stored = await t.registrar.agents.get(agent.agentId);
    expect(Object.values(stored?.offers ?? {}).map((offer) => offer.frameworkId)).toEqual([framework.frameworkId]);
  });

  it('never offers an agent twice: a ledger changed after the pass read it loses the write (counted)', async () => {
    const [agent, other] = (await admit(t.registrar, 2)) as [AgentRecord, AgentRecord];
    await subscribe(t.registrar, 'a');
    const metrics = new Metrics();
    const deps = passDeps(t, new WarmSnapshot(), metrics);
    const first = await runAllocationPass(deps);
    for (const offer of first.offers) {
      await t.registrar.agents.removeOffers({ agentId: offer.agentId, offerIds: [offer.offerId] });
    }

    // Another container's pass (its own snapshot) offers the agent between this pass's read and write.
    const racing = Object.create(t.registrar) as Registrar;
    const agents = Object.create(t.registrar.agents) as Registrar['agents'];
    agents.getMany = async (agentIds) => {
      const read = await t.registrar.agents.getMany(agentIds);
      const rival = await runAllocationPass({ ...passDeps(t, new WarmSnapshot()), random: seeded(2) });
      expect(rival.offers.map((offer) => offer.agentId).sort()).toEqual([agent.agentId, other.agentId].sort());
      return read;
    };
    Object.assign(racing, { agents });
    const lost = await runAllocationPass({ ...deps, registrar: racing }, { agentIds: new Set([agent.agentId]) });

    expect(lost.fullRead).toBe(false);
    expect(lost.offers).toHaveLength(0);
    expect(lost.conflicts).toBe(1);
    expect(metrics.snapshot()['allocator/version_conflicts']).toBe(1);
    const stored = await t.registrar.agents.get(agent.agentId);
    expect(Object.keys(stored?.offers ?? {})).toHaveLength(1);
    expect(ledgerViolation(stored as AgentRecord)).toBeUndefined();

    // The cached other agent was offered by the rival too: a pass naming only `agent` never writes it.
    const next = await runAllocationPass(deps, { agentIds: new Set([agent.agentId]) });
    expect(next.offers).toHaveLength(0);
    expect(next.itemsWritten).toBe(0);
    const otherStored = await t.registrar.agents.get(other.agentId);
    expect(Object.keys(otherStored?.offers ?? {})).toHaveLength(1);
  });
});

/** The allocation handler on `t`'s registrar, recording each pass's reads (full or not, agents read). */
function recordingHandler(t: TestRegistrar): {
  handler: ReturnType<typeof allocationHandler>;
  reads: Array<{ full: boolean; agents: number }>;
  metrics: Metrics;
} {
  const reads: Array<{ full: boolean; agents: number }> = [];
  const metrics = new Metrics();
  const handler = allocationHandler({
    registrar: t.registrar,
    events: { publish: async () => {} },
    allocator: new Allocator(),
    triggers: { request: async () => {} },
    metrics,
    now: () => t.clock.now,
    onPass: (report) => reads.push({ full: report.fullRead, agents: report.itemsRead.agents }),
  });
  return { handler, reads, metrics };
}

describe('the allocator handler', () => {
  let t: TestRegistrar;
  beforeEach(async () => {
    t = await freshRegistrar();
  });
  afterEach(async () => {
    await t.close();
  });

  it('keeps its snapshot warm: a cold first pass reads everything, a trigger naming an agent then reads it alone', async () => {
    const [agent] = (await admit(t.registrar, 5)) as [AgentRecord];
    await subscribe(t.registrar, 'a');
    const { handler, reads, metrics } = recordingHandler(t);
    const event = (trigger: AllocationTrigger): SQSEvent => ({
      Records: [{ messageId: 'm', body: JSON.stringify(triggerMessage(trigger, t.clock.now)) } as SQSRecord],
    });
    await handler(event({ reason: 'RESOURCES_RECOVERED', agentIds: [agent.agentId] }), {} as Context);
    await handler(event({ reason: 'RESOURCES_RECOVERED', agentIds: [agent.agentId] }), {} as Context);
    expect(reads).toEqual([
      { full: true, agents: 5 },
      { full: false, agents: 1 },
    ]);
    expect(metrics.snapshot()['allocator/full_reads']).toBe(1);
    expect(metrics.snapshot()['allocator/partial_reads']).toBe(1);
    expect(metrics.snapshot()['allocator/items_read']).toBeGreaterThan(5);
  });

  it('runs a REVIVE on the warm snapshot, which covers earlier REVIVEs but not a freed agent it did not read', async () => {
    const [agent] = (await admit(t.registrar, 5)) as [AgentRecord];
    await subscribe(t.registrar, 'a');
    const { handler, reads, metrics } = recordingHandler(t);
    const event = (...messages: Array<[AllocationTrigger, number]>): SQSEvent => ({
      Records: messages.map(
        ([trigger, at], i) => ({ messageId: `m${i}`, body: JSON.stringify(triggerMessage(trigger, at)) }) as SQSRecord,
      ),
    });
    const start = t.clock.now;
    await handler(event([{ reason: 'PERIODIC' }, start]), {} as Context);
    t.clock.advance(5000);
    await handler(event([{ reason: 'REVIVE', frameworkId: 'f' }, t.clock.now]), {} as Context);
    t.clock.advance(5000);
    const before = start + 1000;
    await handler(
      event([{ reason: 'REVIVE' }, before], [{ reason: 'RESOURCES_RECOVERED', agentIds: [agent.agentId] }, before]),
      {} as Context,
    );
    expect(reads).toEqual([
      { full: true, agents: 5 },
      { full: false, agents: 0 },
      { full: false, agents: 1 },
    ]);
    expect(metrics.snapshot()['allocator/triggers_coalesced']).toBe(1);
    expect(metrics.snapshot()['allocator/warm_reads']).toBe(1);
  });
});
