/**
 * Refused-offer filters (Mesos `RefusedOfferFilter`, src/master/allocator/mesos/hierarchical.hpp): after a DECLINE
 * (or the unused part of an ACCEPT) the framework gets no offer from that agent to that role whose resources are a
 * subset of what it refused, until the filter expires. More resources on the agent make the offer go through.
 */
import type { Range, Resource } from '#shared/protocol/mesos.js';
import { filterKey } from '#shared/ids.js';
import { add, contains, unallocate } from '#shared/resources/resources.js';
import { rangesContain, toMillis } from '#shared/resources/values.js';
import { isPlain } from './agent-state.js';
import type { Quantities, ResourceNames } from './quantities.js';
import type { FilterSnapshot } from './snapshot.js';

/** `Filters.refuse_seconds` proto default: it applies when `filters` is omitted. */
export const DEFAULT_REFUSE_SECONDS = 5;
/** Mesos caps refuse_seconds at 365 days. */
export const MAX_REFUSE_SECONDS = 365 * 24 * 3600;

/**
 * The filter a decline installs (Mesos `recoverResources`): negative or missing refuse_seconds mean the
 * default, more than 365 days is capped, and 0 means no filter at all (undefined).
 */
export function refusalFilter(input: {
  role: string;
  agentId: string;
  resources: readonly Resource[];
  refuseSeconds?: number;
  now: number;
}): FilterSnapshot | undefined {
  const asked = input.refuseSeconds ?? DEFAULT_REFUSE_SECONDS;
  const seconds = Number.isNaN(asked) || asked < 0 ? DEFAULT_REFUSE_SECONDS : Math.min(asked, MAX_REFUSE_SECONDS);
  if (seconds === 0) return undefined;
  return {
    role: input.role,
    agentId: input.agentId,
    resources: unallocate(input.resources),
    expiresAt: input.now + Math.round(seconds * 1000),
  };
}

/**
 * One filter per role and agent, as the registrar keeps them: what one call refused on an agent for a
 * role (two offers of one agent declined together) is refused together, until the latest expiry.
 * Mesos keeps a filter per offer instead, which lets the two offers' sum through at once.
 */
export function mergeFilters(filters: readonly FilterSnapshot[]): FilterSnapshot[] {
  const merged = new Map<string, FilterSnapshot>();
  for (const filter of filters) {
    const key = filterKey(filter.role, filter.agentId);
    const before = merged.get(key);
    merged.set(
      key,
      before
        ? {
            ...before,
            resources: add(before.resources, filter.resources),
            expiresAt: Math.max(before.expiresAt, filter.expiresAt),
          }
        : filter,
    );
  }
  return [...merged.values()];
}

/** A candidate offer in the allocator's compact form. */
export interface CandidateOffer {
  readonly scalars: Quantities;
  readonly ranges: ReadonlyArray<{ readonly id: number; readonly ranges: readonly Range[] }>;
  readonly other: readonly Resource[];
}

/** A filter's resources in the same compact form. */
interface Refused {
  readonly scalars: Quantities;
  readonly ranges: ReadonlyMap<number, Range[]>;
  readonly other: Resource[];
}

/** The filter of a framework's role on an agent, if one is in force at `now`. */
export function filterFor(
  filters: Readonly<Record<string, FilterSnapshot>>,
  role: string,
  agentId: string,
  now: number,
): FilterSnapshot | undefined {
  const filter = filters[filterKey(role, agentId)];
  return filter && filter.role === role && filter.agentId === agentId && filter.expiresAt > now ? filter : undefined;
}

/** Checks offers against filters, compiling each filter looked at once (per allocator: ids are its own). */
export class FilterMatcher {
  private readonly compiled = new WeakMap<FilterSnapshot, Refused>();

  constructor(private readonly names: ResourceNames) {}

  /** True when the offer holds nothing beyond the resources the filter refused. */
  refuses(filter: FilterSnapshot, offer: CandidateOffer): boolean {
    let refused = this.compiled.get(filter);
    if (!refused) this.compiled.set(filter, (refused = this.compile(filter)));
    const { scalars } = offer;
    for (let i = 0; i < scalars.length; i++) {
      if ((scalars[i] as number) > (refused.scalars[i] ?? 0)) return false;
    }
    for (const { id, ranges } of offer.ranges) {
      if (!rangesContain(refused.ranges.get(id) ?? [], ranges)) return false;
    }
    return offer.other.length === 0 || contains(refused.other, offer.other);
  }

  private compile(filter: FilterSnapshot): Refused {
    const names = this.names;
    for (const resource of filter.resources) names.id(resource.name);
    const scalars = new Float64Array(names.size);
    const ranges = new Map<number, Range[]>();
    const other: Resource[] = [];
    for (const resource of filter.resources) {
      const id = names.id(resource.name);
      if (!isPlain(resource)) other.push(resource);
      else if (resource.type === 'SCALAR')
        scalars[id] = (scalars[id] as number) + toMillis(resource.scalar?.value ?? 0);
      else ranges.set(id, [...(ranges.get(id) ?? []), ...(resource.ranges?.range ?? [])]);
    }
    return { scalars, ranges, other: unallocate(other) };
  }
}
