/**
 * The allocator: a pure pass from a snapshot (agents with their ledgers, frameworks, roles) to offers,
 * following Mesos's HierarchicalAllocatorProcess::__allocate (spec §4.2): for each candidate agent, in
 * random order, roles in policy order, frameworks in DRF order; each eligible framework is offered
 * everything still available on the agent that its role may use (coarse-grained offers), with
 * reservations only for their role and its subroles, unreserved scalars capped by quota limits,
 * capability filters (GPU_RESOURCES, MULTI_ROLE, HIERARCHICAL_ROLE, REGION_AWARE, revocable, shared,
 * refined reservations), offer constraints, minimum allocatable resources and refused-offer filters.
 *
 * No I/O. An instance may be kept between passes (a warm Lambda keeps it): it then re-derives only the
 * agents and frameworks whose version changed, and keeps the cluster's totals up to date by
 * difference. A cold instance given the same snapshot produces the same offers.
 */
import type { Resource } from '../../shared/protocol/mesos.js';
import { isAllocatableTo, isRevocable, isUnreserved } from '../../shared/resources/resource.js';
import { toMillis } from '../../shared/resources/values.js';
import { clientKey, compileAgent, type AgentState, type PlainRanges } from './agent-state.js';
import { allocatorConfig, type AllocatorConfig } from './config.js';
import { FilterMatcher, filterFor } from './filters.js';
import {
  compileFramework,
  compileMinAllocatable,
  type FrameworkState,
  type MinAllocatable,
} from './framework-state.js';
import { policyFromConfig, type AllocationPolicy } from './policies.js';
import { addTo, quantityOf, ResourceNames, type Quantities } from './quantities.js';
import { BLOCK, pendingReason, tally, type PendingReason } from './reasons.js';
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

interface Proposal {
  readonly agentId: string;
  readonly client: Client;
  readonly scalars: Quantities;
  readonly ranges: readonly PlainRanges[];
  readonly other: readonly Resource[];
}

interface Candidate {
  readonly record: AgentSnapshot;
  readonly state: AgentState;
}

const NONE: readonly never[] = [];

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
    const pass = new Pass(this.config, this.names, this.matcher, this.minAllocatable, sorter, snapshot.now, size);
    for (const candidate of candidates) pass.serve(candidate);

    const offers = pass.proposals.map((proposal) => this.offerOf(proposal));
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
        checks: pass.checks,
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

/** One pass's walk over the candidate agents, with its scratch vectors. */
class Pass {
  readonly proposals: Proposal[] = [];
  checks = 0;
  // The agent being served: what is still free on it.
  private readonly free: Quantities;
  private ranges: readonly PlainRanges[] = NONE;
  private other: readonly Resource[] = NONE;
  private agent!: AgentState;
  private record!: AgentSnapshot;
  // The role's room under its quota limits, and the offer being shaped.
  private readonly room: Quantities;
  private readonly offer: Quantities;
  private readonly quantity: Quantities;
  // What serving the agent took out of the sorter's heaps, and the allocations to record.
  private readonly poppedRoles: RoleNode[] = [];
  private readonly poppedClients: Client[] = [];
  private readonly updates: Array<{ client: Client; delta: Quantities }> = [];

  constructor(
    private readonly config: AllocatorConfig,
    private readonly names: ResourceNames,
    private readonly matcher: FilterMatcher,
    private readonly minAllocatable: MinAllocatable,
    private readonly sorter: RoleSorter,
    private readonly now: number,
    private readonly size: number,
  ) {
    this.free = new Float64Array(size);
    this.room = new Float64Array(size);
    this.offer = new Float64Array(size);
    this.quantity = new Float64Array(size);
  }

  serve({ record, state }: Candidate): void {
    this.agent = state;
    this.record = record;
    this.free.fill(0);
    this.free.set(state.free.scalars);
    this.ranges = state.free.ranges;
    this.other = state.free.other;
    this.serveChildren(this.sorter.root);
    // Shares change only after the agent (Mesos sorts once per agent); then everything popped goes back.
    for (const { client, delta } of this.updates) this.sorter.allocated(client, delta);
    for (const client of this.poppedClients) client.leaf.clients.push(client);
    for (const node of this.poppedRoles) (node.parent as RoleNode).children.push(node);
    this.updates.length = 0;
    this.poppedClients.length = 0;
    this.poppedRoles.length = 0;
  }

  /** Serves the leaves under `node` in order; true once the agent has nothing left. */
  private serveChildren(node: RoleNode): boolean {
    const children = node.children;
    while (children.size > 0) {
      const child = children.pop() as RoleNode;
      this.poppedRoles.push(child);
      if (child.leaf ? this.serveLeaf(child) : this.serveChildren(child)) return true;
    }
    return false;
  }

  private exhausted(): boolean {
    if (this.ranges.length > 0 || this.other.length > 0) return false;
    for (let i = 0; i < this.size; i++) if ((this.free[i] as number) > 0) return false;
    return true;
  }

  /** Fills `room` with the role's headroom under every quota above it; false when none applies. */
  private limit(leaf: RoleNode): boolean {
    const chain = leaf.quotaChain;
    if (chain.length === 0) return false;
    this.room.fill(Infinity);
    for (const quota of chain) {
      for (const [id, limit] of quota.limits) {
        const room = limit - (quota.consumed[id] ?? 0);
        if (id < this.size && room < (this.room[id] as number)) this.room[id] = Math.max(0, room);
      }
    }
    return true;
  }

  /** Whether anything free may still go to the role: 'yes', 'no', or 'quota' (only quota stops it). */
  private availableTo(role: string, limited: boolean): 'yes' | 'no' | 'quota' {
    if (this.ranges.length > 0) return 'yes';
    let capped = false;
    for (let i = 0; i < this.size; i++) {
      if ((this.free[i] as number) <= 0) continue;
      if (!limited || (this.room[i] as number) > 0) return 'yes';
      capped = true;
    }
    if (this.other.some((resource) => isAllocatableTo(resource, role))) return 'yes';
    return capped ? 'quota' : 'no';
  }

  private serveLeaf(leaf: RoleNode): boolean {
    const { agent, config } = this;
    const role = leaf.role;
    if (!agent.hierarchicalRole && role.includes('/')) {
      tally(leaf.blocked, BLOCK.AGENTS_INCAPABLE);
      return false;
    }
    const gpuGated = config.filterGpuResources && agent.hasGpus;
    if (gpuGated && leaf.gpuClients === 0) {
      tally(leaf.blocked, BLOCK.GPU_AGENTS_ONLY);
      return false;
    }
    let limited = this.limit(leaf);
    const available = this.availableTo(role, limited);
    if (available !== 'yes') {
      if (available === 'quota') tally(leaf.blocked, BLOCK.QUOTA_LIMIT_REACHED);
      return this.exhausted();
    }
    const remote = config.region !== undefined && agent.region !== undefined && agent.region !== config.region;
    const clients = leaf.clients;
    while (clients.size > 0) {
      const client = clients.pop() as Client;
      this.poppedClients.push(client);
      const framework = client.framework;
      this.checks++;
      if (gpuGated && !framework.gpuResources) {
        tally(client.blocked, BLOCK.GPU_AGENTS_ONLY);
        continue;
      }
      if ((framework.multiRole && !agent.multiRole) || (remote && !framework.regionAware)) {
        tally(client.blocked, BLOCK.AGENTS_INCAPABLE);
        continue;
      }
      const constraints = client.spec.constraints;
      if (constraints !== undefined && (constraints === 'invalid' || !constraints(this.record))) {
        tally(client.blocked, BLOCK.CONSTRAINTS_UNSATISFIABLE);
        continue;
      }
      const offer = this.offer;
      let empty = this.ranges.length === 0;
      for (let i = 0; i < this.size; i++) {
        const free = this.free[i] as number;
        const amount = limited && (this.room[i] as number) < free ? (this.room[i] as number) : free;
        offer[i] = amount;
        if (amount > 0) empty = false;
      }
      const other = this.other.length > 0 ? this.otherFor(client, limited) : NONE;
      if (empty && other.length === 0) {
        tally(client.blocked, BLOCK.NOTHING_FREE);
        continue;
      }
      const minimum = client.spec.minAllocatable ?? this.minAllocatable;
      if (minimum.length > 0 && !this.allocatable(minimum, this.offer, other)) {
        // Below the minimum only because of the quota cap: the limit is the reason.
        const capped = limited && this.allocatable(minimum, this.free, other);
        tally(client.blocked, capped ? BLOCK.QUOTA_LIMIT_REACHED : BLOCK.BELOW_MIN_ALLOCATABLE);
        continue;
      }
      const filter = filterFor(framework.filters, role, agent.agentId, this.now);
      if (filter && this.matcher.refuses(filter, { scalars: offer, ranges: this.ranges, other })) {
        tally(client.blocked, BLOCK.FILTERED);
        client.filteredUntil = Math.min(client.filteredUntil, filter.expiresAt);
        continue;
      }
      this.take(client, leaf, other);
      limited = this.limit(leaf);
      if (this.availableTo(role, limited) !== 'yes') break;
    }
    return this.exhausted();
  }

  /** The non-fast resources the client may get: its role's, capability-stripped, within quota. */
  private otherFor(client: Client, limited: boolean): Resource[] {
    const framework = client.framework;
    const role = client.spec.role;
    const result: Resource[] = [];
    let room: Map<number, number> | undefined;
    for (const resource of this.other) {
      if (!isAllocatableTo(resource, role)) continue;
      if (resource.revocable !== undefined && !framework.revocableResources) continue;
      if (resource.shared !== undefined && !framework.sharedResources) continue;
      if ((resource.reservations?.length ?? 0) > 1 && !framework.reservationRefinement) continue;
      if (limited && resource.type === 'SCALAR' && isUnreserved(resource) && !isRevocable(resource)) {
        // Indivisible unreserved scalars (MOUNT disks) count towards quota: whole or not at all.
        const id = this.names.id(resource.name);
        room ??= new Map();
        const left = room.get(id) ?? (this.room[id] ?? Infinity) - (this.offer[id] ?? 0);
        const millis = toMillis(resource.scalar?.value ?? 0);
        if (millis > left) continue;
        room.set(id, left - millis);
      }
      result.push(resource);
    }
    return result;
  }

  private allocatable(minimum: MinAllocatable, scalars: Quantities, other: readonly Resource[]): boolean {
    const quantity = this.quantity;
    quantity.set(scalars);
    for (const { id, count } of this.ranges) quantity[id] = (quantity[id] as number) + count;
    for (const resource of other) {
      const id = this.names.id(resource.name);
      if (id < this.size) quantity[id] = (quantity[id] as number) + quantityOf(resource);
    }
    return minimum.some((set) => set.every(([id, millis]) => (quantity[id] ?? 0) >= millis));
  }

  /** Offers the shaped resources to the client and takes them off the agent. */
  private take(client: Client, leaf: RoleNode, other: readonly Resource[]): void {
    const scalars = this.offer.slice();
    let delta = scalars;
    let consumed = scalars;
    if (other.length > 0) {
      delta = scalars.slice();
      consumed = scalars.slice();
      for (const resource of other) {
        if (resource.type !== 'SCALAR') continue;
        const id = this.names.id(resource.name);
        if (id >= this.size) continue;
        const millis = toMillis(resource.scalar?.value ?? 0);
        delta[id] = (delta[id] as number) + millis;
        if (isUnreserved(resource) && !isRevocable(resource)) consumed[id] = (consumed[id] as number) + millis;
      }
      this.other = this.other.filter((resource) => !other.includes(resource));
    }
    for (let i = 0; i < this.size; i++) this.free[i] = (this.free[i] as number) - (scalars[i] as number);
    const ranges = this.ranges;
    this.ranges = NONE;
    for (const quota of leaf.quotaChain) addTo(quota.consumed, consumed);
    client.offered = true;
    this.proposals.push({ agentId: this.agent.agentId, client, scalars, ranges, other });
    this.updates.push({ client, delta });
  }
}
