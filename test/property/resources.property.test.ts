import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Resource } from '#shared/protocol/mesos.js';
import {
  add,
  contains,
  equals,
  quantities,
  subtract,
  normalize,
  toUnreserved,
  allocate,
  unallocate,
} from '#shared/resources/resources.js';
import { parseResources } from '#shared/resources/parse.js';
import { rangesOverlap } from '#shared/resources/values.js';
import { DOMAIN_A, DOMAIN_B, resourcesIn } from '../support/arbitraries.js';

const RUNS = { numRuns: 500 };

/** Every entry of a normalized list is well formed: positive scalars, coalesced ranges, no empties. */
function wellFormed(resources: readonly Resource[]): boolean {
  return resources.every((resource) => {
    if (resource.type === 'SCALAR') return (resource.scalar?.value ?? 0) > 0;
    if (resource.type === 'RANGES') {
      const ranges = resource.ranges?.range ?? [];
      if (ranges.length === 0 || rangesOverlap(ranges)) return false;
      // Coalesced: sorted with a gap of at least one value between neighbours.
      return ranges.every(
        (range, i) => range.begin <= range.end && (i === 0 || (ranges[i - 1]?.end ?? -2) + 1 < range.begin),
      );
    }
    if (resource.type === 'SET') return (resource.set?.item?.length ?? 0) > 0;
    return false;
  });
}

const a = resourcesIn(DOMAIN_A);
const b = resourcesIn(DOMAIN_B);
const any = fc.oneof(resourcesIn(DOMAIN_A), resourcesIn(DOMAIN_B));

describe('resource algebra (property tests)', () => {
  it('(a + b) − b = a when b holds no range or set values of a', () => {
    fc.assert(
      fc.property(a, b, (x, y) => equals(subtract(add(x, y), y), x)),
      RUNS,
    );
  });

  it('a + b contains a and b', () => {
    fc.assert(
      fc.property(any, any, (x, y) => contains(add(x, y), x) && contains(add(x, y), y)),
      RUNS,
    );
  });

  it('addition is commutative and associative', () => {
    fc.assert(
      fc.property(
        any,
        any,
        any,
        (x, y, z) => equals(add(x, y), add(y, x)) && equals(add(add(x, y), z), add(x, add(y, z))),
      ),
      RUNS,
    );
  });

  it('a − b is contained in a, and never negative or malformed', () => {
    fc.assert(
      fc.property(any, any, (x, y) => {
        const difference = subtract(x, y);
        return contains(x, difference) && wellFormed(difference);
      }),
      RUNS,
    );
  });

  it('when a contains b, (a − b) + b = a', () => {
    fc.assert(
      fc.property(any, any, (x, y) => {
        const whole = add(x, y);
        return equals(add(subtract(whole, y), y), whole);
      }),
      RUNS,
    );
  });

  it('a − (a − b) = b for every b contained in a', () => {
    fc.assert(
      fc.property(any, any, (x, z) => {
        const y = subtract(x, z); // always contained in x
        return contains(x, y) && equals(subtract(x, subtract(x, y)), y);
      }),
      RUNS,
    );
  });

  it('ranges never overlap and results stay normalized after any sequence of operations', () => {
    const operation = fc.tuple(fc.constantFrom('add', 'subtract'), any);
    fc.assert(
      fc.property(any, fc.array(operation, { maxLength: 8 }), (start, operations) => {
        let current = normalize(start);
        for (const [kind, operand] of operations) {
          current = kind === 'add' ? add(current, operand) : subtract(current, operand);
          if (!wellFormed(current)) return false;
        }
        return true;
      }),
      RUNS,
    );
  });

  it('scalar quantities add up', () => {
    fc.assert(
      fc.property(any, any, (x, y) => {
        const sum = quantities(add(x, y));
        const left = quantities(x);
        const right = quantities(y);
        for (const name of ['cpus', 'mem', 'gpus']) {
          expect(sum[name] ?? 0).toBeCloseTo((left[name] ?? 0) + (right[name] ?? 0), 3);
        }
        return true;
      }),
      RUNS,
    );
  });

  it('allocation and reservation relabelling keep scalar quantities', () => {
    fc.assert(
      fc.property(any, (x) => {
        const before = quantities(x);
        const after = quantities(toUnreserved(x));
        return (
          equals(unallocate(allocate(x, 'ml')), unallocate(x)) &&
          ['cpus', 'mem', 'disk', 'gpus'].every((name) => Math.abs((before[name] ?? 0) - (after[name] ?? 0)) < 1e-9)
        );
      }),
      RUNS,
    );
  });

  it('survives a JSON round trip through the wire parser unchanged', () => {
    fc.assert(
      fc.property(any, (x) => {
        const parsed = parseResources(JSON.parse(JSON.stringify(x)));
        return parsed.ok && equals(parsed.value, x);
      }),
      RUNS,
    );
  });
});
