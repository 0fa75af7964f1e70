/**
 * Allocation policies: Mantle's allocation modules. Mesos lets a module replace the whole allocator and
 * offers the sorter (`--role_sorter`) as the lighter extension point; here the allocator's mechanics —
 * offers, reservations, quota limits, filters, capabilities — are fixed, and a policy decides only the
 * order in which sibling roles of the role tree are served. Frameworks inside a role are always ordered
 * by DRF, as Mesos's framework sorter does.
 *
 * Contract: `compare` is a total order, and giving a role more resources never moves it earlier
 * (the sorter re-positions a role after each agent it was given).
 */
import type { AllocatorConfig } from './config.js';

/** Where a role stands when siblings are ordered. */
export interface RoleStanding {
  /** The role path ("eng/backend"); the implicit leaf of a role that also has subroles carries its path. */
  readonly role: string;
  readonly weight: number;
  /** Dominant share: max over scalar resources of offered-or-allocated / cluster total, unweighted. */
  readonly share: number;
  /** How many (framework, agent) allocations the role holds, Mesos's first tie-breaker. */
  readonly allocations: number;
}

export interface AllocationPolicy {
  readonly name: string;
  /** Negative when `a` is served before `b`. */
  compare(a: RoleStanding, b: RoleStanding): number;
}

function byName(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Mesos's DRF sorter order: weighted dominant share, then fewer allocations, then the path. */
export function compareDrf(a: RoleStanding, b: RoleStanding): number {
  return a.share / a.weight - b.share / b.weight || a.allocations - b.allocations || byName(a.role, b.role);
}

/** Hierarchical weighted DRF: Mesos's default HierarchicalDRF allocator. */
export const drfPolicy: AllocationPolicy = { name: 'drf', compare: compareDrf };

/**
 * Strict priority by weight: a role is served before every role of lower weight, whatever their
 * shares; roles of equal weight share by DRF. Uses the operator's weights, so needs no other setting.
 */
export const strictPriorityPolicy: AllocationPolicy = {
  name: 'strict-priority',
  compare: (a, b) => b.weight - a.weight || compareDrf(a, b),
};

/**
 * Multilevel queue: roles grouped into priority levels, strictly ordered between levels, DRF inside a
 * level (the foreground/background split of batch clusters). A role takes the level of its nearest
 * listed ancestor-or-self; unlisted roles form a last level. Levels order siblings, so a cluster-wide
 * split lists top-level roles.
 */
export function multilevelPolicy(levels: readonly (readonly string[])[]): AllocationPolicy {
  const configured = new Map<string, number>();
  levels.forEach((roles, level) => {
    for (const role of roles) if (!configured.has(role)) configured.set(role, level);
  });
  const memo = new Map<string, number>();
  const levelOf = (role: string): number => {
    let level = memo.get(role);
    if (level === undefined) {
      level = levels.length;
      for (let path = role; ; path = path.slice(0, path.lastIndexOf('/'))) {
        const found = configured.get(path);
        if (found !== undefined) {
          level = found;
          break;
        }
        if (!path.includes('/')) break;
      }
      memo.set(role, level);
    }
    return level;
  };
  return { name: 'multilevel', compare: (a, b) => levelOf(a.role) - levelOf(b.role) || compareDrf(a, b) };
}

export function policyFromConfig(config: Pick<AllocatorConfig, 'policy' | 'levels'>): AllocationPolicy {
  switch (config.policy) {
    case 'drf':
      return drfPolicy;
    case 'strict-priority':
      return strictPriorityPolicy;
    case 'multilevel':
      return multilevelPolicy(config.levels);
  }
}
