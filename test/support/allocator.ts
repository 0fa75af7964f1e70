/**
 * Allocator test helpers: snapshot builders, random clusters (fast-check), and checkers that recompute
 * what must hold from the offers with the generic resource arithmetic (shared/resources), independently
 * of the allocator's compact vectors.
 */
import fc from 'fast-check';
import type {
  AgentSnapshot,
  AllocationSnapshot,
  FilterSnapshot,
  FrameworkSnapshot,
  RoleSnapshot,
} from '../../functions/allocator/snapshot.js';
import type { ProposedOffer } from '../../functions/allocator/allocator.js';
import type { QuantitySet } from '../../functions/allocator/config.js';
import { hasCapability as hasInfoCapability } from '#shared/protocol/capabilities.js';
import type { Resource } from '#shared/protocol/mesos.js';
import type { OfferConstraints } from '#shared/protocol/scheduler.js';
import { filterKey } from '#shared/ids.js';
import { canonicalResources } from '#shared/resources/parse.js';
import { isAllocatableTo, isRevocable, isUnreserved, reservationRole } from '#shared/resources/resource.js';
import { allocate, quantities, scalarTotal, subtract, unallocate } from '#shared/resources/resources.js';
import { resources } from './resources.js';

export { resources };

export const FULL_AGENT_CAPABILITIES = ['MULTI_ROLE', 'HIERARCHICAL_ROLE', 'RESERVATION_REFINEMENT'];
export const ROLES = ['*', 'eng', 'eng/web', 'ml'] as const;

function canonical(list: Resource[]): Resource[] {
  const result = canonicalResources(list);
  if (!result.ok) throw new Error(result.error.message);
  return result.value;
}

/** A seeded source for the allocator's agent order (mulberry32). */
export function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface Held {
  readonly frameworkId: string;
  readonly role: string;
  readonly resources: string | Resource[];
}

export function agent(
  agentId: string,
  total: string | Resource[],
  options: Partial<Omit<AgentSnapshot, 'agentId' | 'total' | 'offers' | 'tasks'>> & {
    offers?: readonly Held[];
    tasks?: readonly Held[];
  } = {},
): AgentSnapshot {
  const held = (list: readonly Held[] = [], prefix: string) =>
    Object.fromEntries(
      list.map((entry, i) => [
        `${prefix}${i}`,
        {
          frameworkId: entry.frameworkId,
          role: entry.role,
          resources: allocate(
            typeof entry.resources === 'string' ? resources(entry.resources) : entry.resources,
            entry.role,
          ),
        },
      ]),
    );
  const { offers, tasks, ...rest } = options;
  return {
    agentId,
    hostname: `${agentId}.example`,
    version: 1,
    status: 'ACTIVE',
    deactivated: false,
    attributes: [],
    capabilities: FULL_AGENT_CAPABILITIES,
    ...rest,
    total: typeof total === 'string' ? resources(total) : total,
    offers: held(offers, 'offer-'),
    tasks: held(tasks, 'task-'),
  };
}

export function framework(
  frameworkId: string,
  options: {
    roles?: readonly string[];
    capabilities?: readonly string[];
    suppressed?: readonly string[];
    filters?: readonly FilterSnapshot[];
    constraints?: OfferConstraints;
    status?: FrameworkSnapshot['status'];
    version?: number;
    minAllocatable?: Readonly<Record<string, readonly QuantitySet[]>>;
  } = {},
): FrameworkSnapshot {
  const roles = options.roles ?? ['*'];
  const capabilities = options.capabilities ?? (roles.length > 1 ? ['MULTI_ROLE'] : []);
  return {
    frameworkId,
    version: options.version ?? 1,
    status: options.status ?? 'SUBSCRIBED',
    roles: [...roles],
    suppressedRoles: [...(options.suppressed ?? [])],
    info: {
      capabilities: capabilities.map((type) => ({ type: type as never })),
      ...(options.minAllocatable
        ? {
            offer_filters: Object.fromEntries(
              Object.entries(options.minAllocatable).map(([role, sets]) => [
                role,
                {
                  min_allocatable_resources: {
                    quantities: sets.map((set) => ({
                      quantities: Object.fromEntries(Object.entries(set).map(([name, value]) => [name, { value }])),
                    })),
                  },
                },
              ]),
            ),
          }
        : {}),
    },
    filters: Object.fromEntries(
      (options.filters ?? []).map((filter) => [filterKey(filter.role, filter.agentId), filter]),
    ),
    ...(options.constraints ? { offerConstraints: options.constraints } : {}),
  };
}

export function role(
  name: string,
  weight = 1,
  limits: Record<string, number> = {},
  guarantees: Record<string, number> = {},
): RoleSnapshot {
  return { role: name, weight, quota: { limits, guarantees } };
}

// ------------------------------------------------------------------------------------ random clusters

const RACKS = ['r1', 'r2'];

const agentArbitrary = (index: number): fc.Arbitrary<AgentSnapshot> =>
  fc
    .record({
      cpus: fc.integer({ min: 1, max: 64 }).map((n) => n / 2),
      mem: fc.integer({ min: 16, max: 8192 }),
      disk: fc.option(fc.integer({ min: 1, max: 4096 })),
      gpus: fc.constantFrom(0, 0, 0, 1, 2),
      ports: fc.option(fc.tuple(fc.integer({ min: 31000, max: 31500 }), fc.integer({ min: 0, max: 500 }))),
      reserved: fc.subarray(['eng', 'eng/web', 'ml'] as const, { maxLength: 2 }),
      refined: fc.boolean(),
      revocable: fc.option(fc.integer({ min: 1, max: 8 })),
      task: fc.option(fc.tuple(fc.constantFrom('fw-0', 'fw-1', 'fw-9'), fc.constantFrom(...ROLES))),
      status: fc.constantFrom<AgentSnapshot['status']>('ACTIVE', 'ACTIVE', 'ACTIVE', 'ACTIVE', 'UNREACHABLE'),
      deactivated: fc.constantFrom(false, false, false, true),
      capabilities: fc.constantFrom(
        FULL_AGENT_CAPABILITIES,
        FULL_AGENT_CAPABILITIES,
        ['HIERARCHICAL_ROLE'],
        ['MULTI_ROLE'],
      ),
      rack: fc.constantFrom(...RACKS),
      version: fc.integer({ min: 1, max: 100 }),
    })
    .map((a) => {
      const text = [
        `cpus:${a.cpus}`,
        `mem:${a.mem}`,
        ...(a.disk !== null ? [`disk:${a.disk}`] : []),
        ...(a.gpus > 0 ? [`gpus:${a.gpus}`] : []),
        ...(a.ports !== null ? [`ports:[${a.ports[0]}-${a.ports[0] + a.ports[1]}]`] : []),
        ...a.reserved.map((owner) => `cpus(${owner}):2;mem(${owner}):256`),
      ].join(';');
      const extra: Resource[] = [];
      if (a.refined) {
        extra.push({
          name: 'disk',
          type: 'SCALAR',
          scalar: { value: 64 },
          reservations: [
            { type: 'STATIC', role: 'eng' },
            { type: 'DYNAMIC', role: 'eng/web', principal: 'ops' },
          ],
        });
      }
      if (a.revocable !== null)
        extra.push({ name: 'cpus', type: 'SCALAR', scalar: { value: a.revocable }, revocable: {} });
      const total = canonical([...resources(text), ...extra]);
      const tasks: Held[] =
        a.task !== null && a.cpus >= 1 && a.mem >= 32
          ? [{ frameworkId: a.task[0], role: a.task[1], resources: 'cpus:0.5;mem:32' }]
          : [];
      return agent(`agent-${index}`, total, {
        version: a.version,
        status: a.status,
        deactivated: a.deactivated,
        capabilities: a.capabilities,
        attributes: [{ name: 'rack', type: 'TEXT', text: { value: a.rack } }],
        tasks,
      });
    });

/** Covers anything the generated agents have. */
const EVERYTHING = canonical([
  ...resources(
    'cpus:64;mem:8192;disk:4096;gpus:2;ports:[31000-32000];cpus(eng):4;mem(eng):512;cpus(eng/web):4;mem(eng/web):512',
  ),
  ...resources('cpus(ml):4;mem(ml):512'),
  { name: 'cpus', type: 'SCALAR', scalar: { value: 8 }, revocable: {} },
  {
    name: 'disk',
    type: 'SCALAR',
    scalar: { value: 64 },
    reservations: [
      { type: 'STATIC', role: 'eng' },
      { type: 'DYNAMIC', role: 'eng/web', principal: 'ops' },
    ],
  },
]);

const CAPABILITIES = [
  'GPU_RESOURCES',
  'REVOCABLE_RESOURCES',
  'RESERVATION_REFINEMENT',
  'SHARED_RESOURCES',
  'REGION_AWARE',
];

function frameworkArbitrary(index: number, agentIds: readonly string[], now: number): fc.Arbitrary<FrameworkSnapshot> {
  return fc
    .record({
      multiRole: fc.boolean(),
      roles: fc.subarray([...ROLES], { minLength: 1, maxLength: 3 }),
      capabilities: fc.subarray(CAPABILITIES),
      suppressed: fc.subarray([...ROLES]),
      status: fc.constantFrom<FrameworkSnapshot['status']>(
        'SUBSCRIBED',
        'SUBSCRIBED',
        'SUBSCRIBED',
        'DISCONNECTED',
        'INACTIVE',
      ),
      filters: fc.array(
        fc.record({
          agent: fc.constantFrom(...agentIds),
          resources: fc.constantFrom(
            'cpus:0.5;mem:32',
            'cpus:64;mem:8192;disk:4096;gpus:2;ports:[31000-32000]',
            'cpus:32',
          ),
          expired: fc.boolean(),
        }),
        { maxLength: 4 },
      ),
      /** Declined every agent with a filter covering all it has (a framework with nothing to run). */
      declinedAll: fc.constantFrom(false, false, false, true),
      rack: fc.option(fc.constantFrom(...RACKS), { freq: 4 }),
      minimum: fc.option(fc.constantFrom<QuantitySet[]>([{ cpus: 4 }], [], [{ mem: 1024 }, { gpus: 1 }]), { freq: 4 }),
    })
    .map((f) => {
      const roles = f.multiRole ? f.roles : f.roles.slice(0, 1);
      const frameworkRole = roles[0] as string;
      return framework(`fw-${index}`, {
        roles,
        capabilities: [...f.capabilities, ...(f.multiRole ? ['MULTI_ROLE'] : [])],
        suppressed: f.suppressed.filter((r) => roles.includes(r)),
        status: f.status,
        filters: [
          ...f.filters.map((filter) => ({
            role: frameworkRole,
            agentId: filter.agent,
            resources: resources(filter.resources),
            expiresAt: filter.expired ? now - 1 : now + 60_000,
          })),
          ...(f.declinedAll
            ? agentIds.map((agentId) => ({
                role: frameworkRole,
                agentId,
                resources: EVERYTHING,
                expiresAt: now + 60_000,
              }))
            : []),
        ],
        ...(f.rack !== null
          ? {
              constraints: {
                role_constraints: {
                  [frameworkRole]: {
                    groups: [
                      {
                        attribute_constraints: [
                          { selector: { attribute_name: 'rack' }, predicate: { text_equals: { value: f.rack } } },
                        ],
                      },
                    ],
                  },
                },
              },
            }
          : {}),
        ...(f.minimum !== null ? { minAllocatable: { [frameworkRole]: f.minimum } } : {}),
      });
    });
}

const rolesArbitrary: fc.Arbitrary<RoleSnapshot[]> = fc
  .record({
    weights: fc.tuple(...ROLES.map(() => fc.constantFrom(1, 1, 2, 3))),
    engLimit: fc.option(
      fc.oneof(
        fc.record({ cpus: fc.integer({ min: 0, max: 40 }), mem: fc.integer({ min: 0, max: 4096 }) }),
        fc.constant({ cpus: 0, mem: 0, disk: 0, gpus: 0 }),
      ),
    ),
    mlLimit: fc.option(fc.record({ cpus: fc.integer({ min: 0, max: 20 }) })),
    starLimit: fc.option(fc.record({ gpus: fc.integer({ min: 0, max: 2 }) })),
    engGuarantee: fc.option(fc.record({ cpus: fc.integer({ min: 0, max: 10 }) })),
  })
  .map((r) => {
    const quota = (name: string) =>
      name === 'eng' ? (r.engLimit ?? {}) : name === 'ml' ? (r.mlLimit ?? {}) : name === '*' ? (r.starLimit ?? {}) : {};
    return ROLES.map((name, i) =>
      role(name, r.weights[i] as number, quota(name), name === 'eng' ? (r.engGuarantee ?? {}) : {}),
    );
  });

export const NOW = 1_800_000_000_000;

/** A random cluster: agents with reservations, revocable and refined resources, tasks, GPUs; frameworks with every feature. */
export const clusterArbitrary: fc.Arbitrary<AllocationSnapshot> = fc
  .integer({ min: 1, max: 10 })
  .chain((agents) => {
    const agentIds = Array.from({ length: agents }, (_, i) => `agent-${i}`);
    return fc.record({
      agents: fc.tuple(...agentIds.map((_, i) => agentArbitrary(i))),
      frameworks: fc
        .integer({ min: 1, max: 6 })
        .chain((n) => fc.tuple(...Array.from({ length: n }, (_, i) => frameworkArbitrary(i, agentIds, NOW)))),
      roles: rolesArbitrary,
    });
  })
  .map(({ agents, frameworks, roles }) => ({ agents, frameworks, roles, now: NOW }));

// ------------------------------------------------------------------------------------------ checkers

/** What is free on the agent before the pass, with the registrar's (list-based) ledger arithmetic. */
export function freeBefore(snapshot: AgentSnapshot): Resource[] {
  const held = [...Object.values(snapshot.offers), ...Object.values(snapshot.tasks)].flatMap(
    (entry) => entry.resources,
  );
  return subtract(snapshot.total, unallocate(held));
}

export function hasCapability(framework: FrameworkSnapshot, capability: string): boolean {
  return hasInfoCapability(framework.info, capability);
}

/** Quota consumption of `quotaRole` per Mesos: reservations to it or below, plus unreserved non-revocable held or offered. */
export function quotaConsumption(
  snapshot: AllocationSnapshot,
  offers: readonly ProposedOffer[],
  quotaRole: string,
  name: string,
): number {
  const within = (r: string) => r === quotaRole || r.startsWith(`${quotaRole}/`);
  let total = 0;
  for (const a of snapshot.agents) {
    if (a.status !== 'ACTIVE') continue;
    for (const r of a.total) {
      if (r.name === name && r.type === 'SCALAR' && !isUnreserved(r) && !isRevocable(r) && within(reservationRole(r))) {
        total += r.scalar?.value ?? 0;
      }
    }
    for (const held of [...Object.values(a.offers), ...Object.values(a.tasks)]) {
      if (!within(held.role)) continue;
      total += scalarTotal(
        held.resources.filter((r) => isUnreserved(r) && !isRevocable(r)),
        name,
      );
    }
  }
  for (const offer of offers) {
    if (!within(offer.role)) continue;
    total += scalarTotal(
      offer.resources.filter((r) => isUnreserved(r) && !isRevocable(r)),
      name,
    );
  }
  return Math.round(total * 1000) / 1000;
}

/** Dominant share of some resources over the cluster total of ACTIVE agents. */
export function dominantShare(
  snapshot: AllocationSnapshot,
  held: readonly Resource[],
  excluded: readonly string[] = [],
): number {
  const totals = quantities(
    snapshot.agents.filter((a) => a.status === 'ACTIVE').flatMap((a) => a.total.filter((r) => r.type === 'SCALAR')),
  );
  const mine = quantities(held.filter((r) => r.type === 'SCALAR'));
  let share = 0;
  for (const [name, amount] of Object.entries(mine)) {
    const total = totals[name] ?? 0;
    if (total > 0 && !excluded.includes(name)) share = Math.max(share, amount / total);
  }
  return share;
}

/** The min-allocatable check, recomputed from the offer's quantities. */
export function meetsMinimum(offer: readonly Resource[], sets: readonly QuantitySet[]): boolean {
  if (offer.length === 0) return false;
  if (sets.length === 0) return true;
  const have = quantities(offer);
  return sets.some((set) => Object.entries(set).every(([name, value]) => (have[name] ?? 0) >= value - 1e-9));
}

export function frameworkMinimum(
  f: FrameworkSnapshot,
  r: string,
  fallback: readonly QuantitySet[],
): readonly QuantitySet[] {
  const own = f.info.offer_filters?.[r]?.min_allocatable_resources;
  if (!own) return fallback;
  return (own.quantities ?? []).map((entry) =>
    Object.fromEntries(Object.entries(entry.quantities ?? {}).map(([name, { value }]) => [name, value])),
  );
}

/** What of `free` the framework may be offered in `role`: allocatable to it and capability-stripped. */
export function usableBy(free: readonly Resource[], f: FrameworkSnapshot, r: string): Resource[] {
  return free.filter(
    (resource) =>
      isAllocatableTo(resource, r) &&
      (!resource.revocable || hasCapability(f, 'REVOCABLE_RESOURCES')) &&
      (!resource.shared || hasCapability(f, 'SHARED_RESOURCES')) &&
      ((resource.reservations?.length ?? 0) <= 1 || hasCapability(f, 'RESERVATION_REFINEMENT')),
  );
}
