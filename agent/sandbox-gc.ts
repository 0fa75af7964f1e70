/**
 * Sandbox garbage collection (Mesos `GarbageCollector` and `Slave::checkDiskUsage`, src/slave/gc.cpp,
 * slave.cpp): the sandboxes of ended tasks are removed `--gc_delay` after they ended, and sooner as
 * the work dir's disk fills: every `--disk_watermark_interval` the agent removes the ended sandboxes
 * older than gc_delay × max(0, 1 − gc_disk_headroom − disk usage), Mesos's formula. A sandbox's age
 * is that of its newest entry (its stdout and stderr are written until the task ends). Sandboxes of
 * tasks the agent still runs or reports are never removed; their output has been shipped to the task
 * log store before the task's end was reported, so the files API still serves it.
 */
import { readdir, rm, rmdir, stat, statfs } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '#shared/log.js';
import type { Metrics } from '#shared/metrics.js';
import type { Lifecycle } from './lifecycle.js';

/** One executor run's sandbox on disk. */
export interface SandboxDir {
  readonly path: string;
  /** When it last changed (ms since the epoch): its newest entry's mtime. */
  readonly changedAt: number;
}

/** Mesos's age limit: gc_delay scaled down as the disk fills; 0 (remove every ended sandbox) past the headroom. */
export function maxSandboxAgeMs(gcDelayMs: number, headroom: number, diskUsage: number): number {
  return gcDelayMs * Math.max(0, 1 - headroom - diskUsage);
}

/** The sandboxes to remove now: ended (not in `live`) and older than the age limit. Pure. */
export function sandboxesToRemove(
  sandboxes: readonly SandboxDir[],
  live: ReadonlySet<string>,
  limits: { readonly gcDelayMs: number; readonly headroom: number; readonly diskUsage: number; readonly now: number },
): string[] {
  const maxAge = maxSandboxAgeMs(limits.gcDelayMs, limits.headroom, limits.diskUsage);
  return sandboxes
    .filter((sandbox) => !live.has(sandbox.path) && limits.now - sandbox.changedAt >= maxAge)
    .map((sandbox) => sandbox.path);
}

async function entries(dir: string): Promise<string[]> {
  return readdir(dir).catch(() => []);
}

/** `<work_dir>/frameworks/<fw>/executors/<executor>/runs/<run>` for every run on disk. */
export async function findSandboxes(workDir: string): Promise<SandboxDir[]> {
  const found: SandboxDir[] = [];
  const frameworks = join(workDir, 'frameworks');
  for (const framework of await entries(frameworks)) {
    const executors = join(frameworks, framework, 'executors');
    for (const executor of await entries(executors)) {
      const runs = join(executors, executor, 'runs');
      for (const run of await entries(runs)) {
        const path = join(runs, run);
        const changedAt = await newestChange(path);
        if (changedAt !== undefined) found.push({ path, changedAt });
      }
    }
  }
  return found;
}

async function newestChange(dir: string): Promise<number | undefined> {
  const own = await stat(dir).catch(() => undefined);
  if (!own?.isDirectory()) return undefined;
  let newest = own.mtimeMs;
  for (const entry of await entries(dir)) {
    const info = await stat(join(dir, entry)).catch(() => undefined);
    if (info) newest = Math.max(newest, info.mtimeMs);
  }
  return newest;
}

/** The share of the work dir's file system in use, 0 to 1 (Mesos's disk usage). */
export async function diskUsage(path: string): Promise<number> {
  const info = await statfs(path);
  return info.blocks === 0 ? 0 : 1 - info.bavail / info.blocks;
}

export interface SandboxGcOptions {
  readonly workDir: string;
  readonly gcDelayMs: number;
  readonly gcDiskHeadroom: number;
  readonly intervalMs: number;
  /** The sandboxes of tasks the agent runs or still reports (never removed). */
  readonly live: () => ReadonlySet<string>;
  readonly life: Lifecycle;
  readonly logger: Logger;
  readonly metrics: Metrics;
  /** Test seams. */
  readonly diskUsage?: (path: string) => Promise<number>;
  readonly now?: () => number;
}

export class SandboxGc {
  constructor(private readonly options: SandboxGcOptions) {}

  /** One pass: measure the disk, remove what is old enough; returns the sandboxes removed. */
  async collect(): Promise<string[]> {
    const { options } = this;
    const usage = await (options.diskUsage ?? diskUsage)(options.workDir);
    options.metrics.gauge('slave/disk_usage', () => usage);
    // Read what is live after listing: a task launched meanwhile has a sandbox newer than any limit but 0.
    const sandboxes = await findSandboxes(options.workDir);
    const remove = sandboxesToRemove(sandboxes, options.live(), {
      gcDelayMs: options.gcDelayMs,
      headroom: options.gcDiskHeadroom,
      diskUsage: usage,
      now: (options.now ?? Date.now)(),
    });
    for (const path of remove) {
      if (options.live().has(path)) continue;
      await rm(path, { recursive: true, force: true });
      // The executor's and framework's folders go with their last run.
      await rmdir(join(path, '..')).catch(() => undefined);
      await rmdir(join(path, '..', '..')).catch(() => undefined);
      await rmdir(join(path, '..', '..', '..')).catch(() => undefined);
      await rmdir(join(path, '..', '..', '..', '..')).catch(() => undefined);
    }
    if (remove.length > 0) {
      options.metrics.increment('slave/sandboxes_removed', remove.length);
      options.logger.info('Removed ended sandboxes', { count: remove.length, diskUsage: Number(usage.toFixed(3)) });
    }
    return remove;
  }

  /** Runs a pass every interval until the agent ends. */
  async run(): Promise<void> {
    const { life, logger } = this.options;
    while (life.alive) {
      try {
        await this.collect();
      } catch (error) {
        logger.warn('Sandbox garbage collection failed', { error: String(error) });
      }
      await life.sleep(this.options.intervalMs);
    }
  }
}
