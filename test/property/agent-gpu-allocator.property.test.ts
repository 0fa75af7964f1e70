import fc from 'fast-check';
import { expect, it } from 'vitest';
import { GpuAllocator } from '../../agent/gpu/allocator.js';
import type { Gpu } from '../../agent/gpu/nvidia.js';

const GPUS: Gpu[] = Array.from({ length: 8 }, (_, index) => ({
  index,
  uuid: `GPU-00000000-0000-0000-0000-${String(index).padStart(12, '0')}`,
  model: 'NVIDIA H100 80GB HBM3',
  memoryMiB: 81559,
  minor: index,
}));

type Step = { kind: 'allocate'; holder: number; count: number } | { kind: 'release'; holder: number };

const step: fc.Arbitrary<Step> = fc.oneof(
  fc.record({
    kind: fc.constant('allocate' as const),
    holder: fc.integer({ min: 0, max: 9 }),
    count: fc.integer({ min: 0, max: 5 }),
  }),
  fc.record({ kind: fc.constant('release' as const), holder: fc.integer({ min: 0, max: 9 }) }),
);

it('never gives one GPU to two holders, and gives exactly what is asked or nothing', () => {
  fc.assert(
    fc.property(fc.array(step, { maxLength: 60 }), (steps) => {
      const allocator = new GpuAllocator(GPUS);
      const held = new Map<string, Set<number>>();
      for (const s of steps) {
        const holder = `h${s.holder}`;
        if (s.kind === 'release') {
          allocator.release(holder);
          held.delete(holder);
          continue;
        }
        const free = allocator.free;
        const got = allocator.allocate(holder, s.count);
        if (s.count > free) {
          expect(got).toBeUndefined();
          continue;
        }
        expect(got).toHaveLength(s.count);
        const taken = new Set([...held.values()].flatMap((set) => [...set]));
        for (const gpu of got ?? []) expect(taken.has(gpu.index)).toBe(false);
        const mine = held.get(holder) ?? new Set<number>();
        for (const gpu of got ?? []) mine.add(gpu.index);
        held.set(holder, mine);
        // The model: no index in two holders' sets, and the allocator agrees with the model.
        const all = [...held.values()].flatMap((set) => [...set]);
        expect(new Set(all).size).toBe(all.length);
        expect(allocator.free).toBe(GPUS.length - all.length);
      }
    }),
  );
});
