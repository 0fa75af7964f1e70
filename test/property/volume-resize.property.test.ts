import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Resource } from '#shared/protocol/mesos.js';
import { equals, quantities } from '#shared/resources/resources.js';
import { growVolume, shrinkVolume } from '../../functions/scheduler/operations.js';

const RUNS = { numRuns: 300 };
const reservation = [{ type: 'DYNAMIC' as const, role: 'a', principal: 'ops' }];
const disk = (mb: number): Resource => ({
  name: 'disk',
  type: 'SCALAR',
  scalar: { value: mb },
  reservations: reservation,
});
const volume = (mb: number): Resource => ({
  ...disk(mb),
  disk: { persistence: { id: 'v', principal: 'ops' }, volume: { container_path: 'data', mode: 'RW' } },
});
/** Sizes in Mesos's precision (thousandths), as resources hold them. */
const size = fc.integer({ min: 1, max: 10_000_000 }).map((millis) => millis / 1000);

describe('GROW_VOLUME and SHRINK_VOLUME arithmetic', () => {
  it('conserves disk: what a resize produces adds up to what it consumes', () => {
    fc.assert(
      fc.property(size, size, (a, b) => {
        const grown = growVolume({ volume: volume(a), addition: disk(b) }, true);
        if (!grown.ok) throw new Error(grown.error);
        expect(quantities(grown.value.produced)).toEqual(quantities(grown.value.consumed));
        const [big, small] = a > b ? [a, b] : [b, a];
        const shrunk = shrinkVolume({ volume: volume(big), subtract: { value: small } }, true);
        if (big === small) {
          // Shrinking a volume to nothing is refused (Mesos: the volume must keep some size).
          expect(shrunk.ok).toBe(false);
          return;
        }
        if (!shrunk.ok) throw new Error(shrunk.error);
        expect(quantities(shrunk.value.produced)).toEqual(quantities(shrunk.value.consumed));
      }),
      { ...RUNS, examples: [[0.009, 0.009]] },
    );
  });

  it('shrinking by what was grown gives back the volume and the disk it grew with', () => {
    fc.assert(
      fc.property(size, size, (a, b) => {
        const grown = growVolume({ volume: volume(a), addition: disk(b) }, true);
        if (!grown.ok) throw new Error(grown.error);
        const [bigger] = grown.value.produced;
        const shrunk = shrinkVolume({ volume: bigger as Resource, subtract: { value: b } }, true);
        if (!shrunk.ok) throw new Error(shrunk.error);
        expect(equals(shrunk.value.produced, [volume(a), disk(b)])).toBe(true);
      }),
      RUNS,
    );
  });

  it('never resizes without RESIZE_VOLUME, nor to nothing', () => {
    fc.assert(
      fc.property(size, (a) => {
        expect(growVolume({ volume: volume(a), addition: disk(1) }, false).ok).toBe(false);
        expect(shrinkVolume({ volume: volume(a), subtract: { value: a } }, true).ok).toBe(false);
        expect(shrinkVolume({ volume: volume(a), subtract: { value: 0 } }, true).ok).toBe(false);
      }),
      RUNS,
    );
  });
});
