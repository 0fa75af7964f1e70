/**
 * One task's executor (the role of Mesos's command executor, run inside the agent; what survives the
 * agent is the container and, for process tasks, the supervisor): it fetches the task's URIs, launches
 * the container, sends TASK_STARTING then TASK_RUNNING, runs the health check and check, enforces
 * `max_completion_time`, kills with the kill policy (SIGTERM, SIGKILL after the grace; TASK_KILLING first
 * for frameworks that asked for it), and turns the container's end into the terminal update with Mesos's
 * reason. A restarted agent rebuilds it from the checkpoint and reattaches.
 */
import type { Logger } from '#shared/log.js';
import type { LaunchGrant } from '#shared/protocol/internal.js';
import type { Metrics } from '#shared/metrics.js';
import { hasCapability } from '#shared/protocol/capabilities.js';
import type { Resource, TaskInfo, TaskState, TaskStatusReason } from '#shared/protocol/mesos.js';
import { isTerminal } from '#shared/tasks/state-machine.js';
import { launchGrant } from './authorization.js';
import type { Checkpoint } from './checkpoint.js';
import type { ContainerizerKind } from './config.js';
import {
  LaunchError,
  type Container,
  type Containerizer,
  type LaunchSpec,
  type Termination,
} from './containerizer/containerizer.js';
import type { Gpu } from './gpu/nvidia.js';
import type { CheckStatusInfo } from './checker.js';
import { FetchError, type Fetcher } from './fetcher/fetcher.js';
import type { HealthEvent } from './health-checker.js';
import { isStopped, type Lifecycle } from './lifecycle.js';
import { outputTail } from './output-tail.js';
import { droppedState, taskStatus, type AgentFrameworkInfo, type StatusInput } from './statuses.js';
import type { StatusUpdateManager } from './status-update-manager.js';
import { initialCheckStatus, TaskProbes } from './task-probes.js';
import { terminationOutcome, type KillOutcome } from './task-outcome.js';

/** What a kill ends in, besides TASK_KILLED. */
export interface KillRequest extends KillOutcome {
  readonly gracePeriodMs: number;
}

/** task.json: everything needed to recover the task. */
export interface TaskRecord {
  readonly frameworkId: string;
  readonly frameworkInfo: AgentFrameworkInfo;
  readonly executorId: string;
  readonly task: TaskInfo;
  readonly launchId: string;
  readonly containerId: string;
  readonly containerizer: ContainerizerKind;
  readonly sandbox: string;
  readonly parentSandbox?: string;
  readonly pod?: LaunchSpec['pod'];
  /** GPUs held, by UUID (records of agents before MIG devices: whole GPUs' indices). */
  readonly gpus: ReadonlyArray<string | number>;
  /** Tasks of a LAUNCH_GROUP: when one fails or is killed, the others are killed (Mesos default executor). */
  readonly group: boolean;
  /** What the master authorized; absent in records of agents before grants (the safe defaults). */
  readonly grant?: LaunchGrant;
  readonly createdAt: number;
  /** A kill in progress, so that a restarted agent finishes it. */
  readonly kill?: KillRequest & { readonly startedAt: number };
}

export interface ExecutorContext {
  readonly agentId: () => string;
  readonly updates: StatusUpdateManager;
  readonly checkpoint: Checkpoint;
  readonly life: Lifecycle;
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly allGpus: readonly Gpu[];
  /** Kill grace when neither the task nor the kill names one. */
  readonly defaultKillGracePeriodMs: number;
  /** The task reached a terminal state (group policy, GPU release, drain progress). */
  readonly onTerminal: (executor: TaskExecutor, state: TaskState, reason?: TaskStatusReason) => void;
  /** Fetches the task's CommandInfo.uris into its sandbox before it starts (absent: they are not fetched). */
  readonly fetcher?: Fetcher;
  /** Ships the sandbox's stdout and stderr to the task log store while the task runs (output-shipper.ts). */
  readonly output?: {
    start(record: TaskRecord): Promise<void>;
    finish(record: TaskRecord): Promise<void>;
  };
}

type Phase = 'launching' | 'running' | 'killing' | 'terminated';

/** The task was killed while its URIs were fetched: it ends as the kill says, never started. */
class KilledWhileFetching extends Error {
  override readonly name = 'KilledWhileFetching';
}

export class TaskExecutor {
  private phase: Phase = 'launching';
  private container: Container | undefined;
  private probes: TaskProbes | undefined;
  private cancelEscalation: (() => void) | undefined;
  private cancelDeadline: (() => void) | undefined;
  /** Aborts the fetch when the task is killed while its URIs are fetched. */
  private readonly fetching = new AbortController();
  private killRequest: (KillRequest & { startedAt: number }) | undefined;

  constructor(
    private record: TaskRecord,
    private readonly containerizer: Containerizer,
    private readonly context: ExecutorContext,
    /** The GPUs this task holds. */
    private readonly gpus: readonly Gpu[],
  ) {
    this.killRequest = record.kill;
  }

  get frameworkId(): string {
    return this.record.frameworkId;
  }
  get taskId(): string {
    return this.record.task.task_id.value;
  }
  get executorId(): string {
    return this.record.executorId;
  }
  get info(): AgentFrameworkInfo {
    return this.record.frameworkInfo;
  }
  get launchId(): string {
    return this.record.launchId;
  }
  get containerId(): string {
    return this.record.containerId;
  }
  get resources(): readonly Resource[] {
    return this.record.task.resources ?? [];
  }
  /** The pod of a task of a group, if it runs in one. */
  get pod(): LaunchSpec['pod'] {
    return this.record.pod;
  }
  /** The executor run's sandbox (a task group's, for its tasks). */
  get sandboxRun(): string {
    return this.record.parentSandbox ?? this.record.sandbox;
  }
  /** The task group it was launched in (its pod's and its own id; else its launch's sandbox), if any. */
  get taskGroup(): { key: string; task: TaskInfo } | undefined {
    const { group, parentSandbox, pod, task } = this.record;
    const key = pod?.group ? `${pod.id}/${pod.group.id}` : (parentSandbox ?? this.executorId);
    return group ? { key, task } : undefined;
  }
  get terminated(): boolean {
    return this.phase === 'terminated';
  }
  get state(): Phase {
    return this.phase;
  }

  private spec(recorded: Promise<void> = Promise.resolve()): LaunchSpec {
    return {
      recorded,
      containerId: this.record.containerId,
      agentId: this.context.agentId(),
      frameworkId: this.record.frameworkId,
      frameworkInfo: this.record.frameworkInfo,
      executorId: this.record.executorId,
      task: this.record.task,
      sandbox: this.record.sandbox,
      ...(this.record.parentSandbox ? { parentSandbox: this.record.parentSandbox } : {}),
      ...(this.record.pod ? { pod: this.record.pod } : {}),
      gpus: this.gpus,
      allGpus: this.context.allGpus,
      grant: launchGrant(this.record.grant),
    };
  }

  private async update(input: Omit<StatusInput, 'taskId' | 'executorId' | 'containerId'>): Promise<void> {
    const checkStatus = this.probes?.checkStatus ?? initialCheckStatus(this.record.task);
    const status = taskStatus({
      ...(checkStatus ? { checkStatus } : {}),
      ...input,
      taskId: this.taskId,
      executorId: this.executorId,
      ...(this.container ? { containerId: this.record.containerId } : {}),
    });
    await this.context.updates.update(this.record.frameworkId, status);
  }

  /** Launches the task once `recorded` (its checkpoint) resolves; `receivedAt`: its LAUNCH's performance.now(). */
  async launch(recorded: Promise<void>, receivedAt = performance.now()): Promise<void> {
    // TASK_STARTING is journalled while the container starts; the stream keeps the order of updates.
    const starting = this.update({ state: 'TASK_STARTING' });
    starting.catch(() => undefined);
    try {
      await this.fetch();
      this.shipOutput();
      this.container = await this.containerizer.launch(this.spec(recorded));
    } catch (error) {
      await starting;
      await this.launchFailed(error);
      return;
    }
    await starting;
    await this.running();
    this.context.metrics.observe(
      `containerizer/${this.containerizer.kind}/launch_to_running_ms`,
      performance.now() - receivedAt,
    );
  }

  private async launchFailed(error: unknown): Promise<void> {
    const kill = this.killRequest;
    if (error instanceof KilledWhileFetching && kill) {
      const message = `${kill.message} (while its URIs were fetched)`;
      await this.terminate({
        state: kill.state ?? 'TASK_KILLED',
        ...(kill.reason ? { reason: kill.reason } : {}),
        message,
      });
      return;
    }
    if (isStopped(error)) return;
    const failure =
      error instanceof LaunchError
        ? error
        : error instanceof FetchError
          ? new LaunchError(error.message)
          : new LaunchError(`Failed to launch the container: ${(error as Error).message}`);
    this.context.logger.warn('Task launch failed', { taskId: this.taskId, error: failure.message });
    await this.terminate({ state: failure.state, reason: failure.reason, message: failure.message });
  }

  /** The task's URIs into its sandbox, before output shipping reads it (Mesos fetches before the task starts). */
  private async fetch(): Promise<void> {
    const uris = this.record.task.command?.uris ?? [];
    if (uris.length === 0) return;
    if (!this.context.fetcher) throw new FetchError('This agent does not fetch URIs');
    try {
      await this.context.fetcher.fetch({
        taskId: this.taskId,
        uris,
        sandbox: this.record.sandbox,
        grant: launchGrant(this.record.grant),
        signal: AbortSignal.any([this.context.life.signal, this.fetching.signal]),
      });
    } catch (error) {
      if (this.fetching.signal.aborted && this.context.life.alive) throw new KilledWhileFetching();
      throw error;
    }
  }

  /** Reattaches after an agent restart; reports what ended while the agent was down. */
  async recover(streamState: TaskState | undefined): Promise<void> {
    if (streamState !== undefined && isTerminal(streamState)) {
      this.phase = 'terminated';
      const leftover = await this.containerizer.recover(this.spec()).catch(() => undefined);
      await leftover?.destroy().catch(() => undefined);
      return;
    }
    const container = await this.containerizer.recover(this.spec());
    if (!container) {
      const ran = streamState !== undefined && streamState !== 'TASK_STAGING' && streamState !== 'TASK_STARTING';
      await this.terminate(
        ran
          ? {
              state: 'TASK_FAILED',
              reason: 'REASON_EXECUTOR_TERMINATED',
              message: 'The container is gone: it ended while the agent was down and left no trace',
            }
          : {
              state: droppedState(this.record.frameworkInfo),
              reason: 'REASON_AGENT_RESTARTED',
              message: 'The agent restarted before the task was launched',
            },
      );
      return;
    }
    this.container = container;
    this.shipOutput();
    if (container.endedWhileDown) {
      // Settle it now so that re-registration reports the terminal state, not the checkpointed TASK_RUNNING.
      if (this.phase === 'launching') this.phase = this.killRequest ? 'killing' : 'running';
      await this.exited(await container.exited);
      return;
    }
    if (streamState === 'TASK_STARTING' || streamState === undefined) await this.running();
    else this.watch();
    if (this.killRequest) this.resumeKill(this.killRequest);
  }

  private async running(): Promise<void> {
    this.phase = 'running';
    await this.update({ state: 'TASK_RUNNING' });
    this.watch();
    // A kill that came while launching waits here; one during the update above is under way (phase 'killing'),
    // and taking its request away would report its end as a failure, not TASK_KILLED.
    if (this.killRequest && !this.killing()) {
      const pending = this.killRequest;
      this.killRequest = undefined;
      await this.kill(pending);
    }
  }

  /** Read through a method: the phase moves while an update is awaited, which narrowing cannot see. */
  private killing(): boolean {
    return this.phase === 'killing';
  }

  private watch(): void {
    const container = this.container as Container;
    if (this.phase === 'launching') this.phase = this.killRequest ? 'killing' : 'running';
    if (this.phase === 'running') this.startProbes(container);
    this.enforceMaxCompletionTime();
    void container.exited
      .then((termination) => this.exited(termination))
      .catch(this.logUnlessStopped('Handling a container exit failed'));
  }

  private startProbes(container: Container): void {
    const task = this.record.task;
    if (!task.health_check && !task.check) return;
    this.probes = new TaskProbes(
      task,
      container,
      { health: (event) => void this.healthEvent(event), check: (status) => void this.checkEvent(status) },
      this.context.life,
      this.context.logger,
    );
    this.probes.start();
  }

  /**
   * A task still running at `max_completion_time` is killed: TASK_FAILED, REASON_MAX_COMPLETION_TIME_REACHED
   * (Mesos's built-in executors). Counted from when the agent took the launch, which a restart keeps.
   */
  private enforceMaxCompletionTime(): void {
    const nanoseconds = this.record.task.max_completion_time?.nanoseconds;
    if (nanoseconds === undefined || this.phase === 'killing') return;
    const limitMs = nanoseconds / 1e6;
    const remaining = Math.max(0, this.record.createdAt + limitMs - Date.now());
    this.cancelDeadline = this.context.life.after(remaining, () => {
      void this.kill({
        gracePeriodMs: this.gracePeriod(),
        state: 'TASK_FAILED',
        reason: 'REASON_MAX_COMPLETION_TIME_REACHED',
        message: `Task reached its max completion time of ${limitMs / 1000}s`,
      }).catch(this.logUnlessStopped('Killing a task at its max completion time failed'));
    });
  }

  private async checkEvent(status: CheckStatusInfo): Promise<void> {
    if (this.phase !== 'running') return;
    await this.update({ state: 'TASK_RUNNING', reason: 'REASON_TASK_CHECK_STATUS_UPDATED', checkStatus: status }).catch(
      this.logUnlessStopped('Reporting a check result failed'),
    );
  }

  private async healthEvent(event: HealthEvent): Promise<void> {
    if (this.phase !== 'running') return;
    this.context.metrics.increment(
      event.healthy ? 'mantle/agent/health_checks_passed' : 'mantle/agent/health_checks_failed',
    );
    await this.update({
      state: 'TASK_RUNNING',
      healthy: event.healthy,
      reason: 'REASON_TASK_HEALTH_CHECK_STATUS_UPDATED',
      message: event.message,
    }).catch((error: unknown) => {
      if (!isStopped(error)) throw error;
    });
    if (event.kill) {
      await this.kill({
        gracePeriodMs: this.gracePeriod(),
        message: `Task killed: ${event.consecutiveFailures} consecutive health check failures (${event.message})`,
        unhealthy: true,
      });
    }
  }

  /** The task's kill policy grace, or the agent's default (Mesos's command executor: 3 s). */
  gracePeriod(): number {
    const nanoseconds = this.record.task.kill_policy?.grace_period?.nanoseconds;
    return nanoseconds === undefined ? this.context.defaultKillGracePeriodMs : nanoseconds / 1e6;
  }

  /** Kills the task: SIGTERM, then SIGKILL after the grace period. */
  async kill(request: KillRequest): Promise<void> {
    if (this.phase === 'terminated') return;
    if (this.phase === 'killing') {
      // A second kill may only shorten the grace (Mesos lets a new kill policy override).
      const current = this.killRequest;
      if (current && request.gracePeriodMs < current.gracePeriodMs - (Date.now() - current.startedAt)) {
        this.escalateAfter(request.gracePeriodMs);
      }
      return;
    }
    const stamped = { ...request, startedAt: Date.now() };
    this.killRequest = stamped;
    this.record = { ...this.record, kill: stamped };
    await this.context.checkpoint.writeJson(
      this.context.checkpoint.taskFile(this.record.frameworkId, this.taskId),
      this.record,
    );
    if (this.phase === 'launching') {
      this.fetching.abort();
      return;
    }
    this.phase = 'killing';
    this.probes?.stop();
    // The agent's own kill (a pod over its limit) destroys the container, as Mesos's does: no TASK_KILLING.
    if (request.source !== 'SOURCE_AGENT' && hasCapability(this.record.frameworkInfo, 'TASK_KILLING_STATE')) {
      await this.update({ state: 'TASK_KILLING', message: request.message });
    }
    await this.signal(request.gracePeriodMs <= 0 ? 'SIGKILL' : 'SIGTERM');
    if (request.gracePeriodMs > 0) this.escalateAfter(request.gracePeriodMs);
  }

  private resumeKill(request: KillRequest & { startedAt: number }): void {
    this.phase = 'killing';
    this.escalateAfter(Math.max(0, request.gracePeriodMs - (Date.now() - request.startedAt)));
  }

  private escalateAfter(ms: number): void {
    this.cancelEscalation?.();
    this.cancelEscalation = this.context.life.after(ms, () => void this.signal('SIGKILL'));
  }

  private async signal(signal: 'SIGTERM' | 'SIGKILL'): Promise<void> {
    try {
      await this.container?.signal(signal);
    } catch (error) {
      this.context.logger.warn('Signalling a container failed', { taskId: this.taskId, signal, error: String(error) });
    }
  }

  private async exited(termination: Termination): Promise<void> {
    if (this.phase === 'terminated') return;
    this.stopTimers();
    const outcome = terminationOutcome(this.record.task, this.record.group, termination, this.killRequest);
    const data = await outputTail(this.record.sandbox).catch(() => undefined);
    // The last output reaches the store before the terminal update: a follower that sees the end has it all.
    await this.context.output?.finish(this.record);
    await this.terminate(data === undefined ? outcome : { ...outcome, data });
  }

  private async terminate(outcome: Omit<StatusInput, 'taskId'>): Promise<void> {
    if (this.phase === 'terminated') return;
    this.phase = 'terminated';
    this.stopTimers();
    await this.update(outcome);
    this.context.onTerminal(this, outcome.state, outcome.reason);
    // Released at once (Mesos destroys the container as the executor ends); the checkpoint waits for the ack.
    await this.container?.destroy().catch((error: unknown) => {
      if (!isStopped(error)) {
        this.context.logger.warn('Destroying a container failed', { taskId: this.taskId, error: String(error) });
      }
    });
  }

  private shipOutput(): void {
    this.context.output?.start(this.record).catch(this.logUnlessStopped('Shipping output failed to start'));
  }

  /** A catch that logs, unless the agent stopping caused it (then nothing went wrong). */
  private logUnlessStopped(what: string): (error: unknown) => void {
    return (error) => {
      if (!isStopped(error)) this.context.logger.error(what, { taskId: this.taskId, error: String(error) });
    };
  }

  /** Stops watching (the agent is stopping); the container keeps running. */
  detach(): void {
    this.stopTimers();
    this.container?.detach();
  }

  private stopTimers(): void {
    this.probes?.stop();
    this.cancelEscalation?.();
    this.cancelDeadline?.();
  }
}
