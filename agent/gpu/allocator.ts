/**
 * Which task holds which GPU (Mesos's `NvidiaGpuAllocator`): the master accounts GPUs as a count, the
 * agent hands out specific devices. A GPU is held by at most one container; allocations are
 * checkpointed with the task and re-claimed on recovery. Pure.
 */
import type { Gpu } from './nvidia.js';

export class GpuAllocator {
  private readonly holders = new Map<number, string>();
  private readonly byIndex: ReadonlyMap<number, Gpu>;

  constructor(readonly gpus: readonly Gpu[]) {
    this.byIndex = new Map(gpus.map((gpu) => [gpu.index, gpu]));
  }

  get free(): number {
    return this.gpus.length - this.holders.size;
  }

  /** Takes `count` free GPUs (lowest indices first) for `holder`; undefined if there are not enough. */
  allocate(holder: string, count: number): Gpu[] | undefined {
    if (!Number.isInteger(count) || count < 0) return undefined;
    if (count === 0) return [];
    const chosen = this.gpus.filter((gpu) => !this.holders.has(gpu.index)).slice(0, count);
    if (chosen.length < count) return undefined;
    for (const gpu of chosen) this.holders.set(gpu.index, holder);
    return chosen;
  }

  /**
   * Re-claims GPUs a recovered task held. Returns the ones it cannot have (unknown here, or held by
   * another task): the caller fails that task rather than share a device.
   */
  claim(holder: string, indices: readonly number[]): { gpus: Gpu[]; conflicts: number[] } {
    const gpus: Gpu[] = [];
    const conflicts: number[] = [];
    for (const index of indices) {
      const gpu = this.byIndex.get(index);
      const current = this.holders.get(index);
      if (!gpu || (current !== undefined && current !== holder)) conflicts.push(index);
      else gpus.push(gpu);
    }
    if (conflicts.length === 0) for (const gpu of gpus) this.holders.set(gpu.index, holder);
    return { gpus: conflicts.length === 0 ? gpus : [], conflicts };
  }

  release(holder: string): void {
    for (const [index, current] of this.holders) if (current === holder) this.holders.delete(index);
  }
}
