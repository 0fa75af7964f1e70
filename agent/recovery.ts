/**
 * Recovery after an agent restart (Mesos `Slave::recover` in src/slave/slave.cpp, reading what
 * src/slave/state.cpp checkpointed): the agent's id and queues, its remembered commands, then every
 * task: its status update stream is replayed, its executor rebuilt from the record and reattached to
 * the container (or told what ended while the agent was down), its GPUs re-claimed. Containers of this
 * work dir that no checkpoint knows are killed (Mesos `--docker_kill_orphans`). Also the opposite: a
 * master that wrote the agent off makes it abandon every task and start afresh.
 */
import { taskKey } from '#shared/ids.js';
import type { Logger } from '#shared/log.js';
import type { TaskState } from '#shared/protocol/mesos.js';
import type { Checkpoint } from './checkpoint.js';
import type { Containerizer } from './containerizer/containerizer.js';
import { bootId } from './containerizer/host.js';
import type { AgentContext } from './context.js';
import { TaskExecutor, type TaskRecord } from './executor.js';
import type { Gpu } from './gpu/nvidia.js';
import { isStopped } from './lifecycle.js';
import type { AgentRegistration } from './registration.js';
import { emptyAgentState, upgradedState, type AgentState, type SavedAgentState } from './state.js';
import { agentStatus, droppedState } from './statuses.js';

export interface SavedAgent {
  readonly registration: AgentRegistration | undefined;
  readonly state: AgentState;
}

/** The agent's own checkpoint (`meta/boot_id`, `agent.json`, `state.json`), its directories secured; notes a host reboot. */
export async function readSavedAgent(checkpoint: Checkpoint, logger: Logger): Promise<SavedAgent> {
  await checkpoint.secure();
  const boot = await bootId();
  const previousBoot = (await checkpoint.readJson<{ bootId?: string }>(checkpoint.bootIdFile))?.bootId;
  if (previousBoot !== undefined && boot !== undefined && previousBoot !== boot) {
    logger.warn('The host rebooted since the last checkpoint: its tasks are gone');
  }
  if (boot !== undefined) await checkpoint.writeJson(checkpoint.bootIdFile, { bootId: boot });
  const registration = await checkpoint.readJson<AgentRegistration>(checkpoint.agentFile);
  const state = await checkpoint.readJson<SavedAgentState>(checkpoint.stateFile);
  return { registration, state: state ? upgradedState(state) : emptyAgentState() };
}

/** What a recovered task's checkpoint calls for. */
export type TaskRecovery =
  /** Nothing: the stream is closed or empty. */
  | { readonly kind: 'none' }
  /**
   * A stream without a record: an answer of the agent's (resent as it is), or a launch that died
   * before its record was written, whose TASK_STARTING still needs an end.
   */
  | { readonly kind: 'end-unrecorded' }
  /** The task's containerizer is no longer enabled: it fails, unless its stream already ended. */
  | { readonly kind: 'no-containerizer'; readonly fail: boolean }
  | { readonly kind: 'reattach' };

interface StreamState {
  readonly terminated: boolean;
  readonly latestState: TaskState | undefined;
}

export function taskRecovery(stream: StreamState, recorded: boolean, containerizerEnabled: boolean): TaskRecovery {
  if (!recorded) {
    return !stream.terminated && stream.latestState !== undefined ? { kind: 'end-unrecorded' } : { kind: 'none' };
  }
  if (!containerizerEnabled) return { kind: 'no-containerizer', fail: !stream.terminated };
  return { kind: 'reattach' };
}

/** Recovers every checkpointed task, then kills the orphans. Run after `readSavedAgent`, before registering. */
export async function recoverTasks(context: AgentContext): Promise<void> {
  const known = new Set<string>();
  await context.customExecutors.load();
  for (const [frameworkId, taskId] of await context.checkpoint.tasks()) {
    try {
      await recoverTask(context, frameworkId, taskId, known);
    } catch (error) {
      if (isStopped(error)) throw error;
      context.metrics.increment('slave/recovery_errors');
      context.logger.error('Recovering a task failed', { frameworkId, taskId, error: String(error) });
    }
  }
  // The custom executors' containers (processes or Docker containers) are found before any orphan is killed.
  await context.customExecutors.reattach(known);
  for (const containerizer of context.containerizers.values()) {
    if (containerizer.kind === 'docker' && !context.config.dockerKillOrphans) continue;
    const orphans = await containerizer.cleanupOrphans(known);
    if (orphans.length > 0) context.logger.warn('Killed orphan containers', { kind: containerizer.kind, orphans });
  }
}

/** Recovers one task; adds its container to `known` (its container is never an orphan). */
async function recoverTask(
  context: AgentContext,
  frameworkId: string,
  taskId: string,
  known: Set<string>,
): Promise<void> {
  const { checkpoint, updates } = context;
  const stream = await updates.recover(frameworkId, taskId);
  // A custom executor's task: its executor is recovered with it (executor-api/recovery.ts).
  if (context.customExecutors.knows(frameworkId, taskId)) return;
  const record = await checkpoint.readJson<TaskRecord>(checkpoint.taskFile(frameworkId, taskId));
  if (record) known.add(record.containerId);
  const containerizer = record ? context.containerizers.get(record.containerizer) : undefined;
  const recovery = taskRecovery(stream, record !== undefined, containerizer !== undefined);
  switch (recovery.kind) {
    case 'none':
      return;
    case 'end-unrecorded':
      await updates.update(
        frameworkId,
        agentStatus(
          taskId,
          droppedState(undefined),
          'REASON_AGENT_RESTARTED',
          'The agent restarted before the task was launched',
        ),
      );
      return;
    case 'no-containerizer':
      context.logger.error('A recovered task needs a containerizer this agent no longer runs', {
        taskId,
        containerizer: record?.containerizer,
      });
      if (recovery.fail) {
        const message = `The ${record?.containerizer} containerizer is not enabled on the restarted agent`;
        await updates.update(
          frameworkId,
          agentStatus(taskId, 'TASK_FAILED', 'REASON_EXECUTOR_REREGISTRATION_TIMEOUT', message),
        );
      }
      return;
    case 'reattach':
      if (record && containerizer) await reattach(context, frameworkId, taskId, { record, containerizer, stream });
  }
}

async function reattach(
  context: AgentContext,
  frameworkId: string,
  taskId: string,
  { record, containerizer, stream }: { record: TaskRecord; containerizer: Containerizer; stream: StreamState },
): Promise<void> {
  let gpus: Gpu[] = [];
  if (!stream.terminated) {
    const claim = context.gpuAllocator.claim(record.containerId, record.gpus);
    gpus = claim.gpus;
    if (claim.conflicts.length > 0) {
      context.logger.error('A recovered task holds GPUs it cannot have', { taskId, conflicts: claim.conflicts });
    }
  }
  const executor = new TaskExecutor(record, containerizer, context.executorContext(), gpus);
  context.executors.set(taskKey(frameworkId, taskId), executor);
  await executor.recover(stream.latestState);
  context.metrics.increment('slave/recovered_tasks');
}

/**
 * The master wrote this agent off, and its tasks with it: stop watching them, forget their streams and
 * kill every container of this work dir (all orphans now). The caller then forgets the rest.
 */
export async function abandonTasks(context: AgentContext): Promise<void> {
  context.updates.pause();
  for (const executor of context.executors.values()) executor.detach();
  for (const [frameworkId, taskId] of await context.checkpoint.tasks()) context.updates.forget(frameworkId, taskId);
  for (const containerizer of context.containerizers.values()) await containerizer.cleanupOrphans(new Set());
  context.executors.clear();
}
