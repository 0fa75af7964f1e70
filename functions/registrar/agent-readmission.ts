/**
 * What an agent's total becomes when it re-registers. The agent reports only what it was started with
 * (its `--resources`: unreserved and statically reserved); the dynamic reservations and persistent
 * volumes made since (ACCEPT RESERVE/CREATE, the operator's RESERVE_RESOURCES/CREATE_VOLUMES) live in
 * the registrar, which is their source of truth — Mesos's agent checkpoints them and reports them back
 * in `checkpointed_resources`, and its master keeps them across the agent's restarts. So they are
 * applied again onto the reported total, each taking what it was made from out of it.
 *
 * An agent that came back smaller may no longer have what a reservation or volume was made from: the
 * part that does not fit is dropped (and the caller logs it). Priority goes to what tasks hold (their
 * resources must stay in the total), then to volumes (they carry data), then to plain reservations;
 * a divisible reservation keeps the part that fits, a volume or a MOUNT disk is kept whole or not at all.
 * Pure.
 */
import type { Resource } from '#shared/protocol/mesos.js';
import { isMergeable, isPersistentVolume } from '#shared/resources/resource.js';
import { add, contains, filter, normalize, subtract, type Resources } from '#shared/resources/resources.js';

export interface Readmission {
  /** The agent's new total: what it reported, with the conversions that still fit applied. */
  readonly total: Resource[];
  /** The dynamic reservations and volumes carried over. */
  readonly kept: Resource[];
  /** Those that no longer fit in what the agent reported. */
  readonly dropped: Resource[];
}

/** Made by a conversion: a dynamic reservation anywhere in the stack, or a persistent volume. */
export function isConverted(resource: Resource): boolean {
  return isPersistentVolume(resource) || (resource.reservations ?? []).some((r) => r.type === 'DYNAMIC');
}

/**
 * What a converted resource was made from, in the terms an agent reports: its dynamic reservations
 * popped (static ones stay) and the volume turned back into plain disk of its source.
 */
export function sourceOf(resource: Resource): Resource {
  const { reservations, disk, shared: _shared, ...rest } = resource;
  const kept = (reservations ?? []).filter((reservation) => reservation.type !== 'DYNAMIC');
  return {
    ...rest,
    ...(kept.length > 0 ? { reservations: kept } : {}),
    ...(disk?.source ? { disk: { source: disk.source } } : {}),
  };
}

/** The same amounts, every conversion undone. */
export function sourcesOf(resources: Resources): Resource[] {
  return normalize(resources.map((resource) => (isConverted(resource) ? sourceOf(resource) : resource)));
}

/** left ∩ right: what `left` has that `right` has too. */
function intersect(left: Resources, right: Resources): Resource[] {
  return subtract(left, subtract(left, right));
}

/** `resource` with the value of `from` (an entry of the same kind). */
function withValueOf(resource: Resource, from: Resource): Resource {
  const { scalar: _scalar, ranges: _ranges, set: _set, ...rest } = resource;
  if (from.scalar) return { ...rest, scalar: from.scalar };
  if (from.ranges) return { ...rest, ranges: from.ranges };
  return from.set ? { ...rest, set: from.set } : rest;
}

/** The part of `converted` whose source `free` still has, and that source. */
function fitting(converted: Resource, free: Resources): { part?: Resource; source: Resource[] } {
  const source = sourceOf(converted);
  if (!isMergeable(converted)) {
    return contains(free, [source]) ? { part: converted, source: [source] } : { source: [] };
  }
  const [fit] = intersect([source], free);
  return fit ? { part: withValueOf(converted, fit), source: [fit] } : { source: [] };
}

/** Volumes before plain reservations; otherwise in the total's order. */
function volumesFirst(resources: Resources): Resource[] {
  return [...filter(resources, isPersistentVolume), ...filter(resources, (r) => !isPersistentVolume(r))];
}

/**
 * The total of an agent re-admitted with `reported`, keeping what it can of the conversions in
 * `current` (its total until now); `held` is what its tasks hold (unallocated). What the tasks hold of
 * the reported resources is set aside before the conversions no task holds, so that a smaller agent
 * drops a reservation rather than a running task's resources.
 */
export function readmittedTotal(current: Resources, held: Resources, reported: Resources): Readmission {
  const converted = filter(current, isConverted);
  const heldConverted = intersect(converted, held);
  const heldPlain = filter(subtract(held, heldConverted), (resource) => !isConverted(resource));
  let free = sourcesOf(reported);
  const kept: Resource[] = [];
  const dropped: Resource[] = [];
  const place = (resources: Resources) => {
    for (const resource of volumesFirst(resources)) {
      const { part, source } = fitting(resource, free);
      if (part) kept.push(part);
      dropped.push(...subtract([resource], part ? [part] : []));
      free = subtract(free, source);
    }
  };
  place(heldConverted);
  // Taken out only when all of it is there: otherwise the total cannot hold the tasks, and the
  // re-admission is refused anyway.
  const setAside = contains(free, heldPlain) ? heldPlain : [];
  free = subtract(free, setAside);
  place(subtract(converted, heldConverted));
  return { total: add(add(free, setAside), kept), kept: normalize(kept), dropped: normalize(dropped) };
}
