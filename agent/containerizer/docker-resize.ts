/**
 * New limits for a running Docker container (a Docker custom executor's tasks came or went), through the
 * Engine's `update` (what `docker update` does), as Mesos's Docker containerizer updates an executor's
 * container. The same rule as a process container's cgroups (cgroups.ts `resize`): the CPU limits follow
 * at once; a lower hard memory limit is set only when the memory in use fits under it (below, the kernel
 * would reclaim or OOM-kill), otherwise it stays and only the rest follows.
 */
import type Docker from 'dockerode';
import type { ContainerLimits } from '../isolation/limits.js';

/** The fields of an update that give a container these limits, as `dockerCreateOptions` sets them. Pure. */
export function dockerUpdate(limits: ContainerLimits, withMemory: boolean): Record<string, number> {
  return {
    CpuShares: limits.cpuShares,
    CpuPeriod: limits.cpuPeriodUs,
    // -1 lifts a quota (0 would leave the one set before).
    CpuQuota: limits.cpuQuotaUs ?? -1,
    ...(withMemory && limits.memoryBytes !== undefined
      ? { Memory: limits.memoryBytes, MemorySwap: limits.memoryBytes }
      : {}),
    ...(limits.memorySoftBytes !== undefined ? { MemoryReservation: limits.memorySoftBytes } : {}),
  };
}

/** Whether a hard memory limit of `next` bytes may be set on a container with `current` and `usage`. Pure. */
export function memoryFits(next: number | undefined, current: number, usage: number | undefined): boolean {
  if (next === undefined || current === 0 || next >= current) return true;
  return usage !== undefined && usage <= next;
}

/** Applies `limits` to the running container; returns whether the hard memory limit could follow. */
export async function resizeDockerContainer(container: Docker.Container, limits: ContainerLimits): Promise<boolean> {
  const info = await container.inspect();
  const next = limits.memoryBytes;
  let usage: number | undefined;
  if (next !== undefined && info.HostConfig.Memory !== undefined && next < info.HostConfig.Memory) {
    // One reading, not a stream (`one-shot` skips the second sample a CPU figure needs).
    const stats = await container.stats({ stream: false, 'one-shot': true });
    usage = stats.memory_stats.usage;
  }
  const fits = memoryFits(next, info.HostConfig.Memory ?? 0, usage);
  await container.update(dockerUpdate(limits, fits));
  return fits;
}
