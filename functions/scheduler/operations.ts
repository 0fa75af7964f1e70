/**
 * Offer operations that convert resources (Mesos src/master/validation.cpp `operation::validate` and
 * `Resources::apply`): RESERVE, UNRESERVE, CREATE, DESTROY, GROW_VOLUME and SHRINK_VOLUME. Each applies to what is left of the
 * offers and to the agent's total at once, so later operations of the same ACCEPT (a LAUNCH on the
 * new reservation, say) see the result. Pure.
 */
import type { Operation, Resource } from '#shared/protocol/mesos.js';
import { canonicalResources } from '#shared/resources/parse.js';
import {
  isDynamicallyReserved,
  isMountDisk,
  isPersistentVolume,
  isRevocable,
  isShared,
  isUnreserved,
  reservationRole,
} from '#shared/resources/resource.js';
import { addScalars, roundScalar, subtractScalars, toMillis } from '#shared/resources/values.js';
import { add, allocate, contains, popReservation, subtract, unallocate } from '#shared/resources/resources.js';
import { err, failure, ok, type Failure, type Result } from '#shared/result.js';
import { allowsRole, type Acl } from '#shared/acl.js';

export interface ConversionState {
  /** What is left of the offers (allocated to the offers' role). */
  readonly remaining: readonly Resource[];
  /** The agent's total resources. */
  readonly total: readonly Resource[];
}

export interface OperationContext {
  readonly role: string;
  /** The framework's principal, which dynamic reservations and volumes must name (when it has one). */
  readonly principal?: string;
  readonly sharedResources: boolean;
  /** The roles the framework's principal may reserve for (Mesos reserve_resources). */
  readonly acl: Pick<Acl, 'roles'>;
  /**
   * With authentication on: the caller, whose UNRESERVE and DESTROY may touch only the reservations and
   * volumes its principal made, unless it is an operator (Mesos unreserve_resources, destroy_volumes).
   */
  readonly caller?: { readonly principal: string; readonly operator: boolean };
}

export type OperationInvalid = Failure<'OPERATION_INVALID'>;

type Converted<T> = Result<T, OperationInvalid>;

function fail(message: string): { ok: false; error: OperationInvalid } {
  return failure('OPERATION_INVALID', message);
}

/** Replaces `from` by `to` in both the remaining offer and the total. */
export function convert(
  state: ConversionState,
  role: string,
  from: Resource[],
  to: Resource[],
): Converted<ConversionState> {
  const fromAllocated = allocate(from, role);
  if (!contains(state.remaining, fromAllocated)) return fail('The operation uses resources that are not offered');
  return ok({
    remaining: add(subtract(state.remaining, fromAllocated), allocate(to, role)),
    total: add(subtract(state.total, unallocate(from)), unallocate(to)),
  });
}

function parse(resources: unknown, what: string): Converted<Resource[]> {
  const parsed = canonicalResources((resources ?? []) as Resource[]);
  if (!parsed.ok) return fail(parsed.error.message);
  if (parsed.value.length === 0) return fail(`No resources to ${what}`);
  return ok(unallocate(parsed.value));
}

function who(context: OperationContext): string {
  return context.caller ? `principal '${context.caller.principal}'` : 'frameworks of this cluster';
}

/** Whether the caller may undo what `owner` made (with authentication off, anyone may, as before). */
function mayActFor(context: OperationContext, owner: string | undefined): boolean {
  return !context.caller || context.caller.operator || owner === context.caller.principal;
}

function principalError(resource: Resource, context: OperationContext): string | undefined {
  const principal = resource.reservations?.at(-1)?.principal;
  if (context.principal !== undefined && principal !== context.principal) {
    return `A reservation must name the framework's principal '${context.principal}'`;
  }
  return undefined;
}

export function reserve(
  state: ConversionState,
  operation: Operation,
  context: OperationContext,
): Converted<ConversionState> {
  const reserve = operation.reserve;
  if (!reserve) return fail("Expecting 'reserve' to be present");
  if (reserve.source && reserve.source.length > 0) return fail('Reservation updates are not yet implemented');
  const resources = parse(reserve.resources, 'reserve');
  if (!resources.ok) return resources;
  for (const resource of resources.value) {
    const invalid = reservationError(resource);
    if (invalid) return fail(invalid);
    if (reservationRole(resource) !== context.role) {
      return fail(`A reservation must be for the offers' role '${context.role}', not '${reservationRole(resource)}'`);
    }
    if (!allowsRole(context.acl, context.role)) {
      return fail(`Not authorized: ${who(context)} may not reserve resources for role '${context.role}' (acl: roles)`);
    }
    const error = principalError(resource, context);
    if (error) return fail(error);
  }
  return convert(state, context.role, popReservation(resources.value), resources.value);
}

export function unreserve(
  state: ConversionState,
  operation: Operation,
  context: OperationContext,
): Converted<ConversionState> {
  const resources = parse(operation.unreserve?.resources, 'unreserve');
  if (!resources.ok) return resources;
  for (const resource of resources.value) {
    const invalid = unreservationError(resource);
    if (invalid) return fail(invalid);
    if (reservationRole(resource) !== context.role) return fail(`Not reserved for the offers' role '${context.role}'`);
    const reserver = resource.reservations?.at(-1)?.principal;
    if (!mayActFor(context, reserver)) {
      return fail(
        `Not authorized: ${who(context)} may not unreserve resources reserved by ${reserver === undefined ? 'no principal' : `principal '${reserver}'`}`,
      );
    }
  }
  return convert(state, context.role, resources.value, popReservation(resources.value));
}

/** Why a resource cannot be reserved (RESERVE, by a framework or an operator), or undefined. */
export function reservationError(resource: Resource): string | undefined {
  if (!isDynamicallyReserved(resource)) return 'Resources to reserve must carry a dynamic reservation';
  if (isRevocable(resource)) return 'Revocable resources cannot be reserved';
  if (isPersistentVolume(resource)) return 'Reserve persistent volumes with CREATE, not RESERVE';
  return undefined;
}

/** Why a resource cannot be unreserved (UNRESERVE, by a framework or an operator), or undefined. */
export function unreservationError(resource: Resource): string | undefined {
  if (!isDynamicallyReserved(resource)) return 'Only dynamically reserved resources can be unreserved';
  if (isPersistentVolume(resource)) return 'A persistent volume must be destroyed before its disk is unreserved';
  return undefined;
}

/** Why a resource is not a volume Mantle can create (CREATE, by a framework or an operator), or undefined. */
export function volumeError(volume: Resource): string | undefined {
  if (!volume.disk?.persistence) return 'Only persistent volumes can be created';
  if (!volume.disk.volume) return "A persistent volume needs 'disk.volume'";
  if (volume.disk.volume.mode === 'RO') return 'Read-only persistent volumes are not supported';
  if (volume.disk.volume.host_path !== undefined) return "A persistent volume must not set 'host_path'";
  if (volume.disk.volume.container_path.includes('/') || volume.disk.volume.container_path.startsWith('.')) {
    return "A persistent volume's 'container_path' must be a plain relative name";
  }
  if (isUnreserved(volume)) return 'Persistent volumes cannot be created from unreserved resources';
  return undefined;
}

/** A persistence id that the new volumes repeat or that the agent's total already has (per role), or undefined. */
export function duplicateVolumeError(total: readonly Resource[], volumes: readonly Resource[]): string | undefined {
  const ids = new Set(
    total.flatMap((resource) => {
      const id = resource.disk?.persistence?.id;
      return id === undefined ? [] : [`${reservationRole(resource)}/${id}`];
    }),
  );
  for (const volume of volumes) {
    const id = volume.disk?.persistence?.id;
    const key = `${reservationRole(volume)}/${id}`;
    if (ids.has(key)) return `Persistent volume ID '${id}' is already in use`;
    ids.add(key);
  }
  return undefined;
}

/** The disk a volume is made of: the same resource without persistence and volume. */
export function diskOf(volume: Resource): Resource {
  const { shared: _shared, disk, ...rest } = volume;
  return disk?.source ? { ...rest, disk: { source: disk.source } } : rest;
}

export function create(
  state: ConversionState,
  operation: Operation,
  context: OperationContext,
): Converted<ConversionState> {
  const volumes = parse(operation.create?.volumes, 'create');
  if (!volumes.ok) return volumes;
  for (const volume of volumes.value) {
    const invalid = volumeError(volume);
    if (invalid) return fail(invalid);
    if (reservationRole(volume) !== context.role) return fail(`The volume must be reserved for '${context.role}'`);
    if (isShared(volume) && !context.sharedResources) {
      return fail('Creating a shared volume needs the SHARED_RESOURCES capability');
    }
    // Mesos: a framework with a principal names it in every volume it creates.
    if (context.principal !== undefined && volume.disk?.persistence?.principal !== context.principal) {
      return fail(`The volume must name the framework's principal '${context.principal}'`);
    }
  }
  const duplicate = duplicateVolumeError(state.total, volumes.value);
  if (duplicate) return fail(duplicate);
  return convert(state, context.role, volumes.value.map(diskOf), volumes.value);
}

export function destroy(
  state: ConversionState,
  operation: Operation,
  context: OperationContext,
): Converted<ConversionState> {
  const volumes = parse(operation.destroy?.volumes, 'destroy');
  if (!volumes.ok) return volumes;
  for (const volume of volumes.value) {
    if (!isPersistentVolume(volume)) return fail('Only persistent volumes can be destroyed');
    const creator = volume.disk?.persistence?.principal;
    if (!mayActFor(context, creator)) {
      const by = creator === undefined ? 'no principal' : `principal '${creator}'`;
      return fail(
        `Not authorized: ${who(context)} may not destroy volume '${volume.disk?.persistence?.id}' created by ${by}`,
      );
    }
  }
  return convert(state, context.role, volumes.value, volumes.value.map(diskOf));
}

// ------------------------------------------------------------------------------- GROW_VOLUME, SHRINK_VOLUME
// Mesos 1.7's experimental resizing of persistent volumes (validation.cpp `validate(GrowVolume / ShrinkVolume)`,
// `getConsumedResources`): growing takes the volume and `addition` (more disk of the very same kind:
// reservation, role, disk source) and gives back the volume with their sum; shrinking takes the volume and
// gives back the volume less `subtract` and that much plain disk of its kind. Shared volumes, shrinking a
// volume of a MOUNT disk (a MOUNT disk is used whole) and agents without RESIZE_VOLUME are refused, with
// Mesos's messages. The scheduler's ACCEPT and the operator's calls both decide with these.

/** What a resize takes out of the resources and what it puts in their place (unallocated). */
export interface Resize {
  readonly consumed: Resource[];
  readonly produced: Resource[];
}

type GrowVolume = NonNullable<Operation['grow_volume']>;
type ShrinkVolume = NonNullable<Operation['shrink_volume']>;

function one(resource: Resource, field: string): Result<Resource, string> {
  const parsed = canonicalResources([resource]);
  if (!parsed.ok) return err(`Invalid resource in the '${field}' field: ${parsed.error.message}`);
  const [only] = unallocate(parsed.value);
  if (!only || parsed.value.length !== 1)
    return err(`Invalid resource in the '${field}' field: expecting one resource`);
  return ok(only);
}

function withSize(resource: Resource, value: number): Resource {
  return { ...resource, scalar: { value } };
}

/** The persistent volume to resize, checked as Mesos checks it. */
function volumeToResize(raw: Resource, field: string, verb: 'Growing' | 'Shrinking'): Result<Resource, string> {
  const volume = one(raw, field);
  if (!volume.ok) return volume;
  const invalid = volume.value.disk?.persistence ? volumeError(volume.value) : 'it is not a persistent volume';
  if (invalid) return err(`Invalid persistent volume in the '${field}' field: ${invalid}`);
  if (isShared(volume.value)) return err(`${verb} a shared persistent volume is not supported`);
  return ok(volume.value);
}

export function growVolume(grow: GrowVolume | undefined, resizeVolume: boolean): Result<Resize, string> {
  if (!grow) return err("Expecting 'grow_volume' to be present");
  const volume = volumeToResize(grow.volume, 'GrowVolume.volume', 'Growing');
  // A zero-sized resource is valid but empty (canonical resources drop it): it is too small, not malformed.
  const zero = grow.addition.scalar !== undefined && toMillis(grow.addition.scalar.value) === 0;
  const addition = zero ? undefined : one(grow.addition, 'GrowVolume.addition');
  if (addition && !addition.ok) return addition;
  if (!addition || toMillis(addition.value.scalar?.value ?? 0) <= 0) {
    return err("The size of 'GrowVolume.addition' field must be greater than zero");
  }
  if (!volume.ok) return volume;
  if (add([diskOf(volume.value)], [addition.value]).length !== 1) {
    return err("Incompatible resources in the 'GrowVolume.volume' and 'GrowVolume.addition' fields");
  }
  if (!resizeVolume) return err('The volume cannot be grown on an agent without RESIZE_VOLUME capability');
  const size = addScalars(volume.value.scalar?.value ?? 0, addition.value.scalar?.value ?? 0);
  return ok({ consumed: [volume.value, addition.value], produced: [withSize(volume.value, size)] });
}

export function shrinkVolume(shrink: ShrinkVolume | undefined, resizeVolume: boolean): Result<Resize, string> {
  if (!shrink) return err("Expecting 'shrink_volume' to be present");
  const volume = volumeToResize(shrink.volume, 'ShrinkVolume.volume', 'Shrinking');
  const subtract = shrink.subtract.value;
  if (toMillis(subtract) <= 0) return err("Value of 'ShrinkVolume.subtract' must be greater than zero");
  if (!volume.ok) return volume;
  const size = volume.value.scalar?.value ?? 0;
  if (toMillis(size) <= toMillis(subtract)) {
    return err("Value of 'ShrinkVolume.subtract' must be smaller than the size of 'ShrinkVolume.volume'");
  }
  if (isMountDisk(volume.value)) return err('Shrinking a volume on a MOUNT disk is not supported');
  if (!resizeVolume) return err('The volume cannot be shrunk on an agent without RESIZE_VOLUME capability');
  return ok({
    consumed: [volume.value],
    produced: [
      withSize(volume.value, subtractScalars(size, subtract)),
      withSize(diskOf(volume.value), roundScalar(subtract)),
    ],
  });
}

/**
 * GROW_VOLUME or SHRINK_VOLUME in an ACCEPT: what it consumes must be in what is left of the offers, and
 * the volume the offers' role's; `resizeVolume`: the agent has the RESIZE_VOLUME capability.
 */
export function resize(
  state: ConversionState,
  operation: Operation,
  context: OperationContext,
  resizeVolume: boolean,
): Converted<ConversionState> {
  const resized =
    operation.type === 'GROW_VOLUME'
      ? growVolume(operation.grow_volume, resizeVolume)
      : shrinkVolume(operation.shrink_volume, resizeVolume);
  if (!resized.ok) return fail(resized.error);
  const { consumed, produced } = resized.value;
  if (consumed.some((resource) => reservationRole(resource) !== context.role)) {
    return fail(`The volume must be reserved for '${context.role}'`);
  }
  return convert(state, context.role, consumed, produced);
}
