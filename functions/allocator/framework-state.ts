/**
 * What the allocator derives from one framework record: its capabilities, and per role whether it is
 * suppressed, its offer constraints and its minimum allocatable resources. Valid for as long as the
 * framework's version stays the same. Its refused-offer filters (from their own table, so they change
 * without the version) are only referenced, indexed by role and agent: a framework that declined
 * thousands of agents costs nothing until one is looked at.
 */
import { toMillis } from '#shared/resources/values.js';
import type { QuantitySet } from './config.js';
import { compileOfferConstraints, type RoleConstraints } from './constraints.js';
import type { ResourceNames } from './quantities.js';
import { isActiveFramework, type FilterSnapshot, type FrameworkSnapshot } from './snapshot.js';

/** Alternatives of (resource id, thousandths) that must all be met; no alternatives = anything goes. */
export type MinAllocatable = ReadonlyArray<ReadonlyArray<readonly [number, number]>>;

export function compileMinAllocatable(sets: readonly QuantitySet[], names: ResourceNames): MinAllocatable {
  return sets.map((set) => Object.entries(set).map(([name, value]) => [names.id(name), toMillis(value)] as const));
}

export interface FrameworkRole {
  readonly role: string;
  readonly suppressed: boolean;
  /** undefined: no constraints; 'invalid': constraints that failed validation exclude every agent. */
  readonly constraints: RoleConstraints | 'invalid' | undefined;
  /** The framework's own `offer_filters` for the role, or undefined for the cluster's setting. */
  readonly minAllocatable: MinAllocatable | undefined;
}

export interface FrameworkState {
  readonly frameworkId: string;
  readonly version: number;
  readonly active: boolean;
  readonly gpuResources: boolean;
  readonly multiRole: boolean;
  readonly revocableResources: boolean;
  readonly sharedResources: boolean;
  readonly reservationRefinement: boolean;
  readonly regionAware: boolean;
  readonly roles: readonly FrameworkRole[];
  /** Keyed by the registrar's `filterKey(role, agentId)`. */
  readonly filters: Readonly<Record<string, FilterSnapshot>>;
}

export function compileFramework(framework: FrameworkSnapshot, names: ResourceNames): FrameworkState {
  const capabilities = new Set((framework.info.capabilities ?? []).map((capability) => capability.type));
  const constraints = framework.offerConstraints ? compileOfferConstraints(framework.offerConstraints) : undefined;
  const suppressed = new Set(framework.suppressedRoles);
  const roles = framework.roles.map((role): FrameworkRole => {
    const minimum = framework.info.offer_filters?.[role]?.min_allocatable_resources;
    return {
      role,
      suppressed: suppressed.has(role),
      constraints: constraints === undefined ? undefined : constraints.ok ? constraints.value.get(role) : 'invalid',
      minAllocatable: minimum
        ? compileMinAllocatable(
            (minimum.quantities ?? []).map((entry) =>
              Object.fromEntries(Object.entries(entry.quantities ?? {}).map(([name, { value }]) => [name, value])),
            ),
            names,
          )
        : undefined,
    };
  });
  return {
    frameworkId: framework.frameworkId,
    version: framework.version,
    active: isActiveFramework(framework),
    gpuResources: capabilities.has('GPU_RESOURCES'),
    multiRole: capabilities.has('MULTI_ROLE'),
    revocableResources: capabilities.has('REVOCABLE_RESOURCES'),
    sharedResources: capabilities.has('SHARED_RESOURCES'),
    reservationRefinement: capabilities.has('RESERVATION_REFINEMENT'),
    regionAware: capabilities.has('REGION_AWARE'),
    roles,
    filters: framework.filters,
  };
}
