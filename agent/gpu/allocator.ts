/**
 * Which task holds which GPU (Mesos's `NvidiaGpuAllocator`): the master accounts GPUs as a count, the
 * agent hands out specific devices, a whole GPU or a MIG device, by UUID. A device is held by at most
 * one container; allocations are checkpointed with the task (by UUID; records of agents before MIG
 * hold GPU indices) and re-claimed on recovery. Pure.
 */
import type { Gpu } from './nvidia.js';

/** How a task record names a GPU it holds: its UUID, or (older records) the index of a whole GPU. */
export type GpuRef = string | number;

export class GpuAllocator {
  private readonly holders = new Map<string, string>();
  private readonly byRef: ReadonlyMap<GpuRef, Gpu>;

  constructor(readonly gpus: readonly Gpu[]) {
    this.byRef = new Map<GpuRef, Gpu>([
      ...gpus.map((gpu): [GpuRef, Gpu] => [gpu.uuid, gpu]),
      // An index names a whole GPU only: a GPU in MIG mode shares it among its devices.
      ...gpus.filter((gpu) => !gpu.mig).map((gpu): [GpuRef, Gpu] => [gpu.index, gpu]),
    ]);
  }

  get free(): number {
    return this.gpus.length - this.holders.size;
  }

  /** Takes `count` free GPUs (lowest indices first) for `holder`; undefined if there are not enough. */
  allocate(holder: string, count: number): Gpu[] | undefined {
    if (!Number.isInteger(count) || count < 0) return undefined;
    if (count === 0) return [];
    const chosen = this.gpus.filter((gpu) => !this.holders.has(gpu.uuid)).slice(0, count);
    if (chosen.length < count) return undefined;
    for (const gpu of chosen) this.holders.set(gpu.uuid, holder);
    return chosen;
  }

  /**
   * Re-claims GPUs a recovered task held. Returns the ones it cannot have (unknown here, or held by
   * another task): the caller fails that task rather than share a device.
   */
  claim(holder: string, refs: readonly GpuRef[]): { gpus: Gpu[]; conflicts: GpuRef[] } {
    const gpus: Gpu[] = [];
    const conflicts: GpuRef[] = [];
    for (const ref of refs) {
      const gpu = this.byRef.get(ref);
      const current = gpu && this.holders.get(gpu.uuid);
      if (!gpu || (current !== undefined && current !== holder)) conflicts.push(ref);
      else gpus.push(gpu);
    }
    if (conflicts.length === 0) for (const gpu of gpus) this.holders.set(gpu.uuid, holder);
    return { gpus: conflicts.length === 0 ? gpus : [], conflicts };
  }

  release(holder: string): void {
    for (const [uuid, current] of this.holders) if (current === holder) this.holders.delete(uuid);
  }
}
