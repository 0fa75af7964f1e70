/**
 * The heart of an allocation pass (Mesos HierarchicalAllocatorProcess::__allocate): the walk over the
 * candidate agents. Each agent in turn is served to the role tree in sort order, roles in policy order
 * and frameworks in DRF order within a role; each eligible framework is offered everything still free
 * on the agent that its role may use, within quota, capabilities, constraints, minimum allocatable
 * resources and refused-offer filters. Shares are updated once per agent, as in Mesos. Pure; the
 * Allocator (allocator.ts) keeps the state between passes and turns the walk's proposals into offers.
 */
import type { Resource } from '#shared/protocol/mesos.js';
import { isAllocatableTo, isRevocable, isUnreserved } from '#shared/resources/resource.js';
import { toMillis } from '#shared/resources/values.js';
import type { AgentState, PlainRanges } from './agent-state.js';
import type { AllocatorConfig } from './config.js';
import { filterFor, type FilterMatcher } from './filters.js';
import type { MinAllocatable } from './framework-state.js';
import { addTo, quantityOf, type Quantities, type ResourceNames } from './quantities.js';
import { BLOCK, tally } from './reasons.js';
import type { AgentSnapshot } from './snapshot.js';
import type { Client, RoleNode, RoleSorter } from './sorter.js';

/** What the walk offers one client on one agent, in the pass's vectors. */
export interface Proposal {
  readonly agentId: string;
  readonly client: Client;
  readonly scalars: Quantities;
  readonly ranges: readonly PlainRanges[];
  readonly other: readonly Resource[];
}

/** An agent of the snapshot that may be allocated from, and what the allocator derived from it. */
export interface Candidate {
  readonly record: AgentSnapshot;
  readonly state: AgentState;
}

const NONE: readonly never[] = [];

/** One pass's walk over the candidate agents, with its scratch vectors. */
export class AgentWalk {
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
