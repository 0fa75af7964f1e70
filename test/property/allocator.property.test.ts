/**
 * Properties of the allocator over random clusters. Every check recomputes what must hold from the
 * snapshot and the offers with the generic resource arithmetic (shared/resources), not with the
 * allocator's own vectors.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Allocator, type AllocationResult, type ProposedOffer } from '../../functions/allocator/allocator.js';
import { allocatorConfig, type QuantitySet } from '../../functions/allocator/config.js';
import type { AgentSnapshot, AllocationSnapshot, FrameworkSnapshot } from '../../functions/allocator/snapshot.js';
import { isActiveFramework } from '../../functions/allocator/snapshot.js';
import { filterKey } from '#shared/ids.js';
import { takeInTurn } from '../../functions/registrar/index.js';
import { groupBy } from '#shared/collections.js';
import type { Resource } from '#shared/protocol/mesos.js';
import { isAllocatableTo, isRevocable, isUnreserved } from '#shared/resources/resource.js';
import { allocate, contains, equals, isEmpty, subtract, unallocate } from '#shared/resources/resources.js';
import {
  agent,
  clusterArbitrary,
  dominantShare,
  framework,
  frameworkMinimum,
  freeBefore,
  hasCapability,
  meetsMinimum,
  NOW,
  quotaConsumption,
  resources,
  role,
  seeded,
  usableBy,
} from '../support/allocator.js';

const RUNS = 200;

const MINIMUM: QuantitySet[] = [{ cpus: 0.01 }, { mem: 32 }];

function isCandidate(a: AgentSnapshot, agentIds?: ReadonlySet<string>): boolean {
  return a.status === 'ACTIVE' && !a.deactivated && (agentIds === undefined || agentIds.has(a.agentId));
}

function passes(a: AgentSnapshot, f: FrameworkSnapshot, r: string): boolean {
  const constraints = f.offerConstraints?.role_constraints?.[r];
  if (!constraints) return true;
  // The generator only makes `rack text_equals` constraints.
  const wanted = constraints.groups?.[0]?.attribute_constraints?.[0]?.predicate.text_equals?.value;
  return a.attributes.some((attribute) => attribute.name === 'rack' && attribute.text?.value === wanted);
}

function capable(a: AgentSnapshot, f: FrameworkSnapshot, r: string): boolean {
  const gpus = a.total.some((resource) => resource.name === 'gpus');
  return (
    (!gpus || hasCapability(f, 'GPU_RESOURCES')) &&
    (!hasCapability(f, 'MULTI_ROLE') || a.capabilities.includes('MULTI_ROLE')) &&
    (!r.includes('/') || a.capabilities.includes('HIERARCHICAL_ROLE'))
  );
}

/** Unreserved non-revocable scalars beyond the quota room of every limited role above `r` are dropped. */
function capByQuota(
  usable: Resource[],
  snapshot: AllocationSnapshot,
  offers: readonly ProposedOffer[],
  r: string,
): Resource[] {
  let result = usable;
  for (const q of snapshot.roles) {
    if (!(r === q.role || r.startsWith(`${q.role}/`))) continue;
    for (const [name, limit] of Object.entries(q.quota.limits)) {
      const room = limit - quotaConsumption(snapshot, offers, q.role, name);
      result = result.flatMap((resource) => {
        if (resource.name !== name || resource.type !== 'SCALAR' || !isUnreserved(resource) || isRevocable(resource))
          return [resource];
        const value = Math.min(resource.scalar?.value ?? 0, Math.max(0, Math.round(room * 1000) / 1000));
        return value > 0 ? [{ ...resource, scalar: { value } }] : [];
      });
    }
  }
  return result;
}

function checkInvariants(snapshot: AllocationSnapshot, result: AllocationResult, agentIds?: ReadonlySet<string>): void {
  const agents = new Map(snapshot.agents.map((a) => [a.agentId, a]));
  const frameworks = new Map(snapshot.frameworks.map((f) => [f.frameworkId, f]));
  const seen = new Set<string>();
  for (const offer of result.offers) {
    const a = agents.get(offer.agentId) as AgentSnapshot;
    const f = frameworks.get(offer.frameworkId) as FrameworkSnapshot;
    // Only candidate agents, active frameworks, unsuppressed roles of theirs; one offer per framework, role and agent.
    expect(isCandidate(a, agentIds)).toBe(true);
    expect(isActiveFramework(f) && f.roles.includes(offer.role) && !f.suppressedRoles.includes(offer.role)).toBe(true);
    const key = `${offer.frameworkId} ${offer.role} ${offer.agentId}`;
    expect(seen.has(key)).toBe(false);
    seen.add(key);
    expect(isEmpty(offer.resources)).toBe(false);
    // Reservations only to their role and its subroles; capabilities respected; GPU gating.
    for (const resource of offer.resources) {
      expect(isAllocatableTo(resource, offer.role)).toBe(true);
      if (resource.revocable) expect(hasCapability(f, 'REVOCABLE_RESOURCES')).toBe(true);
      if ((resource.reservations?.length ?? 0) > 1) expect(hasCapability(f, 'RESERVATION_REFINEMENT')).toBe(true);
    }
    expect(capable(a, f, offer.role)).toBe(true);
    expect(passes(a, f, offer.role)).toBe(true);
    expect(meetsMinimum(offer.resources, frameworkMinimum(f, offer.role, MINIMUM))).toBe(true);
    // Filters: no offer that an active filter of the role on the agent covers.
    const filter = f.filters[filterKey(offer.role, offer.agentId)];
    if (filter && filter.expiresAt > snapshot.now) {
      expect(contains(unallocate(filter.resources), offer.resources)).toBe(false);
    }
  }
  // Nothing offered twice or beyond what is free: every offer taken out of the free resources in turn.
  for (const [agentId, list] of groupBy(result.offers, (offer) => offer.agentId)) {
    const fit = takeInTurn(
      freeBefore(agents.get(agentId) as AgentSnapshot),
      list.map((offer) => offer.resources),
    );
    expect(fit.fits).toBe(true);
  }
  // Quota limits hold (or at least do not get worse, if reservations already exceed them).
  for (const q of snapshot.roles) {
    for (const [name, limit] of Object.entries(q.quota.limits)) {
      const before = quotaConsumption(snapshot, [], q.role, name);
      expect(quotaConsumption(snapshot, result.offers, q.role, name)).toBeLessThanOrEqual(
        Math.max(limit, before) + 1e-9,
      );
    }
  }
  // Every active framework and role without an offer has exactly one reason; the others none.
  const offeredPairs = new Set(result.offers.map((offer) => `${offer.frameworkId} ${offer.role}`));
  const expected = snapshot.frameworks
    .filter(isActiveFramework)
    .flatMap((f) => f.roles.map((r) => `${f.frameworkId} ${r}`))
    .filter((pair) => !offeredPairs.has(pair))
    .sort();
  expect(result.pending.map((p) => `${p.frameworkId} ${p.role}`).sort()).toEqual(expected);
  for (const pending of result.pending) {
    const f = frameworks.get(pending.frameworkId) as FrameworkSnapshot;
    expect(pending.code === 'SUPPRESSED').toBe(f.suppressedRoles.includes(pending.role));
    if (pending.code === 'GPU_AGENTS_ONLY') expect(hasCapability(f, 'GPU_RESOURCES')).toBe(false);
    if (pending.code === 'CONSTRAINTS_UNSATISFIABLE') expect(f.offerConstraints).toBeDefined();
    if (pending.code === 'FILTERED') expect(Object.values(f.filters).some((x) => x.role === pending.role)).toBe(true);
  }
}

/**
 * Work conservation: on every candidate agent, whatever is left that an eligible framework could have
 * been offered (usable by it, within quota, above its minimum, not covered by its filter) was offered
 * to it. Resources only shrink during a pass, so what is left at the end was there when its turn came.
 */
function checkNothingLeftBehind(snapshot: AllocationSnapshot, result: AllocationResult): void {
  for (const a of snapshot.agents) {
    if (!isCandidate(a)) continue;
    const offers = result.offers.filter((offer) => offer.agentId === a.agentId);
    const left = subtract(freeBefore(a), unallocate(offers.flatMap((offer) => offer.resources)));
    for (const f of snapshot.frameworks) {
      if (!isActiveFramework(f)) continue;
      for (const r of f.roles) {
        if (f.suppressedRoles.includes(r) || !capable(a, f, r) || !passes(a, f, r)) continue;
        if (offers.some((offer) => offer.frameworkId === f.frameworkId && offer.role === r)) continue;
        const usable = capByQuota(usableBy(left, f, r), snapshot, result.offers, r);
        if (!meetsMinimum(usable, frameworkMinimum(f, r, MINIMUM))) continue;
        const filter = f.filters[filterKey(r, a.agentId)];
        if (filter && filter.expiresAt > snapshot.now && contains(unallocate(filter.resources), usable)) continue;
        expect.fail(`${f.frameworkId} (${r}) was eligible for ${JSON.stringify(usable)} left on ${a.agentId}`);
      }
    }
  }
}

describe('the allocator over random clusters', () => {
  it('offers nothing twice or beyond what is free, keeps reservations, quota, filters, suppression, GPU gating and capabilities', () => {
    const seen = new Map<string, number>();
    const count = (what: string) => seen.set(what, (seen.get(what) ?? 0) + 1);
    fc.assert(
      fc.property(clusterArbitrary, fc.integer(), (snapshot, seed) => {
        const result = new Allocator().allocate(snapshot, { random: seeded(seed) });
        checkInvariants(snapshot, result);
        checkNothingLeftBehind(snapshot, result);
        for (const offer of result.offers) {
          count('offer');
          if (offer.resources.some((r) => !isUnreserved(r))) count('reserved resources offered');
          if (offer.resources.some((r) => r.revocable)) count('revocable resources offered');
          if (offer.role.includes('/')) count('offer to a subrole');
        }
        for (const pending of result.pending) {
          count(pending.code);
          for (const code of Object.keys(pending.agents)) count(code);
        }
      }),
      { numRuns: RUNS },
    );
    // The clusters exercise every rule the properties check (a property never put to the test proves nothing).
    for (const what of [
      'offer',
      'reserved resources offered',
      'revocable resources offered',
      'offer to a subrole',
      'SUPPRESSED',
      'FILTERED',
      'QUOTA_LIMIT_REACHED',
      'GPU_AGENTS_ONLY',
      'CONSTRAINTS_UNSATISFIABLE',
      'AGENTS_INCAPABLE',
      'BELOW_MIN_ALLOCATABLE',
      'NOTHING_FREE',
    ]) {
      expect(seen.get(what) ?? 0, what).toBeGreaterThan(0);
    }
  });

  it('allocates only the agents a trigger names', () => {
    fc.assert(
      fc.property(clusterArbitrary, fc.integer(), fc.func(fc.boolean()), (snapshot, seed, pick) => {
        const agentIds = new Set(snapshot.agents.map((a) => a.agentId).filter((id) => pick(id)));
        const result = new Allocator().allocate(snapshot, { random: seeded(seed), agentIds });
        checkInvariants(snapshot, result, agentIds);
      }),
      { numRuns: RUNS / 2 },
    );
  });
});

/** The registrar's side of a pass: offers become ledger entries (versions bump), some are declined. */
function evolve(
  snapshot: AllocationSnapshot,
  result: AllocationResult,
  step: number,
  choices: number[],
): AllocationSnapshot {
  const pick = (i: number) => (choices[(step * 7 + i) % choices.length] as number) % 4;
  const byAgent = groupBy(result.offers, (offer) => offer.agentId);
  const agents = snapshot.agents.flatMap((a, i): AgentSnapshot[] => {
    if (pick(i) === 3 && i === 0) return []; // an agent leaves
    const made = byAgent.get(a.agentId) ?? [];
    const decline = pick(i + 1) === 0;
    const offers = decline
      ? a.offers
      : {
          ...a.offers,
          ...Object.fromEntries(
            made.map((offer, k) => [`o${step}-${k}`, { ...offer, resources: allocate(offer.resources, offer.role) }]),
          ),
        };
    const tasks = pick(i + 2) === 1 ? {} : a.tasks;
    const changed = offers !== a.offers || tasks !== a.tasks || made.length > 0;
    return [{ ...a, offers, tasks, version: a.version + (changed ? 1 : 0) }];
  });
  const frameworks = snapshot.frameworks.map((f, i) => {
    const declined = result.offers.filter((offer) => offer.frameworkId === f.frameworkId && pick(i + 3) === 0);
    if (declined.length === 0) return f;
    const filters = { ...f.filters };
    for (const offer of declined) {
      filters[filterKey(offer.role, offer.agentId)] = {
        role: offer.role,
        agentId: offer.agentId,
        resources: offer.resources,
        expiresAt: snapshot.now + 10_000,
      };
    }
    return { ...f, filters, version: f.version + 1 };
  });
  return { ...snapshot, agents, frameworks, now: snapshot.now + 1000 };
}

function normalized(result: AllocationResult) {
  const resourcesKey = (list: Resource[]) =>
    JSON.stringify([...list].sort((x, y) => JSON.stringify(x).localeCompare(JSON.stringify(y))));
  return {
    offers: result.offers
      .map((offer) => `${offer.agentId} ${offer.frameworkId} ${offer.role} ${resourcesKey(offer.resources)}`)
      .sort(),
    pending: result.pending.map((p) => JSON.stringify(p)).sort(),
  };
}

describe('a warm allocator', () => {
  it('makes the same offers as a cold one, pass after pass, as agents and frameworks change', () => {
    fc.assert(
      fc.property(
        clusterArbitrary,
        fc.array(fc.nat(), { minLength: 8, maxLength: 8 }),
        fc.integer(),
        (first, choices, seed) => {
          const warm = new Allocator();
          let snapshot = first;
          for (let step = 0; step < 4; step++) {
            const fromWarm = warm.allocate(snapshot, { random: seeded(seed + step) });
            const fromCold = new Allocator().allocate(snapshot, { random: seeded(seed + step) });
            expect(normalized(fromWarm)).toEqual(normalized(fromCold));
            checkInvariants(snapshot, fromWarm);
            snapshot = evolve(snapshot, fromWarm, step, choices);
          }
        },
      ),
      { numRuns: RUNS / 2 },
    );
  });
});

// ----------------------------------------------------------------------------------------- fairness

const sizes = fc.array(fc.record({ cpus: fc.integer({ min: 1, max: 16 }), mem: fc.integer({ min: 64, max: 4096 }) }), {
  minLength: 1,
  maxLength: 40,
});

function sharesBy(
  snapshot: AllocationSnapshot,
  offers: readonly ProposedOffer[],
  key: (offer: ProposedOffer) => string,
  keys: string[],
) {
  return keys.map((k) =>
    dominantShare(
      snapshot,
      offers.filter((offer) => key(offer) === k).flatMap((offer) => offer.resources),
    ),
  );
}

describe('DRF fairness', () => {
  it('with equal weights and equal demand, dominant shares differ by at most one offer', () => {
    fc.assert(
      fc.property(sizes, fc.integer({ min: 2, max: 8 }), fc.boolean(), fc.integer(), (agentSizes, n, inRoles, seed) => {
        const agents = agentSizes.map((size, i) => agent(`a${i}`, `cpus:${size.cpus};mem:${size.mem}`));
        const ids = Array.from({ length: n }, (_, i) => `fw-${i}`);
        // All in one role, or each in its own role of equal weight: the same at either level.
        const frameworks = ids.map((id, i) => framework(id, { roles: [inRoles ? `team${i}` : '*'] }));
        const snapshot = { agents, frameworks, roles: [], now: NOW };
        const result = new Allocator().allocate(snapshot, { random: seeded(seed) });
        const shares = sharesBy(snapshot, result.offers, (offer) => offer.frameworkId, ids);
        const largestOffer = Math.max(0, ...result.offers.map((offer) => dominantShare(snapshot, offer.resources)));
        expect(Math.max(...shares) - Math.min(...shares)).toBeLessThanOrEqual(largestOffer + 1e-9);
      }),
      { numRuns: RUNS },
    );
  });

  it('with weights 1:3, shares follow 1:3 (within one offer)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 8, max: 60 }),
        fc.integer({ min: 1, max: 3 }),
        fc.integer(),
        (count, perRole, seed) => {
          const agents = Array.from({ length: count }, (_, i) => agent(`a${i}`, 'cpus:4;mem:1024'));
          const frameworks = Array.from({ length: perRole * 2 }, (_, i) =>
            framework(`fw-${i}`, { roles: [i % 2 === 0 ? 'light' : 'heavy'] }),
          );
          const snapshot = { agents, frameworks, roles: [role('light', 1), role('heavy', 3)], now: NOW };
          const result = new Allocator().allocate(snapshot, { random: seeded(seed) });
          const [light, heavy] = sharesBy(snapshot, result.offers, (offer) => offer.role, ['light', 'heavy']) as [
            number,
            number,
          ];
          const one = 1 / count;
          expect(Math.abs(light - heavy / 3)).toBeLessThanOrEqual(one + 1e-9);
          expect(light + heavy).toBeCloseTo(1, 9);
        },
      ),
      { numRuns: RUNS },
    );
  });

  it('honours --fair_sharing_excluded_resource_names', () => {
    const snapshot: AllocationSnapshot = {
      agents: [
        agent('a0', 'cpus:1;mem:100;gpus:8', {
          tasks: [
            { frameworkId: 'fw-gpu', role: '*', resources: 'gpus:8' },
            { frameworkId: 'fw-cpu', role: '*', resources: 'cpus:0.5' },
          ],
        }),
        agent('a1', 'cpus:4;mem:1000'),
      ],
      frameworks: [
        framework('fw-gpu', { capabilities: ['GPU_RESOURCES'] }),
        framework('fw-cpu', { capabilities: ['GPU_RESOURCES'] }),
      ],
      roles: [],
      now: NOW,
    };
    const counted = new Allocator().allocate(snapshot, { random: seeded(1), agentIds: new Set(['a1']) });
    expect(counted.offers.map((offer) => offer.frameworkId)).toEqual(['fw-cpu']);
    const excluded = new Allocator(allocatorConfig({ fairSharingExcludedResourceNames: ['gpus'] }));
    // Without gpus in the share, fw-gpu's share is 0 and fw-cpu's 0.1.
    expect(
      excluded.allocate(snapshot, { random: seeded(1), agentIds: new Set(['a1']) }).offers.map((o) => o.frameworkId),
    ).toEqual(['fw-gpu']);
  });
});

describe('strict levels', () => {
  it('a lower level gets an agent only when no framework of a higher level can use it', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ gpus: fc.boolean(), cpus: fc.integer({ min: 1, max: 8 }) }), {
          minLength: 1,
          maxLength: 12,
        }),
        fc.array(fc.record({ level: fc.constantFrom('prod', 'batch'), gpu: fc.boolean(), suppressed: fc.boolean() }), {
          minLength: 1,
          maxLength: 6,
        }),
        fc.constantFrom('strict-priority', 'multilevel'),
        fc.integer(),
        (agentSpecs, frameworkSpecs, policy, seed) => {
          const agents = agentSpecs.map((spec, i) =>
            agent(`a${i}`, `cpus:${spec.cpus};mem:512${spec.gpus ? ';gpus:1' : ''}`),
          );
          const frameworks = frameworkSpecs.map((spec, i) =>
            framework(`fw-${i}`, {
              roles: [spec.level],
              capabilities: spec.gpu ? ['GPU_RESOURCES'] : [],
              suppressed: spec.suppressed ? [spec.level] : [],
            }),
          );
          const config =
            policy === 'multilevel' ? allocatorConfig({ policy, levels: [['prod']] }) : allocatorConfig({ policy });
          const snapshot = { agents, frameworks, roles: [role('prod', 2), role('batch', 1)], now: NOW };
          const result = new Allocator(config).allocate(snapshot, { random: seeded(seed) });
          for (const offer of result.offers.filter((o) => o.role === 'batch')) {
            const a = agents.find((x) => x.agentId === offer.agentId) as AgentSnapshot;
            const eligible = frameworks.filter(
              (f) => f.roles[0] === 'prod' && f.suppressedRoles.length === 0 && capable(a, f, 'prod'),
            );
            expect(eligible).toEqual([]);
          }
          checkInvariants(snapshot, result);
        },
      ),
      { numRuns: RUNS },
    );
  });
});

describe('offers', () => {
  it('are canonical resources a ledger accepts', () => {
    const snapshot: AllocationSnapshot = {
      agents: [agent('a1', 'cpus:2.5;mem:1024;ports:[31000-31005,31007-31009]')],
      frameworks: [framework('fw')],
      roles: [],
      now: NOW,
    };
    const [offer] = new Allocator().allocate(snapshot).offers;
    expect(equals(offer?.resources ?? [], resources('cpus:2.5;mem:1024;ports:[31000-31005,31007-31009]'))).toBe(true);
  });
});
