/**
 * The agent's gauges, under Mesos's names (src/slave/metrics.cpp): registration, uptime, tasks by
 * state, running executors (one container each), GPUs, and the resources it has and its tasks use.
 * Counters (status updates sent, launches, ...) are counted where things happen.
 */
import type { Metrics } from '#shared/metrics.js';
import type { Resource, TaskState } from '#shared/protocol/mesos.js';
import { scalarTotal } from '#shared/resources/resources.js';
import { isTerminal } from '#shared/tasks/state-machine.js';

/** What the gauges read, each time a snapshot is taken. */
export interface GaugeSource {
  readonly startedAt: number;
  registered(): boolean;
  tasks(): ReadonlyArray<{
    readonly state: TaskState | undefined;
    readonly phase: string;
    readonly resources: readonly Resource[];
  }>;
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
  // Resources held by the containers still up (a terminated one holds nothing).
  const used = (name: string) => () =>
    agent
      .tasks()
      .filter((task) => task.phase !== 'terminated')
      .reduce((sum, task) => sum + scalarTotal(task.resources, name), 0);
  for (const name of ['cpus', 'mem', 'disk']) {
    const total = () => scalarTotal(agent.resources(), name);
    metrics.gauge(`slave/${name}_total`, total);
    metrics.gauge(`slave/${name}_used`, used(name));
    metrics.gauge(`slave/${name}_percent`, () => (total() > 0 ? used(name)() / total() : 0));
  }
}
