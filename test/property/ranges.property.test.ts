import fc from 'fast-check';
import { describe, it } from 'vitest';
import type { Range } from '#shared/protocol/mesos.js';
import {
  addRanges,
  normalizeRanges,
  rangesContain,
  rangesCount,
  rangesOverlap,
  subtractRanges,
} from '#shared/resources/values.js';

/** The model: a range list is the set of integers it covers. */
function model(ranges: readonly Range[]): Set<number> {
  const values = new Set<number>();
  for (const { begin, end } of ranges) for (let v = begin; v <= end; v++) values.add(v);
  return values;
}

function sameSet(left: Set<number>, right: Set<number>): boolean {
  return left.size === right.size && [...left].every((v) => right.has(v));
}

/** Arbitrary (possibly overlapping, unsorted) range lists over a small domain, so collisions are common. */
const ranges = fc.array(
  fc
    .tuple(fc.integer({ min: 0, max: 60 }), fc.integer({ min: 0, max: 10 }))
    .map(([begin, w]) => ({ begin, end: begin + w })),
  { maxLength: 6 },
);

function normalized(list: readonly Range[]): boolean {
  return (
    !rangesOverlap(list) &&
    list.every((r, i) => r.begin <= r.end && (i === 0 || (list[i - 1] as Range).end + 1 < r.begin))
  );
}

describe('ranges arithmetic against a set-of-integers model', () => {
  it('add is union, subtract is difference, and results are normalized', () => {
    fc.assert(
      fc.property(ranges, ranges, (a, b) => {
        const sum = addRanges(a, b);
        const difference = subtractRanges(a, b);
        const ma = model(a);
        const mb = model(b);
        return (
          normalized(sum) &&
          normalized(difference) &&
          sameSet(model(sum), new Set([...ma, ...mb])) &&
          sameSet(model(difference), new Set([...ma].filter((v) => !mb.has(v))))
        );
      }),
      { numRuns: 1000 },
    );
  });

  it('contains is subset, count is cardinality, normalize keeps the values', () => {
    fc.assert(
      fc.property(ranges, ranges, (a, b) => {
        const ma = model(a);
        const mb = model(b);
        return (
          rangesContain(a, b) === [...mb].every((v) => ma.has(v)) &&
          rangesCount(a) === ma.size &&
          sameSet(model(normalizeRanges(a)), ma)
        );
      }),
      { numRuns: 1000 },
    );
  });
});
