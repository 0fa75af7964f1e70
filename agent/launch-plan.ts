/**
 * The decisions of a LAUNCH or LAUNCH_GROUP before anything starts (the checks of Mesos `Slave::run` in
 * src/slave/slave.cpp): which tasks are redeliveries of a launch already done, which were answered for
 * already (killed before launch, unknown at reconciliation), whether a task id is still in use by a
 * previous incarnation (then the command waits in the queue), and which containerizer a task needs.
 * Pure; launcher.ts carries the plan out.
 */
import type { AgentCommand, LaunchGrant } from '#shared/protocol/internal.js';
import type { ExecutorInfo, TaskInfo } from '#shared/protocol/mesos.js';
import { taskKey } from '#shared/ids.js';
import { err, ok, type Result } from '#shared/result.js';
import { launchGrant, wantsDocker } from './authorization.js';
import type { ContainerizerKind } from './config.js';
import { launchKey, type AgentState } from './state.js';
import type { AgentFrameworkInfo } from './statuses.js';

/** A LAUNCH (one task) or a LAUNCH_GROUP (its tasks and their executor). */
export interface LaunchRequest {
  readonly frameworkId: string;
  readonly frameworkInfo: AgentFrameworkInfo;
  readonly launchId: string;
  readonly tasks: readonly TaskInfo[];
  readonly groupExecutor?: ExecutorInfo;
  /** What the master authorized (the safe defaults when it sent no grant). */
  readonly grant: LaunchGrant;
}

export function launchRequest(command: Extract<AgentCommand, { type: 'LAUNCH' | 'LAUNCH_GROUP' }>): LaunchRequest {
  const common = {
    frameworkId: command.framework_id.value,
    frameworkInfo: command.framework_info,
    launchId: command.launch_id,
    grant: launchGrant(command.grant),
  };
  return command.type === 'LAUNCH'
    ? { ...common, tasks: [command.task] }
    : { ...common, tasks: command.task_group.tasks ?? [], groupExecutor: command.executor };
}

/** What the agent knows of a task id right now. */
export interface TaskIdUse {
  /** The launch id of the live task under this id, if there is one. */
  launchOf(taskId: string): string | undefined;
  /** Whether a status update stream of this task id is still open. */
  reporting(taskId: string): boolean;
}

export interface Screening {
  /** Tasks to launch now. */
  readonly fresh: TaskInfo[];
  /** Redeliveries of a launch already done or under way: nothing to do. */
  readonly duplicates: string[];
  /** Task ids the agent answered for without running them: never launched. */
  readonly refused: string[];
  /** A task id still used by its previous incarnation: the whole command waits (checked in order, first wins). */
  readonly busy?: string;
}

export function screenLaunch(request: LaunchRequest, state: AgentState, use: TaskIdUse, now: number): Screening {
  const screening: Screening = { fresh: [], duplicates: [], refused: [] };
  for (const task of request.tasks) {
    const taskId = task.task_id.value;
    const running = use.launchOf(taskId);
    if (
      running === request.launchId ||
      state.completedLaunches[launchKey(request.launchId, request.frameworkId, taskId)] !== undefined
    ) {
      screening.duplicates.push(taskId);
    } else if ((state.refused[taskKey(request.frameworkId, taskId)] ?? 0) > now) {
      screening.refused.push(taskId);
    } else if (running !== undefined || use.reporting(taskId)) {
      return { ...screening, busy: taskId };
    } else {
      screening.fresh.push(task);
    }
  }
  return screening;
}

/**
 * The containerizer a task needs: Docker for a DOCKER container or a MESOS container with an image,
 * the process containerizer for anything else. Custom executors are not supported.
 */
export function containerizerFor<C>(
  task: TaskInfo,
  groupExecutor: ExecutorInfo | undefined,
  available: ReadonlyMap<ContainerizerKind, C>,
): Result<C, string> {
  if (!groupExecutor && task.executor && task.executor.type !== 'DEFAULT') {
    return err('Custom executors are not supported by this agent: launch command tasks or task groups');
  }
  const docker = wantsDocker(task.container);
  const kind: ContainerizerKind = docker ? 'docker' : 'mesos';
  const containerizer = available.get(kind);
  if (containerizer !== undefined) return ok(containerizer);
  return err(
    docker
      ? 'The task needs the docker containerizer, which this agent does not run (--containerizers)'
      : 'The task needs the mesos (process) containerizer, which this agent does not run (--containerizers)',
  );
}
