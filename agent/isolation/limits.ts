/**
 * Resource limits of a container from its task's resources, with Mesos's constants and rules
 * (`cgroups/cpu`, `cgroups/mem` isolators; TASK_RESOURCE_LIMITS): `cpus` requests give CPU shares and,
 * with CFS on, a quota; `limits.cpus` replaces that quota (Infinity: none); `mem` is the hard memory
 * limit, or the soft one when `limits.mem` sets a higher hard limit; swap is never granted. Pure.
 */
import type { Resource } from '#shared/protocol/mesos.js';
import { scalarTotal } from '#shared/resources/resources.js';

export const CPU_SHARES_PER_CPU = 1024;
export const MIN_CPU_SHARES = 2;
export const CPU_CFS_PERIOD_US = 100_000;
export const MIN_CPU_CFS_QUOTA_US = 1_000;
export const MIN_MEMORY_BYTES = 32 * 1024 * 1024;
const MB = 1024 * 1024;

export interface ContainerLimits {
  readonly cpuShares: number;
  readonly cpuPeriodUs: number;
  /** Absent: no CFS quota. */
  readonly cpuQuotaUs?: number;
  /** Hard memory limit; absent: unlimited. */
  readonly memoryBytes?: number;
  /** Soft limit (reservation), set when the hard limit is above the request. */
  readonly memorySoftBytes?: number;
  /** Absent: no pids limit. */
  readonly pids?: number;
}

export interface LimitOptions {
  readonly enableCfs: boolean;
  /** 0 = none. */
  readonly pidsLimit: number;
}

export function containerLimits(
  resources: readonly Resource[],
  limits: Readonly<Record<string, { value: number }>> | undefined,
  options: LimitOptions,
): ContainerLimits {
  const cpus = scalarTotal(resources, 'cpus');
  const memMb = scalarTotal(resources, 'mem');
  const cpuLimit = limits?.cpus?.value;
  const memLimit = limits?.mem?.value;

  const cpuShares = Math.max(MIN_CPU_SHARES, Math.floor(cpus * CPU_SHARES_PER_CPU));
  let cpuQuotaUs: number | undefined;
  if (cpuLimit !== undefined) {
    cpuQuotaUs = Number.isFinite(cpuLimit)
      ? Math.max(MIN_CPU_CFS_QUOTA_US, Math.round(cpuLimit * CPU_CFS_PERIOD_US))
      : undefined;
  } else if (options.enableCfs && cpus > 0) {
    cpuQuotaUs = Math.max(MIN_CPU_CFS_QUOTA_US, Math.round(cpus * CPU_CFS_PERIOD_US));
  }

  const requestBytes = Math.max(MIN_MEMORY_BYTES, Math.round(memMb * MB));
  let memoryBytes: number | undefined = requestBytes;
  let memorySoftBytes: number | undefined;
  if (memLimit !== undefined) {
    memoryBytes = Number.isFinite(memLimit) ? Math.max(requestBytes, Math.round(memLimit * MB)) : undefined;
    if (memoryBytes === undefined || memoryBytes > requestBytes) memorySoftBytes = requestBytes;
  }

  return {
    cpuShares,
    cpuPeriodUs: CPU_CFS_PERIOD_US,
    ...(cpuQuotaUs !== undefined ? { cpuQuotaUs } : {}),
    ...(memoryBytes !== undefined ? { memoryBytes } : {}),
    ...(memorySoftBytes !== undefined ? { memorySoftBytes } : {}),
    ...(options.pidsLimit > 0 ? { pids: options.pidsLimit } : {}),
  };
}

/** cgroup v2 cpu.weight for v1 shares (the conversion runc and systemd use). */
export function sharesToWeight(shares: number): number {
  return Math.min(10_000, Math.max(1, Math.round(1 + ((shares - 2) * 9_999) / 262_142)));
}

/** The files and values a limit becomes in each cgroup version, keyed by controller. */
export function cgroupWrites(
  version: 'v1' | 'v2',
  limits: ContainerLimits,
): Array<{ controller: string; file: string; value: string }> {
  const writes: Array<{ controller: string; file: string; value: string }> = [];
  if (version === 'v1') {
    writes.push({ controller: 'cpu', file: 'cpu.shares', value: String(limits.cpuShares) });
    writes.push({ controller: 'cpu', file: 'cpu.cfs_period_us', value: String(limits.cpuPeriodUs) });
    writes.push({ controller: 'cpu', file: 'cpu.cfs_quota_us', value: String(limits.cpuQuotaUs ?? -1) });
    if (limits.memorySoftBytes !== undefined) {
      writes.push({ controller: 'memory', file: 'memory.soft_limit_in_bytes', value: String(limits.memorySoftBytes) });
    }
    // The memory limit must be set before memory+swap, which may not go below it.
    writes.push({ controller: 'memory', file: 'memory.limit_in_bytes', value: String(limits.memoryBytes ?? -1) });
    writes.push({ controller: 'memory', file: 'memory.memsw.limit_in_bytes', value: String(limits.memoryBytes ?? -1) });
    if (limits.pids !== undefined) writes.push({ controller: 'pids', file: 'pids.max', value: String(limits.pids) });
  } else {
    writes.push({ controller: 'cpu', file: 'cpu.weight', value: String(sharesToWeight(limits.cpuShares)) });
    writes.push({
      controller: 'cpu',
      file: 'cpu.max',
      value: `${limits.cpuQuotaUs ?? 'max'} ${limits.cpuPeriodUs}`,
    });
    if (limits.memorySoftBytes !== undefined) {
      writes.push({ controller: 'memory', file: 'memory.low', value: String(limits.memorySoftBytes) });
    }
    writes.push({ controller: 'memory', file: 'memory.max', value: String(limits.memoryBytes ?? 'max') });
    writes.push({ controller: 'memory', file: 'memory.swap.max', value: '0' });
    if (limits.pids !== undefined) writes.push({ controller: 'pids', file: 'pids.max', value: String(limits.pids) });
  }
  return writes;
}

/** v1 devices-cgroup rules that hide every GPU but the allocated ones (`c 195:<minor> rwm`). */
export function gpuDenyRules(
  allMinors: readonly number[],
  allocatedMinors: readonly number[],
  major: number,
): string[] {
  const allowed = new Set(allocatedMinors);
  return allMinors.filter((minor) => !allowed.has(minor)).map((minor) => `c ${major}:${minor} rwm`);
}
