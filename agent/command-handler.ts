/**
 * The master's commands to the agent, one at a time per task, and the task endings they lead to (the
 * handlers of Mesos `Slave` in src/slave/slave.cpp: `run`, `runTaskGroup`, `killTask`,
 * `shutdownFramework`, `shutdownExecutor`, `drain`, `statusUpdateAcknowledgement`, and the agent's
 * side of task reconciliation). Commands are idempotent: a redelivered LAUNCH starts nothing (launcher.ts); a KILL
 * for a task not launched yet is remembered so that its LAUNCH never runs (TASK_KILLED,
 * REASON_TASK_KILLED_DURING_LAUNCH); a RECONCILE answers the tasks the agent does not know with
 * TASK_DROPPED (TASK_LOST for frameworks without PARTITION_AWARE), and remembers them likewise.
 */
import { taskKey } from '#shared/ids.js';
import { reservationRole } from '#shared/resources/resource.js';
import { AgentCommandSchema, parseMessageBody, type AgentCommand } from '#shared/protocol/internal.js';
import type { TaskState, TaskStatusReason } from '#shared/protocol/mesos.js';
import { inLogContext } from '#shared/log-context.js';
import { inGroups } from '#shared/queues/batch.js';
import type { ReceivedMessage } from '#shared/queues/queues.js';
import type { AgentContext } from './context.js';
import { removeVolume } from './disks.js';
import type { KillRequest, TaskExecutor } from './executor.js';
import { launchRequest } from './launch-plan.js';
import { launch } from './launcher.js';
import { isStopped } from './lifecycle.js';
import { COMPLETED_LAUNCH_MS, launchKey, REFUSAL_MS } from './state.js';
import { inSharedPod } from './task-outcome.js';
import { agentStatus, drainedState, droppedState, type AgentFrameworkInfo } from './statuses.js';

/** What the handler asks of the agent around it. */
export interface CommandHooks {
  /** Registers again (REREGISTER); not awaited: commands keep flowing meanwhile. */
  reregister(): void;
  /** Sends DRAINED if the drain is complete. */
  checkDrained(): Promise<void>;
}

/** A command that must wait: it comes back after its visibility timeout, with those of its task behind it. */
class CommandDeferred extends Error {}

export class CommandHandler {
  constructor(
    private readonly context: AgentContext,
    private readonly hooks: CommandHooks,
  ) {}

  /**
   * A batch from the command queue. Commands of different tasks are handled concurrently; a task's own
   * stay in order (the FIFO group is the task), and stop at the first that fails or must wait. Returns
   * those to leave in the queue, or 'stopped' when the agent ended meanwhile.
   */
  async handleBatch(messages: readonly ReceivedMessage[]): Promise<Set<ReceivedMessage> | 'stopped'> {
    let stopped = false;
    const left = await inGroups(
      messages,
      (message) => message.groupId,
      // Each command is handled, and logged, under the ids its message carries.
      (message) =>
        inLogContext(message.context ?? {}, async () => {
          if (!(await this.handleMessage(message))) throw new CommandDeferred();
        }),
      (message, error) => {
        if (isStopped(error)) stopped = true;
        else if (!(error instanceof CommandDeferred))
          inLogContext(message.context ?? {}, () =>
            this.context.logger.error('A command failed; it will be redelivered', {
              error: String(error),
              stack: (error as Error).stack,
            }),
          );
      },
    );
    return stopped ? 'stopped' : left;
  }

  private async handleMessage(message: ReceivedMessage): Promise<boolean> {
    const command = parseMessageBody(AgentCommandSchema, message.body);
    if (!command) {
      this.context.metrics.increment('slave/invalid_commands');
      this.context.logger.error('Dropping a malformed command', { messageId: message.messageId });
      return true;
    }
    this.context.logger.debug('Command received', { type: command.type });
    return this.handle(command);
  }

  /** Handles one command; false leaves it in the queue to come back later. */
  async handle(command: AgentCommand): Promise<boolean> {
    switch (command.type) {
      case 'LAUNCH':
        if (command.task.executor) return this.context.customExecutors.launch(launchRequest(command));
        return launch(this.context, launchRequest(command));
      case 'LAUNCH_GROUP':
        if (command.executor.type === 'CUSTOM') return this.context.customExecutors.launch(launchRequest(command));
        return launch(this.context, launchRequest(command));
      case 'KILL':
        if (
          await this.context.customExecutors.kill(
            command.framework_id.value,
            command.task_id.value,
            command.kill_policy,
          )
        )
          return true;
        await this.kill(
          command.framework_id.value,
          command.task_id.value,
          command.kill_policy?.grace_period?.nanoseconds,
        );
        return true;
      case 'ACKNOWLEDGE':
        await this.context.updates.acknowledge(command.framework_id.value, command.task_id.value, command.uuid);
        return true;
      case 'SHUTDOWN_FRAMEWORK':
        await this.context.customExecutors.shutdown(
          (executor) => executor.frameworkId === command.framework_id.value,
          'The framework was shut down',
        );
        await this.killWhere(
          (executor) => executor.frameworkId === command.framework_id.value,
          'The framework was shut down',
        );
        return true;
      case 'SHUTDOWN_EXECUTOR':
        await this.context.customExecutors.shutdown(
          (executor) =>
            executor.frameworkId === command.framework_id.value && executor.executorId === command.executor_id.value,
          'The executor was shut down',
        );
        await this.killWhere(
          (executor) =>
            executor.frameworkId === command.framework_id.value && executor.executorId === command.executor_id.value,
          'The executor was shut down',
        );
        return true;
      case 'FRAMEWORK_MESSAGE':
        this.frameworkMessage(command.framework_id.value, command.executor_id.value, command.data);
        return true;
      case 'DRAIN':
        await this.drain(command.max_grace_period_seconds, command.mark_gone ?? false);
        return true;
      case 'RECONCILE':
        for (const task of command.tasks) await this.reconcile(task.framework_id.value, task.task_id.value);
        return true;
      case 'DESTROY_VOLUMES':
        await this.destroyVolumes(command.volumes);
        return true;
      case 'REREGISTER':
        this.context.logger.warn('The master asks the agent to re-register', { why: command.reason });
        this.hooks.reregister();
        return true;
    }
  }

  /** To a subscribed custom executor of the framework; dropped and counted otherwise, as Mesos does. */
  private frameworkMessage(frameworkId: string, executorId: string, data: string): void {
    if (this.context.customExecutors.deliver(frameworkId, executorId, data)) {
      this.context.metrics.increment('slave/valid_framework_messages');
      return;
    }
    this.context.metrics.increment('slave/invalid_framework_messages');
    this.context.logger.warn('Dropping a framework message: no such subscribed executor here', {
      frameworkId,
      executorId,
    });
  }

  /** A kill's grace, capped by a drain's `max_grace_period`. */
  private capGrace(ms: number): number {
    const cap = this.context.state.draining?.maxGracePeriodMs;
    return cap === undefined ? ms : Math.min(ms, cap);
  }

  private async kill(frameworkId: string, taskId: string, graceNanoseconds: number | undefined): Promise<void> {
    const key = taskKey(frameworkId, taskId);
    const executor = this.context.executors.get(key);
    if (executor) {
      if (executor.terminated) return;
      await executor.kill({
        gracePeriodMs: this.capGrace(graceNanoseconds !== undefined ? graceNanoseconds / 1e6 : executor.gracePeriod()),
        message: 'Task killed by the framework',
      });
      return;
    }
    if (this.context.updates.stream(frameworkId, taskId)) return;
    // Not launched (yet): remember it, so that its LAUNCH, if it is still on its way, never runs.
    await this.refuse(key);
    await this.context.updates.update(
      frameworkId,
      agentStatus(taskId, 'TASK_KILLED', 'REASON_TASK_KILLED_DURING_LAUNCH', 'Task killed before it was launched'),
    );
  }

  /** Removes destroyed volumes' data, except a volume that a live task still has (it stays, logged). */
  private async destroyVolumes(volumes: Extract<AgentCommand, { type: 'DESTROY_VOLUMES' }>['volumes']): Promise<void> {
    const inUse = new Set<string>();
    for (const executor of this.context.executors.values()) {
      if (executor.terminated) continue;
      for (const resource of executor.resources) {
        const id = resource.disk?.persistence?.id;
        if (id !== undefined) inUse.add(`${reservationRole(resource)}/${id}`);
      }
    }
    for (const { role, persistence_id: id, source } of volumes) {
      if (inUse.has(`${role}/${id}`)) {
        this.context.logger.warn('Not removing a destroyed volume a task still uses', { role, persistenceId: id });
        continue;
      }
      await removeVolume(this.context.config.workDir, role, id, source);
      this.context.metrics.increment('slave/volumes_destroyed');
      this.context.logger.info('Removed a destroyed volume', { role, persistenceId: id });
    }
  }

  /** Kills the live tasks that `predicate` picks, with `--executor_shutdown_grace_period`. */
  async killWhere(predicate: (executor: TaskExecutor) => boolean, message: string): Promise<void> {
    for (const executor of this.context.executors.values()) {
      if (executor.terminated || !predicate(executor)) continue;
      await executor.kill({ gracePeriodMs: this.capGrace(this.context.config.executorShutdownGracePeriodMs), message });
    }
  }

  /**
   * A task reached a terminal state: its GPUs go back, and for a task of a group that did not finish,
   * the rest of its group (the tasks of the same LAUNCH_GROUP, not every task of the executor id) is
   * killed, as Mesos's default executor does (TASK_KILLED, from the executor). The pod's shared memory
   * limit hit fails every task in the pod at once, of all its groups (TASK_FAILED,
   * REASON_CONTAINER_LIMITATION_MEMORY, from the agent), as Mesos's agent fails the tasks of an executor
   * container destroyed for its limit; a task over a limit of its own (`share_cgroups: false`) only has
   * the others of its group killed (task-outcome.ts).
   */
  taskEnded(executor: TaskExecutor, state: TaskState, reason?: TaskStatusReason): void {
    this.context.gpuAllocator.release(executor.containerId);
    const counter = state.replace('TASK_', '').toLowerCase();
    this.context.metrics.increment(`slave/tasks_${counter}`);
    const group = executor.taskGroup;
    if (!group || state === 'TASK_FINISHED') return;
    const podMemory = reason === 'REASON_CONTAINER_LIMITATION_MEMORY' && inSharedPod(group.task, true);
    const kill: KillRequest = podMemory
      ? {
          gracePeriodMs: 0,
          state: 'TASK_FAILED',
          reason: 'REASON_CONTAINER_LIMITATION_MEMORY',
          source: 'SOURCE_AGENT',
          message: `The task group's memory limit was exceeded (task '${executor.taskId}' was killed by the OOM killer)`,
        }
      : {
          gracePeriodMs: this.capGrace(this.context.config.executorShutdownGracePeriodMs),
          message: `Killed because task '${executor.taskId}' of its group ended in ${state}`,
        };
    // The pod's limit takes down every group in the pod (its executor container); a failure, its own group.
    const podId = executor.pod?.id;
    const members = [...this.context.executors.values()].filter(
      (other) =>
        other !== executor &&
        !other.terminated &&
        other.frameworkId === executor.frameworkId &&
        (podMemory && podId !== undefined ? other.pod?.id === podId : other.taskGroup?.key === group.key),
    );
    void Promise.all(members.map((member) => member.kill(kill))).catch((error: unknown) => {
      if (!isStopped(error)) this.context.logger.error('Killing a task group failed', { error: String(error) });
    });
  }

  /**
   * The task's terminal update was acknowledged (Mesos `Slave::_statusUpdateAcknowledgement`): the task
   * is done, its launch remembered against redelivery, its checkpoint removed.
   */
  async taskClosed(frameworkId: string, taskId: string): Promise<void> {
    const { context } = this;
    try {
      const key = taskKey(frameworkId, taskId);
      const executor = context.executors.get(key);
      context.executors.delete(key);
      const launchId = executor?.launchId ?? context.customExecutors.closed(frameworkId, taskId);
      if (launchId !== undefined) {
        context.state.completedLaunches[launchKey(launchId, frameworkId, taskId)] = Date.now() + COMPLETED_LAUNCH_MS;
        await context.saveState();
      }
      await context.checkpoint.removeTask(frameworkId, taskId);
      await this.hooks.checkDrained();
    } catch (error) {
      if (!isStopped(error))
        context.logger.error('Cleaning up a finished task failed', { taskId, error: String(error) });
    }
  }

  private async reconcile(frameworkId: string, taskId: string): Promise<void> {
    const key = taskKey(frameworkId, taskId);
    if (this.context.executors.has(key) || this.context.updates.stream(frameworkId, taskId)) return;
    if (this.context.customExecutors.knows(frameworkId, taskId)) return;
    await this.refuse(key);
    const state = droppedState(this.frameworkInfoOf(frameworkId));
    await this.context.updates.update(
      frameworkId,
      agentStatus(taskId, state, 'REASON_RECONCILIATION', 'Reconciliation: task unknown to the agent'),
    );
  }

  private async refuse(key: string): Promise<void> {
    this.context.state.refused[key] = Date.now() + REFUSAL_MS;
    await this.context.saveState();
  }

  private frameworkInfoOf(frameworkId: string): AgentFrameworkInfo | undefined {
    for (const executor of this.context.executors.values()) {
      if (executor.frameworkId === frameworkId) return executor.info;
    }
    return undefined;
  }

  /** Draining (Mesos `Slave::drain`): checkpointed, then every task is killed; DRAINED follows once all is acknowledged. */
  private async drain(maxGraceSeconds: number | undefined, markGone: boolean): Promise<void> {
    const { context } = this;
    if (!context.state.draining) {
      context.state.draining = {
        ...(maxGraceSeconds !== undefined ? { maxGracePeriodMs: maxGraceSeconds * 1000 } : {}),
        markGone,
      };
      await context.saveState();
      context.logger.info('Draining', { maxGraceSeconds, markGone });
    }
    await context.customExecutors.shutdown(() => true, 'The agent is draining');
    for (const executor of context.executors.values()) {
      if (executor.terminated) continue;
      const request: KillRequest = {
        gracePeriodMs: this.capGrace(executor.gracePeriod()),
        state: drainedState(executor.info, markGone),
        reason: 'REASON_AGENT_DRAINING',
        message: 'The agent is draining',
      };
      await executor.kill(request);
    }
    await this.hooks.checkDrained();
  }
}
