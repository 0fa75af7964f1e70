/**
 * How a task's container's end becomes its terminal update (Mesos's command executor's and default
 * executor's reading of a wait status, and the agent's for a limitation). A container that a limit of the
 * agent's destroyed is told by the agent, as Mesos's `Slave::executorTerminated` tells the tasks of an
 * executor container killed for a limitation (SOURCE_AGENT): a command task's container (Mesos's command
 * executor and its task share one container, whose limit it is; a Docker task's likewise, told by the
 * Engine's OOMKilled) and a task group's shared pod (its executor container). Only a group task's own
 * limit (`share_cgroups: false`, a nested container of the default executor) is its executor's report
 * (SOURCE_EXECUTOR). Pure.
 */
import type { TaskInfo, TaskState, TaskStatusReason, TaskStatusSource } from '#shared/protocol/mesos.js';
import { named } from '#shared/resources/resources.js';
import { describeTermination, type Termination } from './containerizer/containerizer.js';
import type { StatusInput } from './statuses.js';

/** A kill in progress, as far as the terminal update is concerned. */
export interface KillOutcome {
  readonly state?: TaskState;
  readonly reason?: TaskStatusReason;
  readonly message: string;
  readonly unhealthy?: boolean;
  /** Who tells the end: the agent for a kill it decided (a pod over its limit); else the executor. */
  readonly source?: TaskStatusSource;
}

/** Whether the task's memory limit is its task group's shared one (Mesos's default `share_cgroups`). */
export function inSharedPod(task: TaskInfo, group: boolean): boolean {
  return group && task.container?.linux_info?.share_cgroups !== false;
}

/** Whether the task's memory limit is its executor container's, enforced by the agent (all but a nested one's). */
export function agentsLimit(task: TaskInfo, group: boolean): boolean {
  return !group || inSharedPod(task, group);
}

/** The terminal update's fields for a container's end. */
export function terminationOutcome(
  task: TaskInfo,
  group: boolean,
  termination: Termination,
  kill: KillOutcome | undefined,
): Omit<StatusInput, 'taskId'> {
  if (termination.oomKilled) {
    const mem = named(task.resources ?? [], 'mem');
    return {
      state: 'TASK_FAILED',
      reason: 'REASON_CONTAINER_LIMITATION_MEMORY',
      message: `Memory limit exceeded: the container was killed by the OOM killer (${describeTermination(termination)})`,
      ...(agentsLimit(task, group) ? { source: 'SOURCE_AGENT' as const } : {}),
      ...(mem.length > 0 ? { limitation: mem } : {}),
    };
  }
  if (kill) {
    return {
      state: kill.state ?? 'TASK_KILLED',
      ...(kill.source ? { source: kill.source } : {}),
      ...(kill.reason ? { reason: kill.reason } : {}),
      message: `${kill.message} (${describeTermination(termination)})`,
      ...(kill.unhealthy ? { healthy: false } : {}),
    };
  }
  if (termination.lost)
    return { state: 'TASK_FAILED', reason: 'REASON_EXECUTOR_TERMINATED', message: termination.lost };
  if (termination.exitCode === 0) return { state: 'TASK_FINISHED', message: describeTermination(termination) };
  return { state: 'TASK_FAILED', message: describeTermination(termination) };
}
