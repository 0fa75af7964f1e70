/** Roles as Mesos's GET_ROLES shows them, and the figures quota checks use. Pure. */
import type { Resource } from '#shared/protocol/mesos.js';
import { isStrictSubroleOf } from '#shared/roles.js';
import { add } from '#shared/resources/resources.js';
import type { AgentRecord, RoleRecord } from '../registrar/index.js';
import type { ClusterSnapshot } from './state.js';
import { allocations } from '../registrar/ledger.js';

function scalarTotals(resources: readonly Resource[], into: Record<string, number> = {}): Record<string, number> {
  for (const resource of resources) {
    if (resource.scalar) into[resource.name] = (into[resource.name] ?? 0) + resource.scalar.value;
  }
  return into;
}

/** What a role (and the roles below it) holds on the agents: its tasks' and executors' resources, by name. */
export function roleConsumption(agents: readonly AgentRecord[], role: string): Record<string, number> {
  const totals: Record<string, number> = {};
  for (const agent of agents) {
    if (agent.status !== 'ACTIVE') continue;
    for (const held of allocations(agent)) {
      if (held.role === role || isStrictSubroleOf(held.role, role)) scalarTotals(held.resources, totals);
    }
  }
  return totals;
}

/** The scalar resources of the agents that are registered. */
export function capacity(agents: readonly AgentRecord[]): Record<string, number> {
  const totals: Record<string, number> = {};
  for (const agent of agents) if (agent.status === 'ACTIVE') scalarTotals(agent.total, totals);
  return totals;
}

/**
 * Mesos `Role` for every role with a weight or quota, a framework (not removed) or resources allocated:
 * `{name, weight, frameworks, resources}` (`resources` being what is allocated to it).
 */
export function getRoles(records: readonly RoleRecord[], snapshot: ClusterSnapshot): Record<string, unknown>[] {
  const weights = new Map(records.map((record) => [record.role, record.weight]));
  const frameworks = new Map<string, string[]>();
  const allocated = new Map<string, Resource[]>();
  for (const framework of snapshot.frameworks) {
    if (framework.status === 'REMOVED') continue;
    for (const role of framework.roles) frameworks.set(role, [...(frameworks.get(role) ?? []), framework.frameworkId]);
  }
  for (const agent of snapshot.agents) {
    if (agent.status !== 'ACTIVE') continue;
    for (const held of allocations(agent)) {
      allocated.set(held.role, add(allocated.get(held.role) ?? [], held.resources));
    }
  }
  const names = [...new Set([...weights.keys(), ...frameworks.keys(), ...allocated.keys()])].sort();
  return names.map((name) => ({
    name,
    weight: weights.get(name) ?? 1,
    frameworks: (frameworks.get(name) ?? []).map((value) => ({ value })),
    resources: allocated.get(name) ?? [],
  }));
}
