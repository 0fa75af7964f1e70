/**
 * RESERVE_RESOURCES, UNRESERVE_RESOURCES, CREATE_VOLUMES, DESTROY_VOLUMES, GROW_VOLUME and SHRINK_VOLUME
 * decided (Mesos `Master::Http::_reserve`, `_unreserve`, `_createVolumes`, `_destroyVolumes`,
 * `growVolume`, `shrinkVolume` and `_operation`). Pure.
 *
 * 1. `validateConversion`: the operation on its own and against the agent (400, as Mesos's
 *    `validation::operation::validate` with no framework): what it consumes of the agent's resources and
 *    what it produces in their place. The resource rules are the scheduler's (scheduler/operations.ts);
 *    the operator may name any role, and with authentication on must name itself as the reservation's
 *    or the volume's principal.
 * 2. `planConversion`: whether the agent has what it consumes unallocated (409, as Mesos answers when the
 *    allocator cannot apply the operation), rescinding as few outstanding offers as cover it, as Mesos's
 *    `_operation` does; the agent's next total.
 */
import type { Resource } from '#shared/protocol/mesos.js';
import { canonicalResources } from '#shared/resources/parse.js';
import { isPersistentVolume, reservationRole } from '#shared/resources/resource.js';
import {
  add,
  contains,
  equals,
  popReservation,
  subtract,
  toUnreserved,
  unallocate,
} from '#shared/resources/resources.js';
import { failure, ok, type Failure, type Result } from '#shared/result.js';
import type { AgentRecord, OfferRecord } from '../registrar/index.js';
import type { DestroyedVolume } from '../scheduler/accept-plan.js';
import { allocatedResources, freeResources, ledgerViolation } from '../registrar/ledger.js';
import {
  diskOf,
  duplicateVolumeError,
  growVolume,
  reservationError,
  shrinkVolume,
  unreservationError,
  volumeError,
} from '../scheduler/operations.js';

/** An operator's conversion, as the call carries it (resources still to validate). */
export type ConversionCall =
  | { readonly type: 'RESERVE'; readonly source?: readonly Resource[]; readonly resources: readonly Resource[] }
  | { readonly type: 'UNRESERVE'; readonly resources: readonly Resource[] }
  | { readonly type: 'CREATE'; readonly volumes: readonly Resource[] }
  | { readonly type: 'DESTROY'; readonly volumes: readonly Resource[] }
  | { readonly type: 'GROW'; readonly volume: Resource; readonly addition: Resource }
  | { readonly type: 'SHRINK'; readonly volume: Resource; readonly subtract: number };

export interface Conversion {
  readonly type: ConversionCall['type'];
  /** What it takes out of the agent's total (Mesos `getConsumedResources`). */
  readonly consumed: readonly Resource[];
  /** What it puts in their place. */
  readonly produced: readonly Resource[];
  /** Persistent volumes destroyed: the agent removes their data. */
  readonly destroyed: ReadonlyArray<DestroyedVolume>;
}

export interface ConversionPlan {
  readonly total: Resource[];
  /** Outstanding offers taken back to free what the conversion consumes. */
  readonly rescind: OfferRecord[];
}

type Invalid = { readonly ok: false; readonly error: Failure<'INVALID'> };

function invalid(message: string): Invalid {
  return failure('INVALID', message);
}

/** Canonical resources of the call; the operator API converts only unallocated resources. */
function parsed(resources: readonly Resource[], what: string): Result<Resource[], Failure<'INVALID'>> {
  const canonical = canonicalResources(resources);
  if (!canonical.ok) return invalid(`Invalid ${what}: ${canonical.error.message}`);
  if (canonical.value.length === 0) return invalid(`Invalid ${what}: none given`);
  if (canonical.value.some((resource) => resource.allocation_info)) {
    return invalid(
      'An operation was attempted with an allocated resource, but the operator API only converts unallocated resources',
    );
  }
  return canonical;
}

/** With authentication on, what the operator reserves or creates names it as principal (Mesos). */
function principalError(named: string | undefined, principal: string | undefined, what: string): string | undefined {
  if (principal === undefined || named === principal) return undefined;
  return named === undefined
    ? `${what} attempted by principal '${principal}', but a resource in the request has no principal set`
    : `${what} attempted by authenticated principal '${principal}', which does not match a resource in the request with principal '${named}'`;
}

/** All of `resources` carry one and the same reservation stack (Mesos, for a RESERVE with a source). */
function mixedReservations(resources: readonly Resource[]): boolean {
  const first = JSON.stringify(resources[0]?.reservations ?? []);
  return resources.some((resource) => JSON.stringify(resource.reservations ?? []) !== first);
}

function reserveConversion(
  call: Extract<ConversionCall, { type: 'RESERVE' }>,
  principal: string | undefined,
): Result<Conversion, Failure<'INVALID'>> {
  const resources = parsed(call.resources, 'resources');
  if (!resources.ok) return resources;
  for (const resource of resources.value) {
    const error =
      reservationError(resource) ??
      principalError(resource.reservations?.at(-1)?.principal, principal, 'A reserve operation was');
    if (error) return invalid(error);
  }
  if (!call.source || call.source.length === 0) {
    return ok({ type: 'RESERVE', consumed: popReservation(resources.value), produced: resources.value, destroyed: [] });
  }
  const source = parsed(call.source, 'source');
  if (!source.ok) return source;
  if (mixedReservations(source.value)) return invalid('Invalid source: mixed reservations are not supported');
  if (mixedReservations(resources.value)) return invalid('Invalid resources: mixed reservations are not supported');
  if (source.value.some(isPersistentVolume)) return invalid('Invalid source: persistent volumes cannot be re-reserved');
  if (!equals(toUnreserved(source.value), toUnreserved(resources.value))) {
    return invalid('Source and target resources should refer to identical resource quantities');
  }
  return ok({ type: 'RESERVE', consumed: source.value, produced: resources.value, destroyed: [] });
}

function unreserveConversion(
  call: Extract<ConversionCall, { type: 'UNRESERVE' }>,
): Result<Conversion, Failure<'INVALID'>> {
  const resources = parsed(call.resources, 'resources');
  if (!resources.ok) return resources;
  for (const resource of resources.value) {
    const error = unreservationError(resource);
    if (error) return invalid(error);
  }
  return ok({ type: 'UNRESERVE', consumed: resources.value, produced: popReservation(resources.value), destroyed: [] });
}

function createConversion(
  call: Extract<ConversionCall, { type: 'CREATE' }>,
  agent: AgentRecord,
  principal: string | undefined,
): Result<Conversion, Failure<'INVALID'>> {
  const volumes = parsed(call.volumes, 'volumes');
  if (!volumes.ok) return volumes;
  for (const volume of volumes.value) {
    const error =
      volumeError(volume) ?? principalError(volume.disk?.persistence?.principal, principal, 'Create volume operation');
    if (error) return invalid(error);
  }
  const duplicate = duplicateVolumeError(agent.total, volumes.value);
  if (duplicate) return invalid(duplicate);
  return ok({ type: 'CREATE', consumed: volumes.value.map(diskOf), produced: volumes.value, destroyed: [] });
}

function destroyConversion(
  call: Extract<ConversionCall, { type: 'DESTROY' }>,
  agent: AgentRecord,
): Result<Conversion, Failure<'INVALID'>> {
  const volumes = parsed(call.volumes, 'volumes');
  if (!volumes.ok) return volumes;
  if (!volumes.value.every(isPersistentVolume)) return invalid('Not a persistent volume: only volumes are destroyed');
  if (!contains(agent.total, volumes.value)) return invalid('Persistent volumes not found');
  // A volume a task holds stays until the task ends (Mesos: "Persistent volumes in use").
  const used = unallocate(allocatedResources(agent));
  if (volumes.value.some((volume) => contains(used, [volume]))) return invalid('Persistent volumes in use');
  return ok({
    type: 'DESTROY',
    consumed: volumes.value,
    produced: volumes.value.map(diskOf),
    destroyed: volumes.value.map((volume) => ({
      role: reservationRole(volume),
      persistence_id: volume.disk?.persistence?.id ?? '',
      ...(volume.disk?.source ? { source: volume.disk.source } : {}),
    })),
  });
}

function resizeConversion(
  call: Extract<ConversionCall, { type: 'GROW' | 'SHRINK' }>,
  agent: AgentRecord,
): Result<Conversion, Failure<'INVALID'>> {
  const capable = agent.capabilities.includes('RESIZE_VOLUME');
  const resized =
    call.type === 'GROW'
      ? growVolume({ volume: call.volume, addition: call.addition }, capable)
      : shrinkVolume({ volume: call.volume, subtract: { value: call.subtract } }, capable);
  if (!resized.ok) return invalid(resized.error);
  const [volume] = resized.value.consumed;
  if (!volume || !contains(agent.total, [volume])) return invalid('Persistent volume not found');
  return ok({ type: call.type, ...resized.value, destroyed: [] });
}

/** The conversion the call asks for on `agent`, or why it is invalid (400). */
export function validateConversion(
  call: ConversionCall,
  agent: AgentRecord,
  principal: string | undefined,
): Result<Conversion, Failure<'INVALID'>> {
  switch (call.type) {
    case 'RESERVE':
      return reserveConversion(call, principal);
    case 'UNRESERVE':
      return unreserveConversion(call);
    case 'CREATE':
      return createConversion(call, agent, principal);
    case 'DESTROY':
      return destroyConversion(call, agent);
    case 'GROW':
    case 'SHRINK':
      return resizeConversion(call, agent);
  }
}

/**
 * The agent's next total and the offers to rescind for it, or why the agent does not have what the
 * conversion consumes unallocated (409). Offers are taken back one at a time, oldest first, and only
 * those that hold some of what is missing, until what is free covers the conversion.
 */
export function planConversion(
  agent: AgentRecord,
  conversion: Conversion,
): Result<ConversionPlan, Failure<'CONFLICT'>> {
  const { consumed, produced } = conversion;
  const short = `Agent ${agent.agentId} does not have the resources to ${conversion.type.toLowerCase()} unallocated`;
  if (!contains(agent.total, consumed)) return failure('CONFLICT', `${short}: it does not have them at all`);
  let free = freeResources(agent);
  const rescind: OfferRecord[] = [];
  const offers = Object.values(agent.offers).sort((a, b) => a.createdAt - b.createdAt);
  for (const offer of offers) {
    if (contains(free, consumed)) break;
    const missing = subtract(consumed, free);
    const held = unallocate(offer.resources);
    if (equals(subtract(missing, held), missing)) continue;
    rescind.push(offer);
    free = add(free, held);
  }
  if (!contains(free, consumed)) return failure('CONFLICT', `${short}: tasks hold them`);
  const total = add(subtract(agent.total, consumed), produced);
  const kept = Object.fromEntries(Object.entries(agent.offers).filter(([, offer]) => !rescind.includes(offer)));
  const violation = ledgerViolation({ total, offers: kept, tasks: agent.tasks, executors: agent.executors });
  if (violation) return failure('CONFLICT', `${short}: ${violation}`);
  return ok({ total, rescind });
}
