/**
 * Carrying out a LAUNCH or LAUNCH_GROUP (Mesos `Slave::run`, `Slave::_run` and `Framework::launchExecutor`
 * in src/slave/slave.cpp): after the screening (launch-plan.ts), a draining agent answers TASK_DROPPED;
 * otherwise every task is checked against the launch's grant (authorization.ts) and gets its
 * containerizer, a container id and its GPUs — all or nothing, as a task group launches atomically, else
 * every task fails with the cause — then its sandbox (not readable by other users) and its record in
 * the checkpoint, and its executor launches it. The container is prepared while the record is written
 * and starts only once it is durable; the command leaves the queue only once every record is.
 */
import { randomUUID } from 'node:crypto';
import { chmod, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { taskKey } from '#shared/ids.js';
import type { TaskInfo, TaskState, TaskStatusReason } from '#shared/protocol/mesos.js';
import { scalarTotal } from '#shared/resources/resources.js';
import { err, ok, type Result } from '#shared/result.js';
import { grantRefusal } from './authorization.js';
import { pathComponent } from './checkpoint.js';
import { LaunchError, type Containerizer } from './containerizer/containerizer.js';
import type { ContainerizerKind } from './config.js';
import type { AgentContext } from './context.js';
import { TaskExecutor, type TaskRecord } from './executor.js';
import type { Gpu } from './gpu/nvidia.js';
import { containerizerFor, screenLaunch, type LaunchRequest } from './launch-plan.js';
import { podSpec } from './isolation/pods.js';
import { isStopped } from './lifecycle.js';
import { agentStatus, droppedState } from './statuses.js';

/** Where one task of the launch goes. */
interface Placement {
  readonly task: TaskInfo;
  readonly containerizer: Containerizer;
  readonly containerId: string;
  readonly gpus: Gpu[];
}

/** Runs a LAUNCH or LAUNCH_GROUP; false leaves the command in the queue, to come back later. */
export async function launch(context: AgentContext, request: LaunchRequest): Promise<boolean> {
  const receivedAt = performance.now();
  const { frameworkId } = request;
  const screening = screenLaunch(
    request,
    context.state,
    {
      launchOf: (taskId) => context.executors.get(taskKey(frameworkId, taskId))?.launchId,
      reporting: (taskId) => context.updates.stream(frameworkId, taskId) !== undefined,
    },
    Date.now(),
  );
  if (screening.duplicates.length > 0)
    context.metrics.increment('slave/duplicate_launches', screening.duplicates.length);
  for (const taskId of screening.refused) {
    context.logger.info('Not launching a task already answered for (killed before launch, or reconciled away)', {
      frameworkId,
      taskId,
    });
  }
  if (screening.busy !== undefined) {
    // The task id's previous incarnation is still being reported: try again once its stream closed.
    context.logger.info('Task id still in use by a previous launch; the launch is retried later', {
      frameworkId,
      taskId: screening.busy,
    });
    return false;
  }
  const fresh = screening.fresh;
  if (fresh.length === 0) return true;
  if (context.state.draining) {
    const dropped = droppedState(request.frameworkInfo);
    await answerAll(context, frameworkId, fresh, dropped, 'REASON_AGENT_DRAINING', 'The agent is draining');
    return true;
  }
  try {
    await context.firewall?.ensure();
  } catch (error) {
    const message = `The metadata firewall could not be reinstalled: ${(error as Error).message}`;
    await answerAll(context, frameworkId, fresh, 'TASK_FAILED', 'REASON_CONTAINER_LAUNCH_FAILED', message);
    return true;
  }
  const placed = place(context, request, fresh);
  if (!placed.ok) {
    const { state, reason, message } = placed.error;
    await answerAll(context, frameworkId, fresh, state, reason, message);
    return true;
  }
  await start(context, request, placed.value, receivedAt);
  return true;
}

async function answerAll(
  context: AgentContext,
  frameworkId: string,
  tasks: readonly TaskInfo[],
  state: TaskState,
  reason: TaskStatusReason,
  message: string,
): Promise<void> {
  for (const task of tasks) {
    await context.updates.update(frameworkId, agentStatus(task.task_id.value, state, reason, message));
  }
}

/** Why GPUs may not go to a process task here: no device filter, and --gpu_process_isolation=strict. */
function unisolatedGpus(context: AgentContext, kind: ContainerizerKind, count: number): string | undefined {
  if (count === 0 || kind !== 'mesos' || context.isolation.gpus !== 'visibility') return undefined;
  if (context.config.gpuProcessIsolation !== 'strict') return undefined;
  return (
    'This agent cannot keep a process task off GPUs it was not given (no devices cgroup, and the cgroup2 ' +
    'device filter cannot be attached here) and runs with --gpu_process_isolation=strict: run the task in a Docker container'
  );
}

/** A containerizer, a container id and GPUs for every task, or for none. */
function place(
  context: AgentContext,
  request: LaunchRequest,
  tasks: readonly TaskInfo[],
): Result<Placement[], LaunchError> {
  const allocator = context.gpuAllocator;
  const placements: Placement[] = [];
  for (const task of tasks) {
    const refusal = grantRefusal(task, request.grant);
    if (refusal) {
      for (const placement of placements) allocator.release(placement.containerId);
      const which = request.groupExecutor ? `Task '${task.task_id.value}' of the group: ` : '';
      return err(new LaunchError(`${which}${refusal.message}`, refusal.state, refusal.reason));
    }
    const containerId = randomUUID();
    const containerizer = containerizerFor(task, request.groupExecutor, context.containerizers);
    let failure: string | undefined;
    if (containerizer.ok) {
      const count = scalarTotal(task.resources ?? [], 'gpus');
      failure = unisolatedGpus(context, containerizer.value.kind, count);
      const gpus = failure === undefined ? allocator.allocate(containerId, count) : undefined;
      if (gpus) placements.push({ task, containerizer: containerizer.value, containerId, gpus });
      else failure ??= `The task needs ${count} GPU(s) but only ${allocator.free} are free on this agent`;
    } else {
      failure = containerizer.error;
    }
    if (failure !== undefined) {
      for (const placement of placements) allocator.release(placement.containerId);
      return err(new LaunchError(failure));
    }
  }
  return ok(placements);
}

/** Sandboxes, records and executors; resolves once every record is durable. */
async function start(
  context: AgentContext,
  request: LaunchRequest,
  placements: readonly Placement[],
  receivedAt: number,
): Promise<void> {
  const { frameworkId, launchId, groupExecutor } = request;
  const executorId = groupExecutor?.executor_id.value;
  // A group for a default executor already running here joins it: its pod and its sandbox.
  const running = executorId ? runningGroupExecutor(context, frameworkId, executorId) : undefined;
  const parentSandbox =
    running?.sandboxRun ?? (executorId ? context.checkpoint.sandbox(frameworkId, executorId, launchId) : undefined);
  const pod = groupExecutor ? podSpec(frameworkId, groupExecutor, launchId, request.tasks, running?.pod) : undefined;
  const recordings: Array<Promise<void>> = [];
  for (const placement of placements) {
    const taskId = placement.task.task_id.value;
    const ownExecutor = executorId ?? taskId;
    const sandbox = parentSandbox
      ? join(parentSandbox, 'tasks', pathComponent(taskId))
      : context.checkpoint.sandbox(frameworkId, ownExecutor, placement.containerId);
    // Other users may pass through the work dir to their own sandbox, but not list or read others'.
    await mkdir(sandbox, { recursive: true, mode: 0o711 });
    await chmod(sandbox, 0o750);
    const record: TaskRecord = {
      frameworkId,
      frameworkInfo: request.frameworkInfo,
      executorId: ownExecutor,
      task: placement.task,
      launchId,
      containerId: placement.containerId,
      containerizer: placement.containerizer.kind,
      sandbox,
      ...(parentSandbox ? { parentSandbox } : {}),
      ...(pod ? { pod } : {}),
      gpus: placement.gpus.map((gpu) => gpu.uuid),
      group: groupExecutor !== undefined,
      grant: request.grant,
      createdAt: Date.now(),
    };
    recordings.push(startTask(context, record, placement, receivedAt));
  }
  await Promise.all(recordings);
}

/**
 * A live task of the framework's default executor `executorId`, whose pod and sandbox a new group of it
 * joins (Mesos's default executor runs every task group given to it while it runs; it ends with its
 * last task, and a group launched after that starts a new one).
 */
function runningGroupExecutor(
  context: AgentContext,
  frameworkId: string,
  executorId: string,
): TaskExecutor | undefined {
  for (const executor of context.executors.values()) {
    if (executor.terminated || !executor.pod) continue;
    if (executor.frameworkId === frameworkId && executor.executorId === executorId) return executor;
  }
  return undefined;
}

/** Writes the task's record and launches its executor at once; returns the write. */
function startTask(context: AgentContext, record: TaskRecord, placement: Placement, receivedAt: number): Promise<void> {
  const { checkpoint } = context;
  const taskId = record.task.task_id.value;
  const recorded = checkpoint.writeJson(checkpoint.taskFile(record.frameworkId, taskId), record);
  recorded.catch(() => undefined);
  const executor = new TaskExecutor(record, placement.containerizer, context.executorContext(), placement.gpus);
  context.executors.set(taskKey(record.frameworkId, taskId), executor);
  context.metrics.increment('slave/tasks_launched');
  void executor.launch(recorded, receivedAt).catch((error: unknown) => {
    if (!isStopped(error)) context.logger.error('Launching a task failed', { taskId, error: String(error) });
  });
  return recorded;
}
