/**
 * The allocator: a pure pass from a snapshot (agents with their ledgers, frameworks, roles) to offers,
 * following Mesos's HierarchicalAllocatorProcess::__allocate (Mesos src/master/allocator/mesos/
 * hierarchical.cpp; docs/allocator.md): the role tree, the DRF sorter and the quota state are built
 * here, and the walk over the candidate agents (agent-walk.ts) proposes the offers: coarse-grained,
 * with reservations only for their role and its subroles, unreserved scalars capped by quota limits,
 * capability filters, offer constraints, minimum allocatable resources and refused-offer filters.
 *
 * No I/O. An instance may be kept between passes (a warm Lambda keeps it): it then re-derives only the
 * agents and frameworks whose version changed, and keeps the cluster's totals up to date by
 * difference. A cold instance given the same snapshot produces the same offers.
 */
import type { Resource } from '#shared/protocol/mesos.js';
import { toMillis } from '#shared/resources/values.js';
import { AgentWalk, type Candidate, type Proposal } from './agent-walk.js';
import { clientKey, compileAgent, type AgentState } from './agent-state.js';
import { allocatorConfig, type AllocatorConfig } from './config.js';
import { FilterMatcher } from './filters.js';
import {
  compileFramework,
  compileMinAllocatable,
  type FrameworkState,
  type MinAllocatable,
} from './framework-state.js';
import { policyFromConfig, type AllocationPolicy } from './policies.js';
import { ResourceNames, type Quantities } from './quantities.js';
import { pendingReason, type PendingReason } from './reasons.js';
import type { AgentSnapshot, AllocationSnapshot, FrameworkSnapshot } from './snapshot.js';
import { belowGuarantee, Client, RoleSorter, type QuotaState, type RoleNode } from './sorter.js';

export interface AllocateOptions {
  /** The agents to allocate (a trigger's agents); every agent when absent. */
  readonly agentIds?: ReadonlySet<string>;
  /** Agents are visited in random order, as in Mesos; inject a seeded source for reproducible passes. */
  readonly random?: () => number;
}

/** An offer the pass proposes: canonical resources, not yet allocated to the role. */
export interface ProposedOffer {
  readonly agentId: string;
  readonly frameworkId: string;
  readonly role: string;
  readonly resources: Resource[];
}

export interface RoleReport {
  readonly role: string;
  readonly weight: number;
  /** Dominant share after the pass (offered or allocated / cluster total). */
  readonly share: number;
  readonly quota?: {
    readonly guarantees: Record<string, number>;
    readonly limits: Record<string, number>;
    /** Reservations plus unreserved offered-or-allocated, after the pass. */
    readonly consumed: Record<string, number>;
  };
}

export interface AllocationStats {
  readonly agents: number;
  /** Agents allocated from: active, not draining, with something free, among those asked for. */
  readonly candidates: number;
  readonly frameworks: number;
  /** (framework, role) pairs in the sort. */
  readonly clients: number;
  readonly offers: number;
  /** (framework, agent) pairs looked at. */
  readonly checks: number;
  /** Agents and frameworks derived afresh (the rest came from the warm instance). */
  readonly agentsCompiled: number;
  readonly frameworksCompiled: number;
}

export interface AllocationResult {
  readonly offers: ProposedOffer[];
  /** One reason for every active framework and role that got no offer in this pass. */
  readonly pending: PendingReason[];
  readonly roles: RoleReport[];
  readonly stats: AllocationStats;
}

interface Holdings {
  readonly scalars: number[];
  readonly quota: number[];
  allocations: number;
}

function accumulate(target: number[], source: Quantities, sign: number): void {
  while (target.length < source.length) target.push(0);
  for (let i = 0; i < source.length; i++) target[i] = (target[i] as number) + sign * (source[i] as number);
}

function vectorOf(values: readonly number[] | undefined, size: number): Quantities {
  const vector = new Float64Array(size);
  if (values) vector.set(values.slice(0, size));
  return vector;
}

function shuffle<T>(items: T[], random: () => number): void {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [items[i], items[j]] = [items[j] as T, items[i] as T];
  }
}

export class Allocator {
  readonly config: AllocatorConfig;
  readonly policy: AllocationPolicy;
  private readonly names = new ResourceNames();
  private readonly minAllocatable: MinAllocatable;
  private readonly matcher = new FilterMatcher(this.names);
  private readonly agents = new Map<string, { state: AgentState; stamp: number }>();
  private readonly frameworks = new Map<string, { state: FrameworkState; stamp: number }>();
  // Running sums over the agents in `agents` (their ACTIVE ones), kept by difference.
  private readonly clusterTotal: number[] = [];
  private readonly roleHoldings = new Map<string, Holdings>();
  private readonly clientHoldings = new Map<string, Holdings>();
  private readonly reservations = new Map<string, number[]>();
  private stamp = 0;

  constructor(config: AllocatorConfig = allocatorConfig(), policy: AllocationPolicy = policyFromConfig(config)) {
    this.config = config;
    this.policy = policy;
    this.minAllocatable = compileMinAllocatable(config.minAllocatableResources, this.names);
  }

  allocate(snapshot: AllocationSnapshot, options: AllocateOptions = {}): AllocationResult {
    const stamp = ++this.stamp;
    const agents = this.refreshAgents(snapshot.agents, stamp);
    const frameworks = this.refreshFrameworks(snapshot.frameworks, stamp);
    const quotas = this.quotaStates(snapshot);
    const size = this.names.size;
    const { sorter, clients } = this.buildSorter(snapshot, frameworks.states, quotas, size);

    const candidates = agents.list.filter(
      ({ record, state }) =>
        record.status === 'ACTIVE' &&
        !record.deactivated &&
        !state.free.empty &&
        (options.agentIds === undefined || options.agentIds.has(record.agentId)),
    );
    shuffle(candidates, options.random ?? Math.random);
    const walk = new AgentWalk(this.config, this.names, this.matcher, this.minAllocatable, sorter, snapshot.now, size);
    for (const candidate of candidates) walk.serve(candidate);

    const offers = walk.proposals.map((proposal) => this.offerOf(proposal));
    return {
      offers,
      pending: this.pendingReasons(frameworks.states, clients, candidates.length),
      roles: this.reportRoles(sorter, quotas),
      stats: {
        agents: agents.list.length,
        candidates: candidates.length,
        frameworks: frameworks.states.length,
        clients: clients.size,
        offers: offers.length,
        checks: walk.checks,
        agentsCompiled: agents.compiled,
        frameworksCompiled: frameworks.compiled,
      },
    };
  }

  /** Re-derives the agents whose version changed, and forgets the agents that left. */
  private refreshAgents(records: readonly AgentSnapshot[], stamp: number): { list: Candidate[]; compiled: number } {
    const list: Candidate[] = [];
    let compiled = 0;
    for (const record of records) {
      let cached = this.agents.get(record.agentId);
      if (cached?.stamp === stamp) continue; // the same agent twice in a snapshot: the first wins
      if (!cached || cached.state.version !== record.version) {
        if (cached) this.account(cached.state, -1);
        cached = { state: compileAgent(record, this.names), stamp };
        this.account(cached.state, 1);
        this.agents.set(record.agentId, cached);
        compiled++;
      }
      cached.stamp = stamp;
      list.push({ record, state: cached.state });
    }
    for (const [agentId, cached] of this.agents) {
      if (cached.stamp !== stamp) {
        this.account(cached.state, -1);
        this.agents.delete(agentId);
      }
    }
    return { list, compiled };
  }

  private refreshFrameworks(
    records: readonly FrameworkSnapshot[],
    stamp: number,
  ): { states: FrameworkState[]; compiled: number } {
    const states: FrameworkState[] = [];
    let compiled = 0;
    for (const record of records) {
      let cached = this.frameworks.get(record.frameworkId);
      if (cached?.stamp === stamp) continue;
      if (!cached || cached.state.version !== record.version) {
        cached = { state: compileFramework(record, this.names), stamp };
        this.frameworks.set(record.frameworkId, cached);
        compiled++;
      } else if (cached.state.filters !== record.filters) {
        // Filters live in their own table and change without the framework's version.
        cached.state = { ...cached.state, filters: record.filters };
      }
      cached.stamp = stamp;
      states.push(cached.state);
    }
    for (const [frameworkId, cached] of this.frameworks) {
      if (cached.stamp !== stamp) this.frameworks.delete(frameworkId);
    }
    return { states, compiled };
  }

  /** The role tree of the pass: roles that hold resources or have frameworks in the sort. */
  private buildSorter(
    snapshot: AllocationSnapshot,
    frameworks: readonly FrameworkState[],
    quotas: readonly QuotaState[],
    size: number,
  ): { sorter: RoleSorter; clients: Map<string, Client> } {
    const excluded = new Set(this.config.fairSharingExcludedResourceNames);
    const inverse = new Float64Array(size);
    for (let i = 0; i < size; i++) {
      const total = this.clusterTotal[i] ?? 0;
      inverse[i] = total > 0 && !excluded.has(this.names.names[i] as string) ? 1 / total : 0;
    }
    const weights = new Map<string, number>();
    for (const role of snapshot.roles) {
      if (Number.isFinite(role.weight) && role.weight > 0) weights.set(role.role, role.weight);
    }

    const sorter = new RoleSorter(this.policy, inverse, size, weights);
    for (const role of this.roleHoldings.keys()) sorter.node(role);
    for (const framework of frameworks) {
      if (framework.active) for (const spec of framework.roles) if (!spec.suppressed) sorter.node(spec.role);
    }
    for (const quota of quotas) {
      const node = sorter.get(quota.role);
      if (node) {
        node.quota = quota;
        node.rank = belowGuarantee(quota) ? 0 : 1;
      }
    }
    for (const node of sorter.roles()) {
      for (let at: RoleNode | undefined = node; at && at !== sorter.root; at = at.parent) {
        if (at.quota) node.quotaChain.push(at.quota);
      }
    }
    for (const [role, holdings] of this.roleHoldings) {
      sorter.hold(sorter.leaf(role), vectorOf(holdings.scalars, size), holdings.allocations);
    }
    const clients = new Map<string, Client>();
    for (const framework of frameworks) {
      if (!framework.active) continue;
      for (const spec of framework.roles) {
        if (spec.suppressed) continue;
        const leaf = sorter.leaf(spec.role);
        if (leaf.implicit) leaf.quotaChain = (leaf.parent as RoleNode).quotaChain;
        const key = clientKey(framework.frameworkId, spec.role);
        const held = this.clientHoldings.get(key);
        const client = new Client(framework, spec, leaf, vectorOf(held?.scalars, size), held?.allocations ?? 0);
        sorter.addClient(client);
        clients.set(key, client);
      }
    }
    sorter.sort();
    return { sorter, clients };
  }

  private pendingReasons(
    frameworks: readonly FrameworkState[],
    clients: ReadonlyMap<string, Client>,
    candidates: number,
  ): PendingReason[] {
    const pending: PendingReason[] = [];
    for (const framework of frameworks) {
      if (!framework.active) continue;
      for (const spec of framework.roles) {
        const client = clients.get(clientKey(framework.frameworkId, spec.role));
        if (client?.offered) continue;
        const quota = client ? this.quotaAtLimit(client.leaf) : undefined;
        pending.push(
          pendingReason({
            frameworkId: framework.frameworkId,
            role: spec.role,
            suppressed: spec.suppressed,
            candidates,
            ...(client ? { client, roleBlocked: client.leaf.blocked } : {}),
            ...(quota ? { quota } : {}),
          }),
        );
      }
    }
    return pending;
  }

  /** Adds (or with -1 removes) what an agent contributes to the cluster's running sums. */
  private account(state: AgentState, sign: 1 | -1): void {
    if (!state.counted) return;
    accumulate(this.clusterTotal, state.totalScalars, sign);
    for (const [role, reserved] of state.reservations) {
      let sum = this.reservations.get(role);
      if (!sum) this.reservations.set(role, (sum = []));
      accumulate(sum, reserved, sign);
      if (sum.every((value) => value === 0)) this.reservations.delete(role);
    }
    for (const holding of state.holdings) {
      for (const [map, key] of [
        [this.roleHoldings, holding.role],
        [this.clientHoldings, holding.key],
      ] as const) {
        let sum = map.get(key);
        if (!sum) map.set(key, (sum = { scalars: [], quota: [], allocations: 0 }));
        accumulate(sum.scalars, holding.scalars, sign);
        accumulate(sum.quota, holding.quotaScalars, sign);
        sum.allocations += sign;
        // Sums are exact integers: no allocation left means nothing left.
        if (sum.allocations === 0) map.delete(key);
      }
    }
  }

  private quotaStates(snapshot: AllocationSnapshot): QuotaState[] {
    const quotas: QuotaState[] = [];
    const pairs = (quantities: Readonly<Record<string, number>>) =>
      Object.entries(quantities)
        .filter(([, value]) => Number.isFinite(value) && value >= 0)
        .map(([name, value]) => [this.names.id(name), toMillis(value)] as const);
    const configured = snapshot.roles
      .map((role) => ({ role: role.role, limits: pairs(role.quota.limits), guarantees: pairs(role.quota.guarantees) }))
      .filter((role) => role.limits.length > 0 || role.guarantees.length > 0);
    const size = this.names.size;
    for (const { role, limits, guarantees } of configured) {
      const consumed = new Float64Array(size);
      const within = (other: string) => other === role || other.startsWith(`${role}/`);
      const add = (values: readonly number[]) => {
        for (let i = 0; i < values.length && i < size; i++)
          consumed[i] = (consumed[i] as number) + (values[i] as number);
      };
      for (const [other, reserved] of this.reservations) if (within(other)) add(reserved);
      for (const [other, holdings] of this.roleHoldings) if (within(other)) add(holdings.quota);
      quotas.push({ role, limits, guarantees, consumed });
    }
    return quotas;
  }

  private quotaAtLimit(leaf: RoleNode): { role: string; resources: string[] } | undefined {
    for (const quota of leaf.quotaChain) {
      const resources = quota.limits
        .filter(([id, limit]) => (quota.consumed[id] ?? 0) >= limit)
        .map(([id]) => this.names.names[id] as string);
      if (resources.length > 0) return { role: quota.role, resources };
    }
    return undefined;
  }

  private offerOf(proposal: Proposal): ProposedOffer {
    const resources: Resource[] = [];
    const { scalars } = proposal;
    for (let i = 0; i < scalars.length; i++) {
      const millis = scalars[i] as number;
      if (millis > 0)
        resources.push({ name: this.names.names[i] as string, type: 'SCALAR', scalar: { value: millis / 1000 } });
    }
    for (const { name, ranges } of proposal.ranges) {
      resources.push({ name, type: 'RANGES', ranges: { range: ranges.map(({ begin, end }) => ({ begin, end })) } });
    }
    resources.push(...proposal.other);
    return {
      agentId: proposal.agentId,
      frameworkId: proposal.client.frameworkId,
      role: proposal.client.spec.role,
      resources,
    };
  }

  private reportRoles(sorter: RoleSorter, quotas: readonly QuotaState[]): RoleReport[] {
    const named = (pairs: ReadonlyArray<readonly [number, number]>, values?: Quantities) =>
      Object.fromEntries(
        pairs.map(([id, millis]) => [this.names.names[id] as string, (values ? (values[id] ?? 0) : millis) / 1000]),
      );
    const byRole = new Map(quotas.map((quota) => [quota.role, quota]));
    const reports: RoleReport[] = [];
    for (const node of sorter.roles()) {
      const quota = byRole.get(node.role);
      reports.push({
        role: node.role,
        weight: node.weight,
        share: node.share,
        ...(quota
          ? {
              quota: {
                guarantees: named(quota.guarantees),
                limits: named(quota.limits),
                consumed: named([...quota.limits, ...quota.guarantees], quota.consumed),
              },
            }
          : {}),
      });
    }
    return reports.sort((a, b) => (a.role < b.role ? -1 : a.role > b.role ? 1 : 0));
  }
}
