/**
 * Concurrency on DynamoDB Local (not a fake): the registrar's conditional writes under races.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Resource } from '#shared/protocol/mesos.js';
import {
  freeResources,
  ledgerViolation,
  takeInTurn,
  type AgentRecord,
  type OfferRecord,
} from '../../functions/registrar/index.js';
import { scalarResource, rangesResource } from '#shared/resources/resource.js';
import { quantities, scalarTotal } from '#shared/resources/resources.js';
import { freshRegistrar, type TestRegistrar } from '../support/registrar.js';
import { resources } from '../support/resources.js';

let t: TestRegistrar;
beforeAll(async () => {
  t = await freshRegistrar();
});
afterAll(async () => {
  await t.close();
});

async function admit(text: string): Promise<AgentRecord> {
  const result = await t.registrar.agents.admit({ hostname: 'race.local', resources: resources(text) });
  if (!result.ok) throw new Error(result.error.message);
  return result.value;
}

describe('racing accepts', () => {
  it('50 concurrent accepts of one offer: exactly one launches, the others get OFFER_GONE', async () => {
    const agent = await admit('cpus:4;mem:4096;gpus:1');
    const created = await t.registrar.agents.createOffers(agent, [
      { frameworkId: 'fw-race', role: '*', resources: resources('cpus:4;mem:4096;gpus:1') },
    ]);
    if (!created.ok) throw new Error(created.error.message);
    const offerId = (created.value.offers[0] as OfferRecord).offerId;

    const results = await Promise.all(
      Array.from({ length: 50 }, async (_, i) => {
        // Each contender reads the offer itself, as the API handler does, then accepts.
        const seen = await t.registrar.agents.get(agent.agentId);
        const offer = seen?.offers[offerId];
        if (!offer) return 'OFFER_GONE (before accepting)';
        const result = await t.registrar.agents.acceptOffers({
          agentId: agent.agentId,
          frameworkId: 'fw-race',
          offers: [offer],
          launches: [{ taskId: `task-${i}`, resources: resources('cpus:2;mem:1024;gpus:1') }],
          launchId: `race-${i}`,
        });
        return result.ok ? 'ok' : result.error.code;
      }),
    );
    const winners = results.filter((r) => r === 'ok');
    expect(winners).toHaveLength(1);
    expect(results.filter((r) => r.startsWith('OFFER_GONE'))).toHaveLength(49);

    const stored = (await t.registrar.agents.get(agent.agentId)) as AgentRecord;
    expect(Object.keys(stored.tasks)).toHaveLength(1);
    expect(stored.offers).toEqual({});
    expect(scalarTotal(Object.values(stored.tasks)[0]?.resources ?? [], 'gpus')).toBe(1);
    expect(ledgerViolation(stored)).toBeUndefined();
  });
});

describe('200 concurrent ledger changes on one agent', () => {
  it('loses no update and never lets offered + allocated exceed the total', async () => {
    const agent = await admit('cpus:64;mem:65536;gpus:8;ports:[31000-31099]');
    const TOTAL = 200;
    const snapshots: AgentRecord[] = []; // every image a write returned or a reader saw
    const versionsWritten: number[] = [];
    const created = new Set<string>();
    const accepted = new Set<string>();
    const declined = new Set<string>();
    const launched = new Set<string>();
    const released = new Set<string>();
    let conflicts = 0;

    const read = async (): Promise<AgentRecord> => {
      const current = (await t.registrar.agents.get(agent.agentId)) as AgentRecord;
      snapshots.push(current);
      return current;
    };
    const pick = <T>(items: T[]): T | undefined => items[Math.floor(Math.random() * items.length)];
    const pause = () => new Promise((resolve) => setTimeout(resolve, Math.random() * 20));

    /** One ledger change of the given kind; retries lost races until it has changed something. */
    async function change(kind: 'offer' | 'accept' | 'decline' | 'release', id: number): Promise<void> {
      for (let attempt = 0; attempt < 200; attempt++) {
        const current = await read();
        if (kind === 'offer') {
          const free = freeResources(current);
          const port = pick(free.find((r) => r.name === 'ports')?.ranges?.range ?? []);
          const want: Resource[] = [scalarResource('cpus', 1), scalarResource('mem', 512)];
          if (scalarTotal(free, 'gpus') >= 1 && id % 3 === 0) want.push(scalarResource('gpus', 1));
          if (port) want.push(rangesResource('ports', [{ begin: port.begin, end: port.begin }]));
          if (!takeInTurn(free, [want]).fits) {
            await pause(); // nothing free now: wait for a decline or a release
            continue;
          }
          const result = await t.registrar.agents.createOffers(current, [
            { frameworkId: `fw-${id % 5}`, role: '*', resources: want },
          ]);
          if (result.ok) {
            snapshots.push(result.value.agent);
            versionsWritten.push(result.value.agent.version);
            for (const offer of result.value.offers) created.add(offer.offerId);
            return;
          }
          expect(result.error.code).toBe('VERSION_CONFLICT');
          conflicts++;
        } else if (kind === 'accept' || kind === 'decline') {
          const offer = pick(Object.values(current.offers));
          if (!offer) {
            await pause();
            continue;
          }
          if (kind === 'accept') {
            const taskId = `task-${id}`;
            // Launch with part of the offer: everything but the memory above 256.
            const launch = offer.resources.map((r) => (r.name === 'mem' ? { ...r, scalar: { value: 256 } } : r));
            const result = await t.registrar.agents.acceptOffers({
              agentId: agent.agentId,
              frameworkId: offer.frameworkId,
              offers: [offer],
              launches: [{ taskId, resources: launch }],
              launchId: `launch-${id}`,
            });
            if (result.ok) {
              snapshots.push(result.value.agent);
              versionsWritten.push(result.value.agent.version);
              accepted.add(offer.offerId);
              launched.add(`${offer.frameworkId}/${taskId}`);
              return;
            }
            expect(result.error.code).toBe('OFFER_GONE');
          } else {
            const result = await t.registrar.agents.removeOffers({
              agentId: agent.agentId,
              offerIds: [offer.offerId],
              frameworkId: offer.frameworkId,
            });
            expect(result.ok).toBe(true);
            if (result.ok && result.value.removed.length > 0) {
              snapshots.push(result.value.agent);
              versionsWritten.push(result.value.agent.version);
              declined.add(offer.offerId);
              return;
            }
          }
        } else {
          const task = pick(Object.values(current.tasks));
          if (!task) {
            await pause();
            continue;
          }
          const result = await t.registrar.agents.releaseTasks({
            agentId: agent.agentId,
            tasks: [{ frameworkId: task.frameworkId, taskId: task.taskId }],
          });
          expect(result.ok).toBe(true);
          if (result.ok && result.value.released.length > 0) {
            snapshots.push(result.value.agent);
            versionsWritten.push(result.value.agent.version);
            released.add(`${task.frameworkId}/${task.taskId}`);
            return;
          }
        }
      }
      throw new Error(`${kind} ${id} made no change in 200 attempts`);
    }

    // 90 offers, 45 accepts, 35 declines, 30 releases: 200 changes, all started at once.
    const kinds = [
      ...Array<'offer'>(90).fill('offer'),
      ...Array<'accept'>(45).fill('accept'),
      ...Array<'decline'>(35).fill('decline'),
      ...Array<'release'>(30).fill('release'),
    ];
    expect(kinds).toHaveLength(TOTAL);
    await Promise.all(kinds.map((kind, id) => change(kind, id)));

    // No lost update: every change produced its own version, and the versions are contiguous.
    const final = await read();
    expect(new Set(versionsWritten).size).toBe(TOTAL);
    expect(final.version).toBe(agent.version + TOTAL);
    expect([...versionsWritten].sort((a, b) => a - b)).toEqual(
      Array.from({ length: TOTAL }, (_, i) => agent.version + 1 + i),
    );
    // The final ledger is exactly what the successful changes imply.
    const outstanding = [...created].filter((id) => !accepted.has(id) && !declined.has(id)).sort();
    expect(Object.keys(final.offers).sort()).toEqual(outstanding);
    expect(Object.keys(final.tasks).sort()).toEqual([...launched].filter((key) => !released.has(key)).sort());
    // At every moment seen (each write's image and each read), offered + allocated fit in the total.
    for (const snapshot of snapshots) expect(ledgerViolation(snapshot), `version ${snapshot.version}`).toBeUndefined();
    expect(new Set(snapshots.map((s) => s.version)).size).toBeGreaterThanOrEqual(TOTAL);
    expect(conflicts).toBeGreaterThan(0); // the races really happened
    expect(quantities(final.total)).toEqual(quantities(agent.total));
    // 20 s in CI's full runs and 35 s on a shared 2-core machine, against the 60 s default: the races, not their
    // speed, are what is tested.
  }, 180_000);
});
