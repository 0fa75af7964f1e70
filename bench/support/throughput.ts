/**
 * The local cluster as the benchmarks run it, and its throughput measurement: N short tasks through the
 * batch framework, timed from the first ACCEPT to the last TASK_FINISHED the framework receives. The
 * settings are bench/e2e.ts's throughput part (10 agents of cpus:4, tasks of cpus:0.1, the process
 * containerizer), so that bench:e2e and bench:vs-slurm measure the same thing.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaultAgentProcesses, startLocalCluster, type LocalCluster } from '../../local/cluster.js';
import { runBatch } from '../../test/support/batch-framework.js';

export const THROUGHPUT_AGENTS = 10;
/** `mantle local`'s layout: the agents over one child process per core, beside the master's process. */
export const THROUGHPUT_AGENT_PROCESSES = defaultAgentProcesses(THROUGHPUT_AGENTS);
export const THROUGHPUT_AGENT_RESOURCES = 'cpus:4;mem:4096;disk:1024';
export const THROUGHPUT_TASK_RESOURCES = 'cpus:0.1;mem:16';

export function round(ms: number): number {
  return Math.round(ms * 10) / 10;
}

export function percentile(values: readonly number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
}

export function summary(values: readonly number[]): { p50: number; p99: number } {
  return { p50: round(percentile(values, 0.5)), p99: round(percentile(values, 0.99)) };
}

export type BenchCluster = LocalCluster & { readonly dir: string; stopAndRemove(): Promise<void> };

/**
 * A throwaway local cluster in a temporary directory (in-memory registrar), quiet unless it fails; its agents in
 * `agentProcesses` child processes, or in this one (0) where the caller reads their metrics.
 */
export async function benchCluster(
  agents: number,
  containerizer: 'auto' | 'mesos',
  agentResources: string,
  agentProcesses = 0,
): Promise<BenchCluster> {
  const dir = await mkdtemp(join(tmpdir(), 'mantle-bench-'));
  try {
    const started = await startLocalCluster({
      cluster: 'bench',
      port: 0,
      hostname: '127.0.0.1',
      agents,
      workDir: dir,
      persist: false,
      containerizer,
      agentResources,
      agent: { switchUser: false },
      agentProcesses,
      sqsProcess: true,
      master: {},
      allocationIntervalSeconds: 10,
      sweepIntervalSeconds: 5,
      log: () => undefined,
    });
    return {
      ...started,
      dir,
      async stopAndRemove() {
        try {
          await started.stop();
        } finally {
          await rm(dir, { recursive: true, force: true });
        }
      },
    };
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
}

export interface ThroughputResult {
  readonly tasks: number;
  readonly finished: number;
  /** Tasks that ended otherwise, by state, with one example's reason and message. */
  readonly not_finished?: Record<string, { count: number; example: string }>;
  readonly seconds: number;
  readonly tasks_per_second: number;
  readonly accept_to_finished_ms: { p50: number; p99: number };
}

/**
 * Runs `count` tasks of `command` through one batch framework and tears it down. Prints progress every 5 s.
 * A task that ends in any state but TASK_FINISHED is counted in not_finished, never retried: the caller
 * decides whether such a run has a throughput.
 */
export async function measureThroughput(
  master: string,
  count: number,
  options: { readonly prefix: string; readonly command?: string; readonly label?: string },
): Promise<ThroughputResult> {
  const tasks = Array.from({ length: count }, (_, i) => ({
    taskId: `${options.prefix}-${i}`,
    command: options.command ?? 'true',
    resources: THROUGHPUT_TASK_RESOURCES,
  }));
  const run = await runBatch({ master, tasks, framework: { name: `bench-${options.prefix}` } });
  const started = performance.now();
  const progress = setInterval(() => {
    const ended = [...run.timelines.values()].filter((t) => t.ended).length;
    console.log(
      `  ${options.label ?? 'mantle'}: ${ended}/${count} finished after ${Math.round((performance.now() - started) / 1000)} s`,
    );
  }, 5000);
  try {
    await run.done;
  } finally {
    clearInterval(progress);
    await run.stop();
  }
  const timelines = [...run.timelines.values()];
  const finished = timelines.filter((t) => t.ended?.state === 'TASK_FINISHED').length;
  const notFinished: Record<string, { count: number; example: string }> = {};
  for (const { ended } of timelines) {
    if (!ended || ended.state === 'TASK_FINISHED') continue;
    const entry = (notFinished[ended.state] ??= { count: 0, example: `${ended.reason ?? ''} ${ended.message ?? ''}` });
    entry.count++;
  }
  const firstAccept = Math.min(...timelines.map((t) => t.acceptedAt ?? Infinity));
  const lastEnd = Math.max(...timelines.map((t) => t.updates.at(-1)?.at ?? 0));
  const seconds = (lastEnd - firstAccept) / 1000;
  return {
    tasks: count,
    finished,
    ...(finished < count ? { not_finished: notFinished } : {}),
    seconds: round(seconds),
    tasks_per_second: round(count / seconds),
    accept_to_finished_ms: summary(timelines.map((t) => (t.updates.at(-1)?.at ?? 0) - (t.acceptedAt ?? 0))),
  };
}
