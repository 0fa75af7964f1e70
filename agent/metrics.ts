/**
 * The agent's gauges, under Mesos's names (src/slave/metrics.cpp): registration, uptime, tasks by
 * state, running executors, GPUs, and the resources offered. Counters are counted where things happen.
 */
import type { Metrics } from '#shared/metrics.js';
import type { Resource, TaskState } from '#shared/protocol/mesos.js';
import { scalarTotal } from '#shared/resources/resources.js';
import { isTerminal } from '#shared/tasks/state-machine.js';

/** What the gauges read, each time a snapshot is taken. */
export interface GaugeSource {
  readonly startedAt: number;
  registered(): boolean;
  tasks(): ReadonlyArray<{ readonly state: TaskState | undefined; readonly phase: string }>;
  gpus(): { readonly total: number; readonly free: number };
  resources(): readonly Resource[];
}

export function registerAgentGauges(metrics: Metrics, agent: GaugeSource): void {
  const count = (state: TaskState) => () =>
    agent.tasks().filter((task) => task.state === state && !isTerminal(task.state)).length;
  metrics.gauge('slave/registered', () => (agent.registered() ? 1 : 0));
  metrics.gauge('slave/uptime_secs', () => (Date.now() - agent.startedAt) / 1000);
  metrics.gauge('slave/tasks_staging', count('TASK_STAGING'));
  metrics.gauge('slave/tasks_starting', count('TASK_STARTING'));
  metrics.gauge('slave/tasks_running', count('TASK_RUNNING'));
  metrics.gauge('slave/tasks_killing', count('TASK_KILLING'));
  metrics.gauge('slave/executors_running', () => agent.tasks().filter((task) => task.phase !== 'terminated').length);
  metrics.gauge('slave/gpus_total', () => agent.gpus().total);
  metrics.gauge('slave/gpus_used', () => agent.gpus().total - agent.gpus().free);
  metrics.gauge('slave/cpus_total', () => scalarTotal(agent.resources(), 'cpus'));
  metrics.gauge('slave/mem_total', () => scalarTotal(agent.resources(), 'mem'));
  metrics.gauge('slave/disk_total', () => scalarTotal(agent.resources(), 'disk'));
}
