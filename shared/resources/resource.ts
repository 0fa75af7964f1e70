/**
 * One Mesos Resource: its canonical form, its identity, predicates and validation
 * (src/common/resources.cpp `Resources::validate`, `upgradeResource`, `downgradeResource`).
 *
 * Canonical form (what the rest of Mantle handles): the post-refinement reservation format — the
 * `reservations` stack, with the deprecated `role` and `reservation` fields unset — scalars rounded to
 * three decimals, ranges coalesced and sets sorted.
 */
import type { Labels, Range, ReservationInfo, Resource } from '../protocol/mesos.js';
import { DEFAULT_ROLE, isStrictSubroleOf, validateRole } from '../roles.js';
import { MAX_SCALAR, normalizeRanges, normalizeSet, rangesOverlap, roundScalar } from './values.js';

export type { Resource, ReservationInfo };

// ------------------------------------------------------------------------------------- constructors

export interface ResourceOptions {
  /** Reservation stack, bottom first. A bare role string means a static reservation to it. */
  readonly reservations?: readonly ReservationInfo[];
  readonly role?: string;
  readonly allocationRole?: string;
}

function withOptions(resource: Resource, options: ResourceOptions): Resource {
  const reservations =
    options.reservations ??
    (options.role && options.role !== DEFAULT_ROLE ? [{ type: 'STATIC' as const, role: options.role }] : undefined);
  return {
    ...resource,
    ...(reservations && reservations.length > 0 ? { reservations: [...reservations] } : {}),
    ...(options.allocationRole !== undefined ? { allocation_info: { role: options.allocationRole } } : {}),
  };
}

export function scalarResource(name: string, value: number, options: ResourceOptions = {}): Resource {
  return withOptions({ name, type: 'SCALAR', scalar: { value: roundScalar(value) } }, options);
}

export function rangesResource(name: string, ranges: readonly Range[], options: ResourceOptions = {}): Resource {
  return withOptions({ name, type: 'RANGES', ranges: { range: normalizeRanges(ranges) } }, options);
}

export function setResource(name: string, items: readonly string[], options: ResourceOptions = {}): Resource {
  return withOptions({ name, type: 'SET', set: { item: normalizeSet(items) } }, options);
}

// ---------------------------------------------------------------------------------------- predicates

/** The role the resource is reserved to (top of the reservation stack), or "*" when unreserved. */
export function reservationRole(resource: Resource): string {
  return resource.reservations?.at(-1)?.role ?? DEFAULT_ROLE;
}

export function isUnreserved(resource: Resource): boolean {
  return !resource.reservations || resource.reservations.length === 0;
}

/** Reserved at all, or (with `role`) reserved to exactly that role. */
export function isReserved(resource: Resource, role?: string): boolean {
  return !isUnreserved(resource) && (role === undefined || reservationRole(resource) === role);
}

export function isDynamicallyReserved(resource: Resource): boolean {
  return resource.reservations?.at(-1)?.type === 'DYNAMIC';
}

export function isStaticallyReserved(resource: Resource): boolean {
  return resource.reservations?.at(-1)?.type === 'STATIC';
}

/** Unreserved, or reserved to the role or to one of its ancestors (hierarchical reservations). */
export function isAllocatableTo(resource: Resource, role: string): boolean {
  if (isUnreserved(resource)) return true;
  const owner = reservationRole(resource);
  return role === owner || isStrictSubroleOf(role, owner);
}

export function isPersistentVolume(resource: Resource): boolean {
  return resource.disk?.persistence !== undefined;
}

export function isMountDisk(resource: Resource): boolean {
  return resource.disk?.source?.type === 'MOUNT';
}

export function isRevocable(resource: Resource): boolean {
  return resource.revocable !== undefined;
}

export function isShared(resource: Resource): boolean {
  return resource.shared !== undefined;
}

/** Zero scalar, no ranges, no items. */
export function isEmptyResource(resource: Resource): boolean {
  switch (resource.type) {
    case 'SCALAR':
      return roundScalar(resource.scalar?.value ?? 0) === 0;
    case 'RANGES':
      return (resource.ranges?.range?.length ?? 0) === 0;
    case 'SET':
      return (resource.set?.item?.length ?? 0) === 0;
    default:
      return true;
  }
}

/**
 * Whether two resources of the same identity may be merged into one entry. Shared resources are
 * counted copies; persistent volumes and MOUNT disks are indivisible (Mesos `addable`).
 */
export function isMergeable(resource: Resource): boolean {
  return !isShared(resource) && !isPersistentVolume(resource) && !isMountDisk(resource);
}

// ------------------------------------------------------------------------------------------ identity

function labelsKey(labels: Labels | undefined): string {
  if (!labels?.labels?.length) return '';
  // Mesos compares labels as an unordered collection.
  return JSON.stringify(labels.labels.map((label) => [label.key, label.value ?? null]).sort());
}

function reservationsKey(reservations: readonly ReservationInfo[] | undefined): string {
  if (!reservations?.length) return '';
  return JSON.stringify(
    reservations.map((r) => [r.type ?? null, r.role ?? null, r.principal ?? null, labelsKey(r.labels)]),
  );
}

function diskKey(resource: Resource): string {
  const { disk } = resource;
  if (!disk) return '';
  // `volume` is how a task uses the disk, not part of the resource (Mesos ignores it in comparisons).
  const source = disk.source;
  return JSON.stringify([
    disk.persistence?.id ?? null,
    source
      ? [source.type, source.path?.root ?? null, source.mount?.root ?? null, source.id ?? null, source.profile ?? null]
      : null,
  ]);
}

/**
 * Everything that makes two resources "the same kind" (Mesos `addable`/`subtractable`): all metadata,
 * not the value. Canonical resources only.
 */
export function identityKey(resource: Resource): string {
  return [
    resource.name,
    resource.type,
    reservationsKey(resource.reservations),
    resource.allocation_info?.role ?? '\u0000',
    diskKey(resource),
    resource.revocable ? 'R' : '',
    resource.shared ? 'S' : '',
    resource.provider_id?.value ?? '',
  ].join('\u0001');
}

// ------------------------------------------------------------------------------------------ formats

/**
 * Validates one resource with the Mesos rules and returns it in canonical form, or an error message.
 * Accepts both reservation formats (pre- and post-refinement), as the master does.
 */
export function canonicalResource(resource: Resource): { resource: Resource } | { error: string } {
  const error = validateResource(resource);
  if (error) return { error };
  return { resource: normalizeValue(upgradeFormat(resource)) };
}

function upgradeFormat(resource: Resource): Resource {
  const { role, reservation, reservations, ...rest } = resource;
  if (reservations && reservations.length > 0) return { ...rest, reservations: reservations.map(cleanReservation) };
  if (role === undefined || role === DEFAULT_ROLE) return rest;
  const pushed: ReservationInfo = reservation
    ? { type: 'DYNAMIC', role, ...principalAndLabels(reservation) }
    : { type: 'STATIC', role };
  return { ...rest, reservations: [pushed] };
}

function principalAndLabels(reservation: ReservationInfo): Pick<ReservationInfo, 'principal' | 'labels'> {
  return {
    ...(reservation.principal !== undefined ? { principal: reservation.principal } : {}),
    ...(reservation.labels?.labels?.length ? { labels: reservation.labels } : {}),
  };
}

function cleanReservation(reservation: ReservationInfo): ReservationInfo {
  return { type: reservation.type, role: reservation.role, ...principalAndLabels(reservation) };
}

function normalizeValue(resource: Resource): Resource {
  switch (resource.type) {
    case 'SCALAR':
      return { ...resource, scalar: { value: roundScalar(resource.scalar?.value ?? 0) } };
    case 'RANGES':
      return { ...resource, ranges: { range: normalizeRanges(resource.ranges?.range ?? []) } };
    case 'SET':
      return { ...resource, set: { item: normalizeSet(resource.set?.item ?? []) } };
    default:
      return resource;
  }
}

/**
 * The pre-refinement form for frameworks without RESERVATION_REFINEMENT: `role` (+ `reservation` for a
 * dynamic one). Resources with a refined reservation (more than one level) cannot be expressed and
 * yield undefined: Mesos hides them from such frameworks.
 */
export function downgradeResource(resource: Resource): Resource | undefined {
  const { reservations, ...rest } = resource;
  if (!reservations || reservations.length === 0) return { ...rest, role: DEFAULT_ROLE };
  if (reservations.length > 1) return undefined;
  const [only] = reservations as [ReservationInfo];
  return {
    ...rest,
    role: only.role ?? DEFAULT_ROLE,
    ...(only.type === 'DYNAMIC' ? { reservation: principalAndLabels(only) } : {}),
  };
}

// ---------------------------------------------------------------------------------------- validation

function validateValue(resource: Resource): string | undefined {
  const { scalar, ranges, set } = resource;
  switch (resource.type) {
    case 'SCALAR': {
      if (!scalar || ranges || set) return 'Invalid scalar resource';
      const { value } = scalar;
      if (!Number.isFinite(value)) return `Invalid scalar resource: ${value} is not a finite number`;
      if (value < 0) return 'Invalid scalar resource: value < 0';
      if (value !== 0 && roundScalar(value) === 0) {
        return 'Invalid scalar resource: value would be rounded to 0';
      }
      if (value > MAX_SCALAR) return `Invalid scalar resource: value > ${MAX_SCALAR}`;
      return undefined;
    }
    case 'RANGES': {
      if (scalar || !ranges || set) return 'Invalid ranges resource';
      const list = ranges.range ?? [];
      for (const range of list) {
        if (!Number.isSafeInteger(range.begin) || !Number.isSafeInteger(range.end)) {
          return 'Invalid ranges resource: bounds must be integers below 2^53';
        }
        if (range.begin > range.end) return 'Invalid ranges resource: begin > end';
      }
      if (rangesOverlap(list)) return 'Invalid ranges resource: overlapping ranges';
      return undefined;
    }
    case 'SET': {
      if (scalar || ranges || !set) return 'Invalid set resource';
      const items = set.item ?? [];
      if (new Set(items).size !== items.length) return 'Invalid set resource: duplicated elements';
      return undefined;
    }
    default:
      return 'Unsupported resource type';
  }
}

function validateReservations(resource: Resource): string | undefined {
  const { reservations = [], role, reservation } = resource;
  if (reservations.length === 0) {
    // Pre-refinement format.
    const roleError = validateRole(role ?? DEFAULT_ROLE);
    if (roleError) return roleError;
    if (reservation) {
      if (reservation.type !== undefined) {
        return "'Resource.ReservationInfo.type' must not be set for the 'Resource.reservation' field";
      }
      if (reservation.role !== undefined) {
        return "'Resource.ReservationInfo.role' must not be set for the 'Resource.reservation' field";
      }
      if ((role ?? DEFAULT_ROLE) === DEFAULT_ROLE) {
        return 'Invalid reservation: role "*" cannot be dynamically reserved';
      }
    }
    return undefined;
  }
  for (const entry of reservations) {
    if (entry.type === undefined || entry.type === 'UNKNOWN') {
      return "Invalid reservation: 'Resource.ReservationInfo.type' field must be set.";
    }
    if (entry.role === undefined) return "Invalid reservation: 'Resource.ReservationInfo.role' field must be set.";
    const roleError = validateRole(entry.role);
    if (roleError) return roleError;
    if (entry.role === DEFAULT_ROLE) return 'Invalid reservation: role "*" cannot be reserved';
  }
  let ancestor = reservations[0]?.role ?? DEFAULT_ROLE;
  for (const refined of reservations.slice(1)) {
    if (refined.type === 'STATIC') return 'Invalid refined reservation: A refined reservation cannot be STATIC';
    const descendant = refined.role ?? DEFAULT_ROLE;
    if (!isStrictSubroleOf(descendant, ancestor)) {
      return `Invalid refined reservation: role '${descendant}' is not a refinement of '${ancestor}'`;
    }
    ancestor = descendant;
  }
  // Both formats at once are allowed only when they say the same thing (one level, consistent).
  if (reservations.length > 1) {
    if (role !== undefined) {
      return "Invalid resource format: 'Resource.role' must not be set if there is more than one reservation";
    }
    if (reservation) {
      return "Invalid resource format: 'Resource.reservation' must not be set if there is more than one reservation";
    }
    return undefined;
  }
  const only = reservations[0] as ReservationInfo;
  if (role !== undefined && role !== only.role) {
    return `Invalid resource format: 'Resource.role' field with '${role}' does not match the role '${only.role}' in 'Resource.reservations'`;
  }
  if (only.type === 'STATIC' && reservation) {
    return "Invalid resource format: 'Resource.reservation' must not be set if the single reservation is STATIC";
  }
  if (only.type === 'DYNAMIC' && reservation && reservation.principal !== only.principal) {
    return "Invalid resource format: 'Resource.reservation.principal' does not match 'Resource.reservations'";
  }
  return undefined;
}

function validateDisk(resource: Resource): string | undefined {
  const { disk } = resource;
  if (!disk) return undefined;
  if (resource.name !== 'disk') return `DiskInfo should not be set for ${resource.name} resource`;
  const source = disk.source;
  if (source) {
    if (source.type === 'UNKNOWN') return "Unsupported 'DiskInfo.Source.Type'";
    if ((source.type === 'BLOCK' || source.type === 'RAW') && (source.mount || source.path)) {
      return `Mount or path should not be set for ${source.type} disk source`;
    }
  }
  if (disk.persistence) {
    if (disk.persistence.id === '') return 'Persistent volume ID must not be empty';
    if (!resource.reservations?.length && (resource.role ?? DEFAULT_ROLE) === DEFAULT_ROLE) {
      return 'Persistent volumes cannot be created from unreserved resources';
    }
  } else if (disk.volume) {
    return 'Non-persistent volume not supported';
  }
  return undefined;
}

/** The Mesos validation of a single resource; returns the error message, or undefined. */
export function validateResource(resource: Resource): string | undefined {
  if (resource.name === '') return 'Empty resource name';
  const error = validateValue(resource) ?? validateDisk(resource) ?? validateReservations(resource);
  if (error) return error;
  if (resource.shared) {
    if (resource.name !== 'disk') return `Resource ${resource.name} cannot be shared`;
    if (!resource.disk?.persistence) return 'Only persistent volumes can be shared';
  }
  if (resource.revocable) {
    const dynamic =
      resource.reservations?.at(-1)?.type === 'DYNAMIC' ||
      (resource.reservation !== undefined && !resource.reservations?.length);
    if (dynamic) return 'Dynamically reserved resources cannot be revocable';
    if (resource.disk?.persistence) return 'Persistent volumes cannot be revocable';
  }
  if (resource.allocation_info?.role !== undefined) {
    const roleError = validateRole(resource.allocation_info.role);
    if (roleError) return `Invalid allocation role: ${roleError}`;
  }
  return undefined;
}
