/**
 * What the agent's parts share: recovery, the launcher and the command handler work on the tasks the
 * agent runs, their status update streams, the checkpoint and the remembered commands, all held by the
 * agent (agent.ts), as Mesos's `Slave` holds its frameworks and executors for its handlers.
 */
import type { Logger } from '#shared/log.js';
import type { Metrics } from '#shared/metrics.js';
import type { Checkpoint } from './checkpoint.js';
import type { AgentConfig, ContainerizerKind } from './config.js';
import type { Containerizer } from './containerizer/containerizer.js';
import type { ExecutorContext, TaskExecutor } from './executor.js';
import type { CustomExecutor } from './executor-api/custom-executor.js';
import type { LaunchRequest } from './launch-plan.js';
import type { KillPolicy } from '#shared/protocol/mesos.js';
import type { GpuAllocator } from './gpu/allocator.js';
import type { MetadataFirewall } from './isolation/firewall.js';
import type { Isolation } from '#shared/protocol/internal.js';
import type { Lifecycle } from './lifecycle.js';
import type { AgentState } from './state.js';
import type { StatusUpdateManager } from './status-update-manager.js';

export interface AgentContext {
  readonly config: AgentConfig;
  readonly checkpoint: Checkpoint;
  readonly updates: StatusUpdateManager;
  readonly life: Lifecycle;
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly containerizers: ReadonlyMap<ContainerizerKind, Containerizer>;
  /** The tasks the agent runs, until their terminal update is acknowledged; by taskKey. */
  readonly executors: Map<string, TaskExecutor>;
  /** The frameworks' custom executors and the tasks given to them. */
  readonly customExecutors: CustomExecutorRegistry;
  /** Which task holds which GPU (a fresh one when the agent starts afresh). */
  readonly gpuAllocator: GpuAllocator;
  /** What the containerizers enforce here (GPUs: a devices cgroup, or visibility only). */
  readonly isolation: Isolation;
  /** The metadata firewall (--block_metadata), checked before each launch. */
  readonly firewall: MetadataFirewall | undefined;
  /** `meta/state.json` as it is now: change it, then `saveState()`. */
  readonly state: AgentState;
  saveState(): Promise<void>;
  executorContext(): ExecutorContext;
}

/** The custom executors as the command handler uses them (executor-api/executors.ts). */
export interface CustomExecutorRegistry {
  /** A LAUNCH of a task with an executor; false leaves the command in the queue. */
  launch(request: LaunchRequest): Promise<boolean>;
  /** KILL of a task a custom executor holds; false when none does. */
  kill(frameworkId: string, taskId: string, killPolicy: KillPolicy | undefined): Promise<boolean>;
  shutdown(which: (executor: CustomExecutor) => boolean, why: string): Promise<void>;
  /** FRAMEWORK_MESSAGE: false when the executor does not run here or is not subscribed. */
  deliver(frameworkId: string, executorId: string, data: string): boolean;
  knows(frameworkId: string, taskId: string): boolean;
  /** The task's terminal update was acknowledged: its launch id, if a custom executor had it. */
  closed(frameworkId: string, taskId: string): string | undefined;
  /** Recovery: the checkpointed runs' tasks (before the task streams), then their processes. */
  load(): Promise<void>;
  reattach(known: Set<string>): Promise<void>;
}
