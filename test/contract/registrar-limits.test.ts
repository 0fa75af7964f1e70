/**
 * An agent's ledger at DynamoDB's limits (issue 10), which DynamoDB Local enforces as DynamoDB does: an
 * expression stops at 4 KB (an ACCEPT of some 100 tasks), an item at 400 KB (an agent with many tasks).
 * Large ACCEPTs go in several writes; a full ledger refuses what would grow it, with a clear error, and
 * costs only its own agent its offers in an allocation pass.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Allocator } from '../../functions/allocator/allocator.js';
import { allocatorConfig } from '../../functions/allocator/config.js';
import { runAllocationPass } from '../../functions/allocation/run-pass.js';
import { ledgerViolation, type AgentRecord } from '../../functions/registrar/index.js';
import { newStreamId } from '#shared/ids.js';
import { Metrics } from '#shared/metrics.js';
import { quantities } from '#shared/resources/resources.js';
import { seeded } from '../support/allocator.js';
import { freshRegistrar, type TestRegistrar } from '../support/registrar.js';
import { resources } from '../support/resources.js';

let t: TestRegistrar;
beforeAll(async () => {
  t = await freshRegistrar();
});
afterAll(async () => {
  await t.close();
});

async function admitted(text = 'cpus:1000;mem:100000'): Promise<AgentRecord> {
  const result = await t.registrar.agents.admit({ hostname: 'big.local', resources: resources(text) });
  if (!result.ok) throw new Error(result.error.message);
  return result.value;
}

async function offered(agent: AgentRecord, texts: readonly string[], frameworkId = 'fw') {
  const made = await t.registrar.agents.createOffers(
    agent,
    texts.map((text) => ({ frameworkId, role: '*', resources: resources(text) })),
  );
  if (!made.ok) throw new Error(made.error.message);
  return made.value;
}

const launches = (count: number, prefix: string, text = 'cpus:1;mem:10') =>
  Array.from({ length: count }, (_, i) => ({ taskId: `${prefix}-${i}`, resources: resources(text) }));

describe('ACCEPT beyond one write', () => {
  it('launches 400 tasks from two offers: all in the ledger, no hold left, the rest free', async () => {
    const agent = await admitted();
    const made = await offered(agent, ['cpus:300;mem:3000', 'cpus:200;mem:2000']);
    const accepted = await t.registrar.agents.acceptOffers({
      agentId: agent.agentId,
      frameworkId: 'fw',
      offers: made.offers,
      launches: launches(400, 'many'),
      launchId: 'l-many',
    });
    if (!accepted.ok) throw new Error(accepted.error.message);
    expect(accepted.value.tasks).toHaveLength(400);
    expect(accepted.value.notWritten).toBeUndefined();
    expect(quantities(accepted.value.unused)).toEqual({ cpus: 100, mem: 1000 });
    const ledger = await t.registrar.agents.get(agent.agentId);
    expect(Object.keys(ledger?.tasks ?? {})).toHaveLength(400);
    expect(ledger?.offers).toEqual({});
    expect(ledgerViolation(ledger as AgentRecord)).toBeUndefined();
  });

  it('a later write that fails launches only what was written and gives the hold back', async () => {
    let agent = await admitted();
    const first = await offered(agent, ['cpus:1;mem:10']);
    const taken = await t.registrar.agents.acceptOffers({
      agentId: agent.agentId,
      frameworkId: 'fw',
      offers: first.offers,
      launches: [{ taskId: 'dup-90', resources: resources('cpus:1;mem:10') }],
      launchId: 'l-before',
    });
    if (!taken.ok) throw new Error(taken.error.message);
    agent = taken.value.agent;
    const made = await offered(agent, ['cpus:150;mem:1500']);
    const accepted = await t.registrar.agents.acceptOffers({
      agentId: agent.agentId,
      frameworkId: 'fw',
      offers: made.offers,
      launches: launches(120, 'dup'),
      launchId: 'l-dup',
    });
    if (!accepted.ok) throw new Error(accepted.error.message);
    const written = accepted.value.tasks.length;
    expect(written).toBeGreaterThan(0);
    expect(written).toBeLessThan(91);
    expect(accepted.value.notWritten?.map((task) => task.taskId)).toEqual(
      launches(120, 'dup')
        .slice(written)
        .map((launch) => launch.taskId),
    );
    expect(accepted.value.why).toMatch(/already on agent/);
    const ledger = (await t.registrar.agents.get(agent.agentId)) as AgentRecord;
    expect(ledger.offers).toEqual({});
    expect(Object.keys(ledger.tasks)).toHaveLength(written + 1);
    expect(ledgerViolation(ledger)).toBeUndefined();
  });
});

describe('a full ledger', () => {
  it('refuses what would pass 400 KB with LEDGER_FULL, and an allocation pass still offers the other agents', async () => {
    const framework = await t.registrar.frameworks.subscribe({
      info: { user: 'svc', name: 'limits' },
      streamId: newStreamId(),
      eventQueueUrl: 'queue-of-limits',
    });
    if (!framework.ok) throw new Error(framework.error.message);
    const frameworkId = framework.value.framework.frameworkId;
    let full = await admitted('cpus:100000;mem:1000000');
    const long = 'é'.repeat(120);
    let round = 0;
    for (; round < 100; round++) {
      const made = await offered(full, ['cpus:50;mem:500'], frameworkId);
      const accepted = await t.registrar.agents.acceptOffers({
        agentId: full.agentId,
        frameworkId,
        offers: made.offers,
        launches: launches(50, `${long}-${round}`),
        launchId: `l-${round}`,
      });
      if (!accepted.ok) {
        expect(accepted.error.code).toBe('LEDGER_FULL');
        expect(accepted.error.message).toMatch(/400 KB/);
        await t.registrar.agents.removeOffers({ agentId: full.agentId, offerIds: [made.offers[0]?.offerId ?? ''] });
        break;
      }
      full = accepted.value.agent;
    }
    expect(round).toBeGreaterThan(2);
    expect(round).toBeLessThan(100);
    full = (await t.registrar.agents.get(full.agentId)) as AgentRecord;
    // Fill what is left with the framework's small offers, until not one more fits.
    for (let size = 20; size > 0;) {
      const made = await t.registrar.agents.createOffers(
        full,
        Array.from({ length: size }, () => ({ frameworkId, role: '*', resources: resources('cpus:0.01') })),
      );
      if (made.ok) full = made.value.agent;
      else if (made.error.code === 'LEDGER_FULL') size = Math.floor(size / 2);
      else throw new Error(made.error.message);
    }

    const other = await admitted('cpus:4;mem:400');
    const metrics = new Metrics();
    const pass = await runAllocationPass({
      registrar: t.registrar,
      events: { publish: async () => {} },
      triggers: { request: async () => {} },
      allocator: new Allocator(allocatorConfig({ offerTimeoutSeconds: 60 })),
      now: () => t.clock.now,
      random: seeded(1),
      metrics,
    });
    expect(pass.offers.map((offer) => offer.agentId)).toContain(other.agentId);
    expect(pass.offers.map((offer) => offer.agentId)).not.toContain(full.agentId);
    expect(metrics.snapshot()['allocator/agent_failures']).toBe(1);
  });
});
