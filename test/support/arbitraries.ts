/** fast-check generators of canonical Mesos resources, shared by the property tests. */
import fc from 'fast-check';
import type { Range, ReservationInfo, Resource } from '#shared/protocol/mesos.js';
import { canonicalResource } from '#shared/resources/resource.js';

export interface ResourceDomain {
  /** Port values are drawn from [low, high]. */
  readonly ports: readonly [number, number];
  /** Set items are drawn from these. */
  readonly items: readonly string[];
  /** Persistent volume ids are drawn from these. */
  readonly volumeIds: readonly string[];
}

export const DOMAIN_A: ResourceDomain = { ports: [0, 99], items: ['a', 'b', 'c'], volumeIds: ['v1', 'v2'] };
export const DOMAIN_B: ResourceDomain = { ports: [100, 199], items: ['d', 'e', 'f'], volumeIds: ['v3', 'v4'] };

const reservations: fc.Arbitrary<ReservationInfo[] | undefined> = fc.oneof(
  fc.constant(undefined),
  fc.constantFrom<ReservationInfo[]>(
    [{ type: 'STATIC', role: 'ml' }],
    [{ type: 'STATIC', role: 'eng' }],
    [{ type: 'DYNAMIC', role: 'eng', principal: 'ops' }],
    [
      { type: 'STATIC', role: 'eng' },
      { type: 'DYNAMIC', role: 'eng/backend', principal: 'ops' },
    ],
  ),
);

const allocation = fc.constantFrom<Resource['allocation_info']>(undefined, { role: 'ml' }, { role: 'eng' });

/** A scalar with Mesos's precision (whole thousandths), up to `max`. */
export const scalarValue = (max: number): fc.Arbitrary<number> =>
  fc.integer({ min: 1, max: max * 1000 }).map((millis) => millis / 1000);

export function rangesIn([low, high]: readonly [number, number]): fc.Arbitrary<Range[]> {
  return fc
    .array(
      fc
        .tuple(fc.integer({ min: low, max: high }), fc.integer({ min: 0, max: 12 }))
        .map(([begin, width]) => ({ begin, end: Math.min(high, begin + width) })),
      { minLength: 1, maxLength: 4 },
    )
    .map((list) => {
      // Keep only non-overlapping ranges so the input is a valid Resource.
      const taken: Range[] = [];
      for (const range of list) {
        if (taken.every((t) => range.end < t.begin || range.begin > t.end)) taken.push(range);
      }
      return taken;
    });
}

function canonical(resource: Resource): Resource {
  const result = canonicalResource(resource);
  if ('error' in result) throw new Error(`generator produced an invalid resource: ${result.error}`);
  return result.resource;
}

/** One canonical resource of any kind Mantle handles, with values drawn from `domain`. */
export function resourceIn(domain: ResourceDomain): fc.Arbitrary<Resource> {
  const meta = fc.record({ reservations, allocation_info: allocation });
  const scalar = fc
    .record({ name: fc.constantFrom('cpus', 'mem', 'disk'), value: scalarValue(64), revocable: fc.boolean(), meta })
    .map(({ name, value, revocable, meta: m }) =>
      canonical({
        name,
        type: 'SCALAR',
        scalar: { value },
        ...(m.reservations ? { reservations: m.reservations } : {}),
        ...(m.allocation_info ? { allocation_info: m.allocation_info } : {}),
        // Dynamic reservations cannot be revocable.
        ...(revocable && m.reservations?.at(-1)?.type !== 'DYNAMIC' ? { revocable: {} } : {}),
      }),
    );
  const gpus = fc.record({ value: fc.integer({ min: 1, max: 8 }), meta }).map(({ value, meta: m }) =>
    canonical({
      name: 'gpus',
      type: 'SCALAR',
      scalar: { value },
      ...(m.reservations ? { reservations: m.reservations } : {}),
      ...(m.allocation_info ? { allocation_info: m.allocation_info } : {}),
    }),
  );
  const ports = fc.record({ ranges: rangesIn(domain.ports), meta }).map(({ ranges, meta: m }) =>
    canonical({
      name: 'ports',
      type: 'RANGES',
      ranges: { range: ranges },
      ...(m.reservations ? { reservations: m.reservations } : {}),
      ...(m.allocation_info ? { allocation_info: m.allocation_info } : {}),
    }),
  );
  const set = fc
    .record({ items: fc.uniqueArray(fc.constantFrom(...domain.items), { minLength: 1 }), meta })
    .map(({ items, meta: m }) =>
      canonical({
        name: 'bugs',
        type: 'SET',
        set: { item: items },
        ...(m.reservations ? { reservations: m.reservations } : {}),
        ...(m.allocation_info ? { allocation_info: m.allocation_info } : {}),
      }),
    );
  const volume = fc
    .record({ id: fc.constantFrom(...domain.volumeIds), size: scalarValue(100), shared: fc.boolean() })
    .map(({ id, size, shared }) =>
      canonical({
        name: 'disk',
        type: 'SCALAR',
        scalar: { value: size },
        reservations: [{ type: 'DYNAMIC', role: 'ml', principal: 'ops' }],
        disk: { persistence: { id }, volume: { mode: 'RW', container_path: 'data' } },
        ...(shared ? { shared: {} } : {}),
      }),
    );
  return fc.oneof(
    { weight: 5, arbitrary: scalar },
    { weight: 2, arbitrary: gpus },
    { weight: 3, arbitrary: ports },
    { weight: 2, arbitrary: set },
    { weight: 1, arbitrary: volume },
  );
}

export function resourcesIn(domain: ResourceDomain, maxLength = 6): fc.Arbitrary<Resource[]> {
  return fc.array(resourceIn(domain), { maxLength });
}
