/**
 * One run of a framework's custom executor on this agent (Mesos `Executor` in src/slave/slave.hpp): its
 * container, its secret, its SUBSCRIBE stream, the tasks queued until it subscribes and the tasks it
 * runs. Tasks are given to it as LAUNCH events; what they do it reports as UPDATE calls, which the agent
 * journals and forwards through its status update manager, answering ACKNOWLEDGED once journalled (Mesos
 * acknowledges to the executor when the agent has taken responsibility). When the container ends, every
 * task it still held fails (REASON_EXECUTOR_TERMINATED) and the framework gets a FAILURE event.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { Logger } from '#shared/log.js';
import type { Metrics } from '#shared/metrics.js';
import type { ValidExecutorCall, ExecutorEvent } from '#shared/protocol/executor.js';
import type { AgentMessage, LaunchGrant } from '#shared/protocol/internal.js';
import type { AgentInfo, ExecutorInfo, KillPolicy, TaskInfo, TaskState, TaskStatus } from '#shared/protocol/mesos.js';
import { isTerminal } from '#shared/tasks/state-machine.js';
import type { Container, Termination } from '../containerizer/containerizer.js';
import { isStopped, type Lifecycle } from '../lifecycle.js';
import { agentStatus, type AgentFrameworkInfo } from '../statuses.js';
import type { StatusUpdateManager } from '../status-update-manager.js';
import { terminationReport, waitStatus, type EndCause } from './termination.js';

/** What the agent knows of an executor run when it launches it. */
export interface ExecutorRun {
  readonly frameworkId: string;
  readonly frameworkInfo: AgentFrameworkInfo;
  readonly info: ExecutorInfo;
  readonly containerId: string;
  readonly sandbox: string;
  readonly launchId: string;
  readonly grant: LaunchGrant;
}

/** The SUBSCRIBE connection: events go out as RecordIO records until it closes. */
export interface ExecutorStream {
  send(event: ExecutorEvent): void;
  close(): void;
}

export interface CustomExecutorDeps {
  readonly updates: StatusUpdateManager;
  readonly life: Lifecycle;
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly agentInfo: () => AgentInfo;
  /** To the master, on the status queue (in this FIFO group): the executor's messages and its end. */
  readonly forward: (message: AgentMessage, groupId: string) => Promise<void>;
  readonly registrationTimeoutMs: number;
  readonly reregistrationTimeoutMs: number;
  readonly shutdownGracePeriodMs: number;
  /** The run ended and every task it held was answered for. */
  readonly ended: (executor: CustomExecutor) => void;
  /** A task it held ended: its container shrinks (resize.ts). */
  readonly tasksChanged?: (executor: CustomExecutor) => void;
}

export class CustomExecutor {
  /** The secret the executor presents as `Authorization: Bearer` (never logged). */
  readonly token: string;
  private stream: ExecutorStream | undefined;
  private subscribedOnce = false;
  private readonly queued = new Map<string, TaskInfo>();
  /** The task group each task launched in a LAUNCH_GROUP belongs to. */
  private readonly groups = new Map<string, readonly TaskInfo[]>();
  /** Tasks given to the executor, and their state as last reported (undefined before its first update). */
  private readonly live = new Map<string, TaskState | undefined>();
  /** Every task ever given to this run: the executor may report on these only. */
  private readonly known = new Map<string, TaskInfo>();
  private readonly killed = new Set<string>();
  private container: Container | undefined;
  private cause: EndCause | undefined;
  private cancelTimers: Array<() => void> = [];
  private finished = false;

  constructor(
    readonly run: ExecutorRun,
    private readonly deps: CustomExecutorDeps,
    /** A recovered run keeps the secret its process was given. */
    token?: string,
  ) {
    this.token = token ?? randomBytes(32).toString('base64url');
  }

  /** Every task given to this run (for its checkpoint). */
  givenTasks(): TaskInfo[] {
    return [...this.known.values()];
  }

  get frameworkId(): string {
    return this.run.frameworkId;
  }
  get executorId(): string {
    return this.run.info.executor_id.value;
  }
  get subscribed(): boolean {
    return this.stream !== undefined;
  }
  get ended(): boolean {
    return this.finished;
  }
  /** Whether its container was started (or found again): it has cgroups to resize. */
  get containerStarted(): boolean {
    return this.container !== undefined;
  }
  /** Whether it may be given tasks: neither ending nor ended. */
  get accepting(): boolean {
    return this.cause === undefined && !this.finished;
  }
  /** The task ids this run holds (queued or given, not yet terminal). */
  taskIds(): string[] {
    return [...this.queued.keys(), ...this.live.keys()];
  }
  /** The status queue's FIFO group of what this run sends the master. */
  private get group(): string {
    return `executor/${this.frameworkId}/${this.executorId}`;
  }
  /** The tasks queued or given and not yet terminal. */
  heldTasks(): TaskInfo[] {
    return this.taskIds().flatMap((taskId) => this.known.get(taskId) ?? []);
  }
  owns(taskId: string): boolean {
    return this.known.has(taskId);
  }

  /** Whether `token` is this run's secret, compared in constant time. */
  hasToken(token: string): boolean {
    const given = Buffer.from(token);
    const mine = Buffer.from(this.token);
    return given.byteLength === mine.byteLength && timingSafeEqual(given, mine);
  }

  /**
   * The container started (or was found again after an agent restart, with the tasks it held): watch its
   * end, and give it `--executor_registration_timeout` (`--executor_reregistration_timeout`) to subscribe.
   */
  started(container: Container, recovered?: ReadonlyArray<{ task: TaskInfo; state: TaskState | undefined }>): void {
    this.container = container;
    for (const { task, state } of recovered ?? []) {
      this.known.set(task.task_id.value, task);
      if (state === undefined || !isTerminal(state)) this.live.set(task.task_id.value, state);
    }
    void container.exited.then(
      (termination) => this.exited(termination),
      (error: unknown) => this.logUnlessStopped('Watching a custom executor failed', error),
    );
    const cause = recovered ? 'reregistration-timeout' : 'registration-timeout';
    const timeoutMs = recovered ? this.deps.reregistrationTimeoutMs : this.deps.registrationTimeoutMs;
    this.cancelTimers.push(
      this.deps.life.after(timeoutMs, () => {
        if (this.subscribedOnce || this.cause) return;
        this.deps.logger.warn('A custom executor did not subscribe in time; killing it', {
          frameworkId: this.frameworkId,
          executorId: this.executorId,
          timeoutMs,
        });
        this.cause = cause;
        void this.signal('SIGKILL');
      }),
    );
  }

  /**
   * Tasks for this executor: one task (a LAUNCH event) or a task group (one LAUNCH_GROUP event, the
   * group delivered whole); sent at once when it is subscribed, else queued until it is.
   */
  addTasks(tasks: readonly TaskInfo[], asGroup: boolean): void {
    for (const task of tasks) {
      this.known.set(task.task_id.value, task);
      if (asGroup) this.groups.set(task.task_id.value, tasks);
    }
    if (this.stream) this.handOver(this.stream, tasks, asGroup);
    else for (const task of tasks) this.queued.set(task.task_id.value, task);
  }

  private handOver(stream: ExecutorStream, tasks: readonly TaskInfo[], asGroup: boolean): void {
    for (const task of tasks) this.live.set(task.task_id.value, undefined);
    if (asGroup) stream.send({ type: 'LAUNCH_GROUP', launch_group: { task_group: { tasks: [...tasks] } } });
    else for (const task of tasks) stream.send({ type: 'LAUNCH', launch: { task } });
  }

  /** The queued tasks delivered in the order they came, a group's still-queued tasks together. */
  private deliverQueued(stream: ExecutorStream): void {
    for (const [taskId, task] of this.queued) {
      if (!this.queued.has(taskId)) continue;
      const group = this.groups.get(taskId)?.filter((member) => this.queued.has(member.task_id.value));
      for (const member of group ?? [task]) this.queued.delete(member.task_id.value);
      this.handOver(stream, group ?? [task], group !== undefined);
    }
  }

  /** SUBSCRIBE: the new stream replaces an old one; SUBSCRIBED, then the queued tasks. */
  async subscribe(call: Extract<ValidExecutorCall, { type: 'SUBSCRIBE' }>, stream: ExecutorStream): Promise<void> {
    this.stream?.close();
    this.stream = stream;
    this.subscribedOnce = true;
    for (const update of call.subscribe.unacknowledged_updates ?? []) {
      if (this.owns(update.status.task_id.value)) await this.journal(update.status);
    }
    stream.send({
      type: 'SUBSCRIBED',
      subscribed: {
        executor_info: this.run.info,
        framework_info: { ...this.run.frameworkInfo, id: { value: this.frameworkId } },
        agent_info: this.deps.agentInfo(),
        container_id: { value: this.run.containerId },
      },
    });
    this.deliverQueued(stream);
    this.deps.logger.info('Custom executor subscribed', { frameworkId: this.frameworkId, executorId: this.executorId });
  }

  /** The container could not start: every task given to the run fails, and the run ends. */
  async launchFailed(message: string): Promise<void> {
    for (const taskId of this.taskIds())
      await this.answer(taskId, 'TASK_FAILED', 'REASON_CONTAINER_LAUNCH_FAILED', message);
    this.queued.clear();
    this.live.clear();
    this.finished = true;
    this.deps.ended(this);
  }

  /** The stream closed (the executor went away, or a new SUBSCRIBE replaced it). */
  disconnected(stream: ExecutorStream): void {
    if (this.stream === stream) this.stream = undefined;
  }

  /** UPDATE: journalled and forwarded, then ACKNOWLEDGED; false for a task this executor was never given. */
  async update(status: TaskStatus): Promise<boolean> {
    if (!this.owns(status.task_id.value)) return false;
    await this.journal(status);
    this.stream?.send({
      type: 'ACKNOWLEDGED',
      acknowledged: { task_id: status.task_id, uuid: status.uuid as string },
    });
    return true;
  }

  private async journal(status: TaskStatus): Promise<void> {
    const taskId = status.task_id.value;
    const normalized: TaskStatus = {
      ...status,
      source: 'SOURCE_EXECUTOR',
      executor_id: { value: this.executorId },
      container_status: { ...status.container_status, container_id: { value: this.run.containerId } },
      timestamp: status.timestamp ?? Date.now() / 1000,
    };
    const outcome = await this.deps.updates.update(this.frameworkId, normalized);
    if (outcome === 'duplicate' || !this.live.has(taskId)) return;
    if (isTerminal(status.state)) {
      this.live.delete(taskId);
      this.deps.tasksChanged?.(this);
      this.deps.metrics.increment(`slave/tasks_${status.state.replace('TASK_', '').toLowerCase()}`);
    } else {
      this.live.set(taskId, status.state);
    }
  }

  /** MESSAGE from the framework: best effort, dropped when the executor is not subscribed (as in Mesos). */
  deliver(data: string): boolean {
    if (!this.stream) return false;
    this.stream.send({ type: 'MESSAGE', message: { data } });
    return true;
  }

  /** MESSAGE from the executor, to its framework through the master. */
  async message(data: string, agentId: string): Promise<void> {
    await this.deps.forward(
      {
        type: 'EXECUTOR_MESSAGE',
        agent_id: { value: agentId },
        framework_id: { value: this.frameworkId },
        executor_id: { value: this.executorId },
        data,
      },
      this.group,
    );
  }

  /**
   * KILL: a queued task ends TASK_KILLED at once (and an executor left with nothing, never subscribed,
   * is shut down, as Mesos's agent does); a task the executor runs is its to kill (a KILL event).
   */
  async kill(taskId: string, killPolicy: KillPolicy | undefined): Promise<void> {
    if (this.queued.has(taskId)) {
      // A task group is delivered whole or not at all: killing one queued task kills its group (Mesos).
      const group = this.groups.get(taskId) ?? [];
      const ids = [taskId, ...group.map((task) => task.task_id.value).filter((id) => id !== taskId)];
      for (const id of ids.filter((member) => this.queued.delete(member))) {
        await this.answer(
          id,
          'TASK_KILLED',
          'REASON_TASK_KILLED_DURING_LAUNCH',
          'Task killed before delivery to the executor',
        );
      }
      if (this.taskIds().length === 0 && !this.subscribedOnce) await this.shutdown('No tasks left for the executor');
      else this.deps.tasksChanged?.(this);
      return;
    }
    if (!this.live.has(taskId)) return;
    this.killed.add(taskId);
    this.stream?.send({
      type: 'KILL',
      kill: { task_id: { value: taskId }, ...(killPolicy ? { kill_policy: killPolicy } : {}) },
    });
  }

  /** SHUTDOWN, then the container is killed after the grace period (at once if it never subscribed). */
  async shutdown(why: string): Promise<void> {
    if (this.cause || this.finished) return;
    this.cause = 'shutdown';
    this.deps.logger.info('Shutting a custom executor down', {
      frameworkId: this.frameworkId,
      executorId: this.executorId,
      why,
    });
    if (!this.stream) {
      await this.signal('SIGKILL');
      return;
    }
    this.stream.send({ type: 'SHUTDOWN' });
    const nanoseconds = this.run.info.shutdown_grace_period?.nanoseconds;
    const graceMs = nanoseconds !== undefined ? nanoseconds / 1e6 : this.deps.shutdownGracePeriodMs;
    this.cancelTimers.push(this.deps.life.after(graceMs, () => void this.signal('SIGKILL')));
  }

  private async signal(signal: 'SIGTERM' | 'SIGKILL'): Promise<void> {
    await this.container
      ?.signal(signal)
      .catch((error: unknown) => this.logUnlessStopped('Signalling an executor failed', error));
  }

  /** The container ended: what it held is answered for, the framework hears of it, the container goes. */
  private async exited(termination: Termination): Promise<void> {
    for (const cancel of this.cancelTimers) cancel();
    this.stream?.send({ type: 'SHUTDOWN' });
    this.stream?.close();
    this.stream = undefined;
    const report = terminationReport(this.cause ?? 'exited', termination, this.deps);
    this.deps.logger.info('Custom executor ended', {
      frameworkId: this.frameworkId,
      executorId: this.executorId,
      message: report.message,
    });
    for (const taskId of this.taskIds()) {
      // Mesos: what was being killed ends killed; what a shutdown leaves behind is lost; the rest failed.
      const state = this.killed.has(taskId) ? 'TASK_KILLED' : this.cause === 'shutdown' ? 'TASK_LOST' : 'TASK_FAILED';
      await this.answer(taskId, state, report.reason, report.message);
    }
    this.queued.clear();
    this.live.clear();
    await this.deps
      .forward(
        {
          type: 'EXECUTOR_EXITED',
          agent_id: { value: this.deps.agentInfo().id?.value ?? '' },
          framework_id: { value: this.frameworkId },
          executor_id: { value: this.executorId },
          status: waitStatus(termination),
        },
        this.group,
      )
      .catch((error: unknown) => this.logUnlessStopped('Telling the master of an executor end failed', error));
    await this.container
      ?.destroy()
      .catch((error: unknown) => this.logUnlessStopped('Destroying an executor failed', error));
    this.finished = true;
    this.deps.ended(this);
  }

  /** An update the agent decides for a task of this run. */
  private async answer(
    taskId: string,
    state: TaskState,
    reason: Parameters<typeof agentStatus>[2],
    message: string,
  ): Promise<void> {
    const status = { ...agentStatus(taskId, state, reason, message), executor_id: { value: this.executorId } };
    await this.deps.updates
      .update(this.frameworkId, status)
      .catch((error: unknown) => this.logUnlessStopped('Ending a task of an executor failed', error));
    this.deps.metrics.increment(`slave/tasks_${state.replace('TASK_', '').toLowerCase()}`);
  }

  /** Stops watching (the agent is stopping); the container keeps running. */
  detach(): void {
    for (const cancel of this.cancelTimers) cancel();
    this.stream?.close();
    this.container?.detach();
  }

  private logUnlessStopped(what: string, error: unknown): void {
    if (!isStopped(error)) this.deps.logger.error(what, { executorId: this.executorId, error: String(error) });
  }
}
