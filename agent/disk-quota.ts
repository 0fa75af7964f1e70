/**
 * The ROOT disk quota (Mesos's `disk/du` isolator with `--enforce_container_disk_quota`): every
 * `--container_disk_watch_interval` the agent measures each executor run's sandbox with `du`, and an
 * executor whose sandbox holds more than its tasks' `disk` is killed at once: TASK_FAILED,
 * REASON_CONTAINER_LIMITATION_DISK, `Disk usage (…) exceeds quota (…)`. As in Mesos the quota is the
 * ROOT disk the tasks were given (persistent volumes and PATH / MOUNT disks live elsewhere, and the
 * volumes' links in the sandbox are not followed); a task group's sandbox is measured once, against the
 * sum of its tasks' disk, and all of them go down. Tasks without `disk` are not limited.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { Logger } from '#shared/log.js';
import type { Metrics } from '#shared/metrics.js';
import type { Resource } from '#shared/protocol/mesos.js';
import { addScalars } from '#shared/resources/values.js';
import type { KillRequest } from './executor.js';
import type { Lifecycle } from './lifecycle.js';

const run = promisify(execFile);
const MB = 1024 * 1024;

/** What the quota needs of a task's executor. */
export interface QuotaTask {
  readonly sandboxRun: string;
  readonly resources: readonly Resource[];
  readonly terminated: boolean;
  kill(request: KillRequest): Promise<void>;
}

/** An executor run's sandbox, its quota in bytes, and the tasks that go down with it. */
export interface QuotaTarget<T> {
  readonly sandbox: string;
  readonly quotaBytes: number;
  readonly tasks: T[];
}

/** The ROOT disk of a task's resources, in MB: `disk` without a source or a persistent volume. */
export function rootDiskMb(resources: readonly Resource[]): number {
  return resources
    .filter((resource) => resource.name === 'disk' && !resource.disk?.source && !resource.disk?.persistence)
    .reduce((total, resource) => addScalars(total, resource.scalar?.value ?? 0), 0);
}

/** The live tasks by executor run, with the run's quota; runs without disk are left out (pure). */
export function quotaTargets<T extends QuotaTask>(tasks: Iterable<T>): Array<QuotaTarget<T>> {
  const runs = new Map<string, { mb: number; tasks: T[] }>();
  for (const task of tasks) {
    if (task.terminated) continue;
    const entry = runs.get(task.sandboxRun) ?? { mb: 0, tasks: [] };
    entry.mb = addScalars(entry.mb, rootDiskMb(task.resources));
    entry.tasks.push(task);
    runs.set(task.sandboxRun, entry);
  }
  return [...runs]
    .filter(([, entry]) => entry.mb > 0)
    .map(([sandbox, entry]) => ({ sandbox, quotaBytes: Math.round(entry.mb * MB), tasks: entry.tasks }));
}

/** Bytes as Mesos prints them (`Bytes` stringify): the largest unit, up to three decimals. */
export function formatBytes(bytes: number): string {
  const units: Array<[string, number]> = [
    ['TB', 1024 ** 4],
    ['GB', 1024 ** 3],
    ['MB', MB],
    ['KB', 1024],
  ];
  for (const [unit, size] of units) if (bytes >= size) return `${Number((bytes / size).toFixed(3))}${unit}`;
  return `${bytes}B`;
}

/** Mesos's limitation message when `used` exceeds `quota`, else undefined (pure). */
export function diskLimitation(usedBytes: number, quotaBytes: number): string | undefined {
  return usedBytes > quotaBytes
    ? `Disk usage (${formatBytes(usedBytes)}) exceeds quota (${formatBytes(quotaBytes)})`
    : undefined;
}

/** `du -k -s` of a folder, in bytes (as Mesos's `disk/du` measures: blocks in use, links not followed). */
export async function du(path: string): Promise<number> {
  const { stdout } = await run('du', ['-k', '-s', path]);
  return Number(stdout.split('\t')[0]) * 1024;
}

export interface DiskQuotaOptions {
  readonly intervalMs: number;
  readonly tasks: () => Iterable<QuotaTask>;
  readonly life: Lifecycle;
  readonly logger: Logger;
  readonly metrics: Metrics;
}

export class DiskQuota {
  constructor(private readonly options: DiskQuotaOptions) {}

  /** One pass: measures every run with disk, kills the runs over it; returns the sandboxes over. */
  async check(): Promise<string[]> {
    const over: string[] = [];
    for (const target of quotaTargets(this.options.tasks())) {
      const used = await du(target.sandbox).catch(() => undefined);
      const message = used === undefined ? undefined : diskLimitation(used, target.quotaBytes);
      if (!message) continue;
      over.push(target.sandbox);
      this.options.metrics.increment('containerizer/disk_quota_kills');
      this.options.logger.warn('A sandbox exceeds its disk quota: killing its tasks', {
        sandbox: target.sandbox,
        message,
      });
      const request: KillRequest = {
        gracePeriodMs: 0,
        state: 'TASK_FAILED',
        reason: 'REASON_CONTAINER_LIMITATION_DISK',
        message,
      };
      for (const task of target.tasks) await task.kill(request);
    }
    return over;
  }

  /** Checks every interval until the agent ends. */
  async run(): Promise<void> {
    const { life, logger, intervalMs } = this.options;
    while (life.alive) {
      await life.sleep(intervalMs);
      try {
        await this.check();
      } catch (error) {
        logger.warn('Measuring sandboxes for their disk quota failed', { error: String(error) });
      }
    }
  }
}
