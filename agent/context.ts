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
