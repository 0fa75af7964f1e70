/**
 * The hierarchical DRF sorter (Mesos src/master/allocator/mesos/sorter/drf): a tree of role paths whose
 * siblings are ordered by the policy, and per leaf role its frameworks in DRF order. A role that has
 * frameworks and subroles gets an implicit leaf for its own frameworks, as in Mesos.
 *
 * Incremental: each level is a binary heap, built once per pass. Serving an agent pops entries in
 * order until the agent is used up (usually one framework), and afterwards pushes them back with their
 * new shares: O(log n) per allocation instead of a re-sort, and work proportional to the entries an
 * agent actually looked at. The order an agent sees is fixed while it is served, as Mesos sorts once
 * per agent.
 */
import type { AllocationPolicy, RoleStanding } from './policies.js';
import { addTo, type Quantities } from './quantities.js';
import { BLOCKS } from './reasons.js';
import type { FrameworkRole, FrameworkState } from './framework-state.js';

/** Quota bookkeeping of one role with limits or guarantees (only top-level roles, as in Mesos). */
export interface QuotaState {
  readonly role: string;
  /** (resource id, thousandths) pairs. */
  readonly limits: ReadonlyArray<readonly [number, number]>;
  readonly guarantees: ReadonlyArray<readonly [number, number]>;
  /** Reservations (used or not) plus unreserved non-revocable offered-or-allocated, of the role's subtree. */
  readonly consumed: Quantities;
}

export function belowGuarantee(quota: QuotaState): boolean {
  return quota.guarantees.some(([id, millis]) => (quota.consumed[id] ?? 0) < millis);
}

/** A binary min-heap. */
export class Heap<T> {
  private items: T[] = [];

  constructor(private readonly compare: (a: T, b: T) => number) {}

  get size(): number {
    return this.items.length;
  }

  /** Replaces the contents, in O(n). */
  fill(items: T[]): void {
    this.items = items;
    for (let i = (items.length >>> 1) - 1; i >= 0; i--) this.down(i);
  }

  push(item: T): void {
    const items = this.items;
    let i = items.length;
    items.push(item);
    while (i > 0) {
      const parent = (i - 1) >>> 1;
      if (this.compare(item, items[parent] as T) >= 0) break;
      items[i] = items[parent] as T;
      i = parent;
    }
    items[i] = item;
  }

  pop(): T | undefined {
    const items = this.items;
    const top = items[0];
    const last = items.pop();
    if (items.length > 0 && last !== undefined) {
      items[0] = last;
      this.down(0);
    }
    return top;
  }

  /** The contents, in no particular order. */
  values(): readonly T[] {
    return this.items;
  }

  private down(start: number): void {
    const items = this.items;
    const n = items.length;
    const item = items[start] as T;
    let i = start;
    for (;;) {
      let child = 2 * i + 1;
      if (child >= n) break;
      if (child + 1 < n && this.compare(items[child + 1] as T, items[child] as T) < 0) child++;
      if (this.compare(items[child] as T, item) >= 0) break;
      items[i] = items[child] as T;
      i = child;
    }
    items[i] = item;
  }
}

/** One framework in one role: what Mesos's framework sorter calls a client. */
export class Client {
  share = 0;
  offered = false;
  readonly blocked = new Int32Array(BLOCKS.length);
  filteredUntil = Infinity;

  constructor(
    readonly framework: FrameworkState,
    readonly spec: FrameworkRole,
    readonly leaf: RoleNode,
    readonly allocation: Quantities,
    public allocations: number,
  ) {}

  get frameworkId(): string {
    return this.framework.frameworkId;
  }
}

function compareClients(a: Client, b: Client): number {
  return (
    a.share - b.share ||
    a.allocations - b.allocations ||
    (a.frameworkId < b.frameworkId ? -1 : a.frameworkId > b.frameworkId ? 1 : 0)
  );
}

export class RoleNode implements RoleStanding {
  share = 0;
  allocations = 0;
  /** Subtree count of frameworks in the sort; subtrees without any are left out of `children`. */
  activeClients = 0;
  /** A leaf: it holds frameworks (then it has no children in the sort). */
  leaf = false;
  readonly children: Heap<RoleNode>;
  readonly clients = new Heap<Client>(compareClients);
  /** The implicit leaf holding this role's own frameworks when it also has subroles. */
  self: RoleNode | undefined;
  readonly subroles: RoleNode[] = [];
  /** The role's own quota, and the quotas of the role and its ancestors (what caps its offers). */
  quota: QuotaState | undefined;
  quotaChain: QuotaState[] = [];
  /** Top-level roles below their quota guarantee are served first (Mesos's first stage). */
  rank = 1;
  readonly blocked = new Int32Array(BLOCKS.length);
  gpuClients = 0;

  constructor(
    readonly role: string,
    readonly weight: number,
    readonly parent: RoleNode | undefined,
    readonly allocation: Quantities,
    compare: (a: RoleNode, b: RoleNode) => number,
    readonly implicit = false,
  ) {
    this.children = new Heap(compare);
  }
}

/** max over resources of allocation / total; `inverse` holds 1/total (0 for excluded or absent names). */
export function dominantShare(allocation: Quantities, inverse: Quantities): number {
  let share = 0;
  const n = Math.min(allocation.length, inverse.length);
  for (let i = 0; i < n; i++) {
    const s = (allocation[i] as number) * (inverse[i] as number);
    if (s > share) share = s;
  }
  return share;
}

export class RoleSorter {
  readonly root: RoleNode;
  private readonly nodes = new Map<string, RoleNode>();
  private readonly compareNodes: (a: RoleNode, b: RoleNode) => number;
  private readonly pendingClients: Client[] = [];

  constructor(
    policy: AllocationPolicy,
    private readonly inverse: Quantities,
    private readonly size: number,
    private readonly weights: ReadonlyMap<string, number>,
  ) {
    this.compareNodes = (a, b) => a.rank - b.rank || policy.compare(a, b);
    this.root = new RoleNode('', 1, undefined, new Float64Array(size), this.compareNodes);
  }

  node(role: string): RoleNode {
    let node = this.nodes.get(role);
    if (!node) {
      const slash = role.lastIndexOf('/');
      const parent = slash < 0 ? this.root : this.node(role.slice(0, slash));
      node = new RoleNode(role, this.weights.get(role) ?? 1, parent, new Float64Array(this.size), this.compareNodes);
      parent.subroles.push(node);
      this.nodes.set(role, node);
    }
    return node;
  }

  get(role: string): RoleNode | undefined {
    return this.nodes.get(role);
  }

  /**
   * Where a role's own frameworks and usage live: the role, or its implicit leaf when it has subroles.
   * Call once every role of the pass has its node.
   */
  leaf(role: string): RoleNode {
    const node = this.node(role);
    if (node.subroles.length === 0) return node;
    node.self ??= new RoleNode(role, node.weight, node, new Float64Array(this.size), this.compareNodes, true);
    return node.self;
  }

  /** Records what a leaf and its ancestors already hold (from the agents' ledgers). */
  hold(leaf: RoleNode, allocation: Quantities, allocations: number): void {
    for (let node: RoleNode | undefined = leaf; node && node !== this.root; node = node.parent) {
      addTo(node.allocation, allocation);
      node.allocations += allocations;
    }
  }

  addClient(client: Client): void {
    this.pendingClients.push(client);
    client.leaf.leaf = true;
    if (client.framework.gpuResources) client.leaf.gpuClients++;
    for (let node: RoleNode | undefined = client.leaf; node; node = node.parent) node.activeClients++;
  }

  /** Computes shares and builds every level's order: once per pass. */
  sort(): void {
    const clients = new Map<RoleNode, Client[]>();
    for (const client of this.pendingClients) {
      client.share = dominantShare(client.allocation, this.inverse);
      const list = clients.get(client.leaf);
      if (list) list.push(client);
      else clients.set(client.leaf, [client]);
    }
    for (const [leaf, list] of clients) leaf.clients.fill(list);
    const visit = (node: RoleNode): void => {
      node.share = dominantShare(node.allocation, this.inverse);
      const candidates = node.self ? [node.self, ...node.subroles] : node.subroles;
      const active = candidates.filter((child) => child.activeClients > 0);
      for (const child of active) visit(child);
      node.children.fill(active);
    };
    visit(this.root);
  }

  /** Records an allocation to a client that the pass has popped, with the roles above it. */
  allocated(client: Client, delta: Quantities): void {
    addTo(client.allocation, delta);
    client.allocations++;
    client.share = dominantShare(client.allocation, this.inverse);
    for (let node: RoleNode = client.leaf; node.parent; node = node.parent) {
      addTo(node.allocation, delta);
      node.allocations++;
      node.share = dominantShare(node.allocation, this.inverse);
      if (node.quota && !node.implicit) node.rank = belowGuarantee(node.quota) ? 0 : 1;
    }
  }

  /** Every role node, for reports. */
  roles(): IterableIterator<RoleNode> {
    return this.nodes.values();
  }
}
