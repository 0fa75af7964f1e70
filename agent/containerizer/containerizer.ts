/**
 * The containerizer interface (Mesos `Containerizer`): launch a task's container, recover it after an
 * agent restart, signal it, run a command in it, destroy it. Two implementations: Docker (through the
 * Engine API) and process (Mesos's containerizer role: a supervised process in its own cgroups).
 */
import type { LaunchGrant } from '#shared/protocol/internal.js';
import type { CommandInfo, TaskInfo, TaskState, TaskStatusReason } from '#shared/protocol/mesos.js';
import type { ContainerizerKind } from '../config.js';
import type { Gpu } from '../gpu/nvidia.js';
import type { PodSpec } from '../isolation/pods.js';
import type { AgentFrameworkInfo } from '../statuses.js';

export interface LaunchSpec {
  readonly containerId: string;
  readonly agentId: string;
  readonly frameworkId: string;
  readonly frameworkInfo: AgentFrameworkInfo;
  /** The task's executor: its task id for a command task, the group's executor for a task group. */
  readonly executorId: string;
  readonly task: TaskInfo;
  /** The sandbox on the host. */
  readonly sandbox: string;
  /** The executor's sandbox, for SANDBOX_PATH volumes of type PARENT (task groups). */
  readonly parentSandbox?: string;
  /** The GPUs this container gets, and all the agent offers (the others are hidden from it). */
  readonly gpus: readonly Gpu[];
  readonly allGpus: readonly Gpu[];
  /** Resolves once the task's record is checkpointed: nothing of the task may start before. */
  readonly recorded: Promise<void>;
  /** A task group's pod: the cgroup its container nests in, and the network namespace it shares. */
  readonly pod?: PodSpec;
  /** What the task may do (authorization.ts checked its description; the containerizer checks the rest). */
  readonly grant: LaunchGrant;
}

/** A launch that cannot happen; the task ends in `state` (TASK_FAILED, or TASK_ERROR for a bad description). */
export class LaunchError extends Error {
  override readonly name = 'LaunchError';
  constructor(
    message: string,
    readonly state: TaskState = 'TASK_FAILED',
    readonly reason: TaskStatusReason = state === 'TASK_ERROR'
      ? 'REASON_TASK_INVALID'
      : 'REASON_CONTAINER_LAUNCH_FAILED',
  ) {
    super(message);
  }
}

/** How a container ended. */
export interface Termination {
  readonly exitCode?: number;
  readonly signal?: string;
  /** The kernel's OOM killer killed a process of the container. */
  readonly oomKilled: boolean;
  /** The container is gone and how it ended is unknown (the supervisor died, someone removed it). */
  readonly lost?: string;
}

export interface Container {
  readonly containerId: string;
  /** Resolves once, when the container has ended. */
  readonly exited: Promise<Termination>;
  /** Set on a recovered container that had already ended: the agent settles it before re-registering. */
  readonly endedWhileDown?: boolean;
  signal(signal: 'SIGTERM' | 'SIGKILL'): Promise<void>;
  /** Runs a command in the container's environment and sandbox (COMMAND health checks); its exit code. */
  exec(command: CommandInfo, signal: AbortSignal): Promise<number>;
  /** Where HTTP and TCP health checks connect; undefined when the agent cannot reach the task's network. */
  readonly checkHost: string | undefined;
  /** A pod's network namespace file: HTTP and TCP checks run inside it instead (a task of a group). */
  readonly checkNetns?: string;
  /** Releases what the ended container held (the Docker container, cgroups, supervisor files). */
  destroy(): Promise<void>;
  /** Stops watching the container without touching it (the agent is stopping). */
  detach(): void;
}

export interface Containerizer {
  readonly kind: ContainerizerKind;
  launch(spec: LaunchSpec): Promise<Container>;
  /** Reattaches after an agent restart; undefined when the container was never started. */
  recover(spec: LaunchSpec): Promise<Container | undefined>;
  /** Kills and removes containers of this agent that no checkpoint knows; returns their ids. */
  cleanupOrphans(known: ReadonlySet<string>): Promise<string[]>;
}

/** Mesos's message for an exit (`Command exited with status 1`, `Command terminated with signal Killed`). */
export function describeTermination(termination: Termination): string {
  if (termination.lost) return termination.lost;
  if (termination.signal) return `Command terminated with signal ${termination.signal}`;
  return `Command exited with status ${termination.exitCode ?? 'unknown'}`;
}
