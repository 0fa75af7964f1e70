/**
 * Custom executors after an agent restart (Mesos `Slave::recover` and `reregisterExecutor`): every
 * checkpointed run's tasks are known before the task streams are recovered (so they are not ended as
 * launches that never happened); then each run's process is found again — it kept running — and has
 * `--executor_reregistration_timeout` to resubscribe (the SDK retries for MESOS_RECOVERY_TIMEOUT) with
 * its unacknowledged updates, or it is killed and its tasks fail (REASON_EXECUTOR_REREGISTRATION_TIMEOUT).
 * A run whose process ended while the agent was down fails its tasks (REASON_EXECUTOR_TERMINATED).
 */
import type { TaskState } from '#shared/protocol/mesos.js';
import { isTerminal } from '#shared/tasks/state-machine.js';
import { launchGrant } from '../authorization.js';
import type { AgentContext } from '../context.js';
import { agentStatus } from '../statuses.js';
import type { CustomExecutor, ExecutorRun } from './custom-executor.js';
import { executorContainerizer } from './launch.js';
import type { ExecutorRecord, ExecutorRecords } from './records.js';

/** What recovery needs of the registry (executors.ts). */
export interface RecoveringRegistry {
  readonly records: ExecutorRecords;
  remember(frameworkId: string, taskId: string, launchId: string): void;
  newExecutor(run: ExecutorRun, token?: string): CustomExecutor;
  adopt(executor: CustomExecutor, launches: ReadonlyArray<{ taskId: string; launchId: string }>): void;
}

/** Reads the runs' records and remembers their tasks; returns the records for `reattachExecutors`. */
export async function loadExecutors(registry: RecoveringRegistry): Promise<ExecutorRecord[]> {
  const records = await registry.records.all();
  for (const record of records) {
    for (const { task, launchId } of record.tasks)
      registry.remember(record.run.frameworkId, task.task_id.value, launchId);
  }
  return records;
}

/** Finds each run's process again; adds its container to `known` (never an orphan). */
export async function reattachExecutors(
  registry: RecoveringRegistry,
  context: AgentContext,
  records: readonly ExecutorRecord[],
  known: Set<string>,
): Promise<void> {
  for (const record of records) {
    const { run } = record;
    // A Docker executor's container is found again by its name (docker.ts), a process by its supervisor.
    const containerizer = executorContainerizer(context, run.info);
    known.add(run.containerId);
    const stateOf = (taskId: string): TaskState | undefined =>
      context.updates.stream(run.frameworkId, taskId)?.latestState;
    const claim = context.gpuAllocator.claim(run.containerId, record.gpus);
    const container = await containerizer?.recover({
      recorded: Promise.resolve(),
      containerId: run.containerId,
      agentId: '',
      frameworkId: run.frameworkId,
      frameworkInfo: run.frameworkInfo,
      executorId: run.info.executor_id.value,
      task: record.container,
      sandbox: run.sandbox,
      gpus: claim.gpus,
      allGpus: context.executorContext().allGpus,
      grant: launchGrant(run.grant),
    });
    if (!container) {
      context.gpuAllocator.release(run.containerId);
      await failGone(context, record, stateOf);
      await registry.records.forget(record);
      continue;
    }
    const executor = registry.newExecutor(run, record.token);
    registry.records.start(
      executor,
      { container: record.container, gpus: record.gpus },
      new Map(record.tasks.map(({ task, launchId }) => [task.task_id.value, launchId])),
    );
    registry.adopt(
      executor,
      record.tasks.map(({ task, launchId }) => ({ taskId: task.task_id.value, launchId })),
    );
    executor.started(
      container,
      record.tasks.map(({ task }) => ({ task, state: stateOf(task.task_id.value) })),
    );
    context.metrics.increment('slave/recovered_executors');
    context.logger.info('Recovered a custom executor; waiting for it to resubscribe', {
      frameworkId: run.frameworkId,
      executorId: run.info.executor_id.value,
    });
  }
}

async function failGone(
  context: AgentContext,
  record: ExecutorRecord,
  stateOf: (taskId: string) => TaskState | undefined,
): Promise<void> {
  for (const { task } of record.tasks) {
    const state = stateOf(task.task_id.value);
    if (state !== undefined && isTerminal(state)) continue;
    const status = agentStatus(
      task.task_id.value,
      'TASK_FAILED',
      'REASON_EXECUTOR_TERMINATED',
      'The executor ended while the agent was down',
    );
    await context.updates.update(record.run.frameworkId, { ...status, executor_id: record.run.info.executor_id });
  }
}
