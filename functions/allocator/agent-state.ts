/**
 * What the allocator derives from one agent's ledger, in compact form: its scalar total, what each
 * framework holds there per role (for DRF shares and quota), its reservations (quota consumption), and
 * what is free, split into a fast part (unreserved, non-revocable plain scalars and ranges: almost
 * every resource there is) and the rest (reservations, revocable, sets, volumes...) as canonical lists.
 *
 * Derived from the ledger only, so it is valid for as long as the agent's version stays the same.
 */
import type { Range, Resource } from '#shared/protocol/mesos.js';
import { isRevocable, isUnreserved, reservationRole } from '#shared/resources/resource.js';
import { subtract, unallocate } from '#shared/resources/resources.js';
import { normalizeRanges, subtractRanges, toMillis } from '#shared/resources/values.js';
import { isZero, type Quantities, type ResourceNames } from './quantities.js';
import type { AgentSnapshot, HeldResources } from './snapshot.js';

/** Unreserved, non-revocable ranges of one name (ports), normalized. */
export interface PlainRanges {
  readonly id: number;
  readonly name: string;
  readonly ranges: readonly Range[];
  /** The number of values, in thousandths (the scale of quantities). */
  readonly count: number;
}

/** What one framework holds on the agent in one role (offers, tasks and executors together). */
export interface Holding {
  readonly key: string;
  readonly frameworkId: string;
  readonly role: string;
  /** Every scalar held: what DRF counts. */
  readonly scalars: Quantities;
  /** Unreserved non-revocable scalars held: what quota counts, beside reservations. */
  readonly quotaScalars: Quantities;
}

export interface FreeResources {
  readonly scalars: Quantities;
  readonly ranges: readonly PlainRanges[];
  readonly other: readonly Resource[];
  readonly empty: boolean;
}

export interface AgentState {
  readonly agentId: string;
  readonly version: number;
  /** Only ACTIVE agents count in the cluster total (Mesos removes unreachable agents from the sorters). */
  readonly counted: boolean;
  readonly totalScalars: Quantities;
  /** Reserved non-revocable scalars by reservation role, used or not: they consume the role's quota. */
  readonly reservations: ReadonlyMap<string, Quantities>;
  readonly holdings: readonly Holding[];
  readonly free: FreeResources;
  readonly hasGpus: boolean;
  readonly multiRole: boolean;
  readonly hierarchicalRole: boolean;
  readonly region: string | undefined;
}

/** A key for (framework, role): role names cannot contain whitespace. */
export function clientKey(frameworkId: string, role: string): string {
  return `${role} ${frameworkId}`;
}

/** Unreserved, non-revocable scalars and ranges with no disk, sharing or provider metadata. */
export function isPlain(resource: Resource): boolean {
  return (
    (resource.type === 'SCALAR' || resource.type === 'RANGES') &&
    !resource.reservations?.length &&
    resource.revocable === undefined &&
    resource.disk === undefined &&
    resource.shared === undefined &&
    resource.provider_id === undefined
  );
}

const NO_RESERVATIONS: ReadonlyMap<string, Quantities> = new Map();
const NO_HOLDINGS: readonly Holding[] = [];

function held(agent: AgentSnapshot): HeldResources[] {
  const result: HeldResources[] = [];
  for (const key in agent.offers) result.push(agent.offers[key] as HeldResources);
  for (const key in agent.tasks) result.push(agent.tasks[key] as HeldResources);
  const executors = agent.executors ?? {};
  for (const key in executors) result.push(executors[key] as HeldResources);
  return result;
}

function holdingsOf(entries: readonly HeldResources[], names: ResourceNames, size: number, heldOther: Resource[]) {
  const holdings = new Map<string, Holding>();
  for (const entry of entries) {
    const key = clientKey(entry.frameworkId, entry.role);
    let holding = holdings.get(key);
    if (!holding) {
      holding = {
        key,
        frameworkId: entry.frameworkId,
        role: entry.role,
        scalars: new Float64Array(size),
        quotaScalars: new Float64Array(size),
      };
      holdings.set(key, holding);
    }
    for (const resource of entry.resources) {
      if (resource.type !== 'SCALAR') continue;
      const id = names.id(resource.name);
      const millis = toMillis(resource.scalar?.value ?? 0);
      holding.scalars[id] = (holding.scalars[id] as number) + millis;
      if (isUnreserved(resource) && !isRevocable(resource)) {
        holding.quotaScalars[id] = (holding.quotaScalars[id] as number) + millis;
      }
    }
    for (const resource of entry.resources) if (!isPlain(resource)) heldOther.push(resource);
  }
  return [...holdings.values()];
}

export function compileAgent(agent: AgentSnapshot, names: ResourceNames): AgentState {
  const entries = held(agent);
  const gpus = names.id('gpus');
  for (const resource of agent.total) names.id(resource.name);
  for (const entry of entries) for (const resource of entry.resources) names.id(resource.name);
  const size = names.size;

  const totalScalars = new Float64Array(size);
  const freeScalars = new Float64Array(size);
  const plainRanges: Array<{ id: number; ranges: Range[] }> = [];
  let reservations: Map<string, Quantities> | undefined;
  let other: Resource[] = [];
  for (const resource of agent.total) {
    const id = names.id(resource.name);
    const plain = isPlain(resource);
    if (resource.type === 'SCALAR') {
      const millis = toMillis(resource.scalar?.value ?? 0);
      totalScalars[id] = (totalScalars[id] as number) + millis;
      if (plain) freeScalars[id] = (freeScalars[id] as number) + millis;
      else if (!isUnreserved(resource) && !isRevocable(resource)) {
        const role = reservationRole(resource);
        reservations ??= new Map();
        let vector = reservations.get(role);
        if (!vector) reservations.set(role, (vector = new Float64Array(size)));
        vector[id] = (vector[id] as number) + millis;
      }
    } else if (plain) {
      const list = plainRanges.find((entry) => entry.id === id);
      if (list) list.ranges.push(...(resource.ranges?.range ?? []));
      else plainRanges.push({ id, ranges: [...(resource.ranges?.range ?? [])] });
    }
    if (!plain) other.push(resource);
  }

  const heldOther: Resource[] = [];
  const holdings = entries.length > 0 ? holdingsOf(entries, names, size, heldOther) : NO_HOLDINGS;
  // Held resources carry their allocation role; what they take from the total does not depend on it.
  for (const entry of entries) {
    for (const resource of entry.resources) {
      if (!isPlain(resource)) continue;
      const id = names.id(resource.name);
      if (resource.type === 'SCALAR') {
        freeScalars[id] = Math.max(0, (freeScalars[id] as number) - toMillis(resource.scalar?.value ?? 0));
      } else {
        const list = plainRanges.find((candidate) => candidate.id === id);
        if (list) list.ranges = subtractRanges(list.ranges, resource.ranges?.range ?? []);
      }
    }
  }
  if (heldOther.length > 0 && other.length > 0) other = subtract(other, unallocate(heldOther));

  const ranges: PlainRanges[] = [];
  let rangesEmpty = true;
  for (const { id, ranges: list } of plainRanges) {
    const only = list.length === 1 ? (list[0] as Range) : undefined;
    const normalized = only && only.begin <= only.end ? list : normalizeRanges(list);
    if (normalized.length === 0) continue;
    rangesEmpty = false;
    let count = 0;
    for (const range of normalized) count += range.end - range.begin + 1;
    ranges.push({ id, name: names.names[id] as string, ranges: normalized, count: count * 1000 });
  }
  return {
    agentId: agent.agentId,
    version: agent.version,
    counted: agent.status === 'ACTIVE',
    totalScalars,
    reservations: reservations ?? NO_RESERVATIONS,
    holdings,
    free: { scalars: freeScalars, ranges, other, empty: rangesEmpty && other.length === 0 && isZero(freeScalars) },
    hasGpus: (totalScalars[gpus] as number) > 0,
    multiRole: agent.capabilities.includes('MULTI_ROLE'),
    hierarchicalRole: agent.capabilities.includes('HIERARCHICAL_ROLE'),
    region: agent.domain?.fault_domain?.region.name,
  };
}
