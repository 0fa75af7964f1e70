/**
 * Mesos `Resources` arithmetic over lists of canonical resources (src/common/resources.cpp).
 *
 * A list is "normalized" when entries of the same identity (see `identityKey`) are merged, empty
 * entries are dropped, and values are in canonical form. Every function here accepts any list of
 * canonical resources and returns a normalized one; inputs are never mutated.
 *
 * Semantics follow Mesos: shared resources are counted copies; persistent volumes and MOUNT disks are
 * indivisible (only an identical entry can be subtracted); subtracting more than is there drops the
 * entry (never a negative value).
 */
import type { Resource } from '../protocol/mesos.js';
import { DEFAULT_ROLE } from '../roles.js';
import {
  identityKey,
  isAllocatableTo,
  isEmptyResource,
  isMergeable,
  isPersistentVolume,
  isReserved,
  isRevocable,
  isShared,
  isUnreserved,
  reservationRole,
} from './resource.js';
import {
  addRanges,
  addScalars,
  addSets,
  rangesContain,
  rangesCount,
  rangesEqual,
  setContains,
  setsEqual,
  subtractRanges,
  subtractScalars,
  subtractSets,
} from './values.js';

export type Resources = readonly Resource[];

function addValue(left: Resource, right: Resource): Resource {
  switch (left.type) {
    case 'SCALAR':
      return { ...left, scalar: { value: addScalars(left.scalar?.value ?? 0, right.scalar?.value ?? 0) } };
    case 'RANGES':
      return { ...left, ranges: { range: addRanges(left.ranges?.range ?? [], right.ranges?.range ?? []) } };
    case 'SET':
      return { ...left, set: { item: addSets(left.set?.item ?? [], right.set?.item ?? []) } };
    default:
      return left;
  }
}

/** left − right for two entries of one identity; undefined when nothing (or less than nothing) is left. */
function subtractValue(left: Resource, right: Resource): Resource | undefined {
  let result: Resource;
  switch (left.type) {
    case 'SCALAR': {
      const value = subtractScalars(left.scalar?.value ?? 0, right.scalar?.value ?? 0);
      if (value <= 0) return undefined;
      result = { ...left, scalar: { value } };
      break;
    }
    case 'RANGES':
      result = { ...left, ranges: { range: subtractRanges(left.ranges?.range ?? [], right.ranges?.range ?? []) } };
      break;
    case 'SET':
      result = { ...left, set: { item: subtractSets(left.set?.item ?? [], right.set?.item ?? []) } };
      break;
    default:
      return undefined;
  }
  return isEmptyResource(result) ? undefined : result;
}

function valueContains(outer: Resource, inner: Resource): boolean {
  switch (outer.type) {
    case 'SCALAR':
      return subtractScalars(outer.scalar?.value ?? 0, inner.scalar?.value ?? 0) >= 0;
    case 'RANGES':
      return rangesContain(outer.ranges?.range ?? [], inner.ranges?.range ?? []);
    case 'SET':
      return setContains(outer.set?.item ?? [], inner.set?.item ?? []);
    default:
      return false;
  }
}

function valueEquals(left: Resource, right: Resource): boolean {
  switch (left.type) {
    case 'SCALAR':
      return subtractScalars(left.scalar?.value ?? 0, right.scalar?.value ?? 0) === 0;
    case 'RANGES':
      return rangesEqual(left.ranges?.range ?? [], right.ranges?.range ?? []);
    case 'SET':
      return setsEqual(left.set?.item ?? [], right.set?.item ?? []);
    default:
      return false;
  }
}

/** Identical in identity and value: the only way indivisible entries match. */
function sameEntry(left: Resource, right: Resource): boolean {
  return identityKey(left) === identityKey(right) && valueEquals(left, right);
}

/** A working copy indexed by identity, for the mergeable entries. */
class Ledger {
  readonly entries: (Resource | undefined)[] = [];
  private readonly index = new Map<string, number>();

  constructor(resources: Resources = []) {
    for (const resource of resources) this.add(resource);
  }

  add(resource: Resource): void {
    if (isEmptyResource(resource)) return;
    if (!isMergeable(resource)) {
      this.entries.push(resource);
      return;
    }
    const key = identityKey(resource);
    const at = this.index.get(key);
    const existing = at === undefined ? undefined : this.entries[at];
    if (at !== undefined && existing) {
      this.entries[at] = addValue(existing, resource);
    } else {
      this.index.set(key, this.entries.length);
      this.entries.push(resource);
    }
  }

  /** Position of the entry `resource` would be taken from, if any. */
  find(resource: Resource): number | undefined {
    if (isMergeable(resource)) {
      const at = this.index.get(identityKey(resource));
      return at !== undefined && this.entries[at] ? at : undefined;
    }
    const at = this.entries.findIndex((entry) => entry !== undefined && sameEntry(entry, resource));
    return at < 0 ? undefined : at;
  }

  subtract(resource: Resource): void {
    const at = this.find(resource);
    if (at === undefined) return;
    const existing = this.entries[at] as Resource;
    this.entries[at] = isMergeable(resource) ? subtractValue(existing, resource) : undefined;
  }

  /** Takes `resource` out if it is wholly there; false (and no change) otherwise. */
  take(resource: Resource): boolean {
    const at = this.find(resource);
    if (at === undefined) return false;
    const existing = this.entries[at] as Resource;
    if (isMergeable(resource) && !valueContains(existing, resource)) return false;
    this.subtract(resource);
    return true;
  }

  toList(): Resource[] {
    return this.entries.filter((entry): entry is Resource => entry !== undefined);
  }
}

/** Merges entries of one identity and drops empty ones. */
export function normalize(resources: Resources): Resource[] {
  return new Ledger(resources).toList();
}

export function add(left: Resources, right: Resources): Resource[] {
  const ledger = new Ledger(left);
  for (const resource of right) ledger.add(resource);
  return ledger.toList();
}

/** left − right. What right has beyond left is ignored; results are never negative. */
export function subtract(left: Resources, right: Resources): Resource[] {
  const ledger = new Ledger(left);
  for (const resource of normalize(right)) ledger.subtract(resource);
  return ledger.toList();
}

/** True when `inner` is wholly contained in `outer` (shared copies counted). */
export function contains(outer: Resources, inner: Resources): boolean {
  const ledger = new Ledger(outer);
  return normalize(inner).every((resource) => ledger.take(resource));
}

export function equals(left: Resources, right: Resources): boolean {
  return contains(left, right) && contains(right, left);
}

export function isEmpty(resources: Resources): boolean {
  return resources.every(isEmptyResource);
}

// ------------------------------------------------------------------------------------------ filters

export function filter(resources: Resources, predicate: (resource: Resource) => boolean): Resource[] {
  return normalize(resources.filter(predicate));
}

export function named(resources: Resources, name: string): Resource[] {
  return filter(resources, (resource) => resource.name === name);
}

/** Reserved resources (to exactly `role` when given). */
export function reserved(resources: Resources, role?: string): Resource[] {
  return filter(resources, (resource) => isReserved(resource, role));
}

export function unreserved(resources: Resources): Resource[] {
  return filter(resources, isUnreserved);
}

/** What may be offered to `role`: unreserved, or reserved to it or to an ancestor. */
export function allocatableTo(resources: Resources, role: string): Resource[] {
  return filter(resources, (resource) => isAllocatableTo(resource, role));
}

export function revocable(resources: Resources): Resource[] {
  return filter(resources, isRevocable);
}

export function nonRevocable(resources: Resources): Resource[] {
  return filter(resources, (resource) => !isRevocable(resource));
}

export function shared(resources: Resources): Resource[] {
  return filter(resources, isShared);
}

export function nonShared(resources: Resources): Resource[] {
  return filter(resources, (resource) => !isShared(resource));
}

export function persistentVolumes(resources: Resources): Resource[] {
  return filter(resources, isPersistentVolume);
}

/** The roles that hold reservations among these resources. */
export function reservationRoles(resources: Resources): Set<string> {
  return new Set(resources.filter((resource) => !isUnreserved(resource)).map(reservationRole));
}

// -------------------------------------------------------------------------------- transformations

/** Marks every resource as allocated to `role` (what an offer to that role carries). */
export function allocate(resources: Resources, role: string): Resource[] {
  return normalize(resources.map((resource) => ({ ...resource, allocation_info: { role } })));
}

export function unallocate(resources: Resources): Resource[] {
  return normalize(
    resources.map((resource) => {
      const { allocation_info: _allocation, ...rest } = resource;
      return rest;
    }),
  );
}

/** Pops every reservation: the same amounts, unreserved (Mesos `toUnreserved`). */
export function toUnreserved(resources: Resources): Resource[] {
  return normalize(
    resources.map((resource) => {
      const { reservations: _reservations, ...rest } = resource;
      return rest;
    }),
  );
}

/** The same amounts with no reservation or allocation boundaries: for comparing quantities. */
export function flatten(resources: Resources): Resource[] {
  return unallocate(toUnreserved(resources));
}

/** Pushes a (dynamic) reservation onto every resource's stack. */
export function pushReservation(
  resources: Resources,
  reservation: { role: string; principal?: string; type?: 'DYNAMIC' | 'STATIC' },
): Resource[] {
  const entry = { type: reservation.type ?? 'DYNAMIC', role: reservation.role, principal: reservation.principal };
  return normalize(
    resources.map((resource) => ({
      ...resource,
      reservations: [
        ...(resource.reservations ?? []),
        entry.principal === undefined ? { type: entry.type, role: entry.role } : entry,
      ],
    })),
  );
}

/** Pops the top reservation of every reserved resource. */
export function popReservation(resources: Resources): Resource[] {
  return normalize(
    resources.map((resource) => {
      if (isUnreserved(resource)) return resource;
      const { reservations = [], ...rest } = resource;
      const below = reservations.slice(0, -1);
      return below.length > 0 ? { ...rest, reservations: below } : rest;
    }),
  );
}

// ------------------------------------------------------------------------------------- quantities

/** Scalar totals by name, e.g. { cpus: 4, mem: 8192 }; ranges and sets count their elements. */
export type Quantities = Record<string, number>;

export function quantities(resources: Resources): Quantities {
  const result: Quantities = {};
  for (const resource of resources) {
    let amount: number;
    if (resource.type === 'SCALAR') amount = resource.scalar?.value ?? 0;
    else if (resource.type === 'RANGES') amount = rangesCount(resource.ranges?.range ?? []);
    else if (resource.type === 'SET') amount = resource.set?.item?.length ?? 0;
    else continue;
    result[resource.name] = addScalars(result[resource.name] ?? 0, amount);
  }
  return result;
}

/** The scalar total of one resource name (0 when absent). */
export function scalarTotal(resources: Resources, name: string): number {
  let total = 0;
  for (const resource of resources) {
    if (resource.name === name && resource.type === 'SCALAR') total = addScalars(total, resource.scalar?.value ?? 0);
  }
  return total;
}

/** The single role these resources are allocated to, "*" when unallocated, or undefined if mixed. */
export function allocationRole(resources: Resources): string | undefined {
  const roles = new Set(resources.map((resource) => resource.allocation_info?.role ?? DEFAULT_ROLE));
  return roles.size <= 1 ? ([...roles][0] ?? DEFAULT_ROLE) : undefined;
}

/** Takes `need` out of an offer's resources, entry by entry, keeping each entry's allocation and reservation. */
export function takeScalars(resources: readonly Resource[], need: Quantities): Resource[] {
  const taken: Resource[] = [];
  for (const [name, amount] of Object.entries(need)) {
    let left = amount;
    for (const resource of resources) {
      if (left <= 0) break;
      if (resource.name !== name || resource.type !== 'SCALAR') continue;
      const part = Math.min(left, resource.scalar?.value ?? 0);
      if (part <= 0) continue;
      taken.push({ ...resource, scalar: { value: part } });
      left = subtractScalars(left, part);
    }
  }
  return add([], taken);
}
