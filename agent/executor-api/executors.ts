/**
 * The custom executors this agent runs (Mesos `Framework::executors` and `Slave::run` for a task with an
 * ExecutorInfo): a LAUNCH naming an executor that is not running starts it as a process in its own
 * sandbox (launch.ts), one naming a running executor gives it the task; KILL, SHUTDOWN_FRAMEWORK,
 * SHUTDOWN_EXECUTOR and FRAMEWORK_MESSAGE reach the executor as events.
 */
import { randomUUID } from 'node:crypto';
import { chmod, mkdir } from 'node:fs/promises';
import { taskKey } from '#shared/ids.js';
import type { AgentMessage, LaunchGrant } from '#shared/protocol/internal.js';
import type {
  AgentInfo,
  ExecutorInfo,
  KillPolicy,
  TaskInfo,
  TaskState,
  TaskStatusReason,
} from '#shared/protocol/mesos.js';
import { scalarTotal } from '#shared/resources/resources.js';
import { grantRefusal, wantsDocker } from '../authorization.js';
import type { Containerizer } from '../containerizer/containerizer.js';
import type { AgentContext, CustomExecutorRegistry } from '../context.js';
import { FetchError } from '../fetcher/fetcher.js';
import type { StateTask } from '../http.js';
import { screenLaunch, type LaunchRequest } from '../launch-plan.js';
import { agentStatus, droppedState } from '../statuses.js';
import { CustomExecutor, type ExecutorRun } from './custom-executor.js';
import { ExecutorRecords, type ExecutorRecord } from './records.js';
import { loadExecutors, reattachExecutors } from './recovery.js';
import { isStopped } from '../lifecycle.js';
import { executorContainerTask, executorContainerizer, executorEnvironment, sameExecutor } from './launch.js';
import { ExecutorResizer } from './resize.js';

export interface CustomExecutorsDeps {
  readonly context: AgentContext;
  readonly agentInfo: () => AgentInfo;
  /** `host:port` of the agent's HTTP endpoint; undefined when it serves none. */
  readonly endpoint: () => string | undefined;
  /** To the master on the status queue, in this FIFO group. */
  readonly forward: (message: AgentMessage, groupId: string) => Promise<void>;
}

/** A launch refused before the executor runs: how its task ends. */
interface Refusal {
  readonly state: TaskState;
  readonly reason: TaskStatusReason;
  readonly message: string;
}

/** The tasks of one LAUNCH (one task) or LAUNCH_GROUP (a task group) and the executor they go to. */
interface GivenTasks {
  readonly info: ExecutorInfo;
  readonly tasks: readonly TaskInfo[];
  readonly asGroup: boolean;
}

const launchFailed = (message: string): Refusal => ({
  state: 'TASK_FAILED',
  reason: 'REASON_CONTAINER_LAUNCH_FAILED',
  message,
});

/** The executor's own `command.uris`, fetched into its sandbox before it starts (a failure fails the launch). */
async function fetchExecutorUris(
  context: AgentContext,
  info: ExecutorInfo,
  sandbox: string,
  grant: LaunchGrant,
): Promise<void> {
  const uris = info.command?.uris ?? [];
  if (uris.length === 0) return;
  const { fetcher } = context.executorContext();
  if (!fetcher) throw new FetchError('This agent does not fetch URIs');
  const signal = new AbortController().signal;
  await fetcher.fetch({ taskId: info.executor_id.value, uris, sandbox, grant, signal });
}

export class CustomExecutors implements CustomExecutorRegistry {
  private readonly runs = new Map<string, CustomExecutor>();
  /** The launch id of each task given to an executor, until its stream closes (redelivered LAUNCHes). */
  private readonly launches = new Map<string, string>();
  readonly records: ExecutorRecords;
  private loaded: ExecutorRecord[] = [];
  /** Each executor's cgroups follow the tasks it holds. */
  readonly resizer: ExecutorResizer;

  constructor(private readonly deps: CustomExecutorsDeps) {
    this.records = new ExecutorRecords(deps.context.checkpoint);
    this.resizer = new ExecutorResizer(
      (executor) => executorContainerizer(deps.context, executor.run.info),
      deps.context.logger,
    );
  }

  private get context(): AgentContext {
    return this.deps.context;
  }

  all(): CustomExecutor[] {
    return [...this.runs.values()];
  }

  byToken(token: string): CustomExecutor | undefined {
    return this.all().find((executor) => executor.hasToken(token));
  }

  /** The tasks the executors hold, as the agent reports its tasks (registration, /state, gauges). */
  tasks(): StateTask[] {
    return this.all().flatMap((executor) =>
      executor.heldTasks().map((task) => ({
        frameworkId: executor.frameworkId,
        taskId: task.task_id.value,
        containerId: executor.run.containerId,
        state: this.context.updates.stream(executor.frameworkId, task.task_id.value)?.latestState,
        phase: 'running',
        resources: task.resources ?? [],
      })),
    );
  }

  /** The live run of a framework's executor. */
  get(frameworkId: string, executorId: string): CustomExecutor | undefined {
    return this.runs.get(taskKey(frameworkId, executorId));
  }

  /** Whether a task was given to a custom executor and is still reported on. */
  knows(frameworkId: string, taskId: string): boolean {
    return this.launches.has(taskKey(frameworkId, taskId));
  }

  /** The task's terminal update was acknowledged: its launch id, for the agent to remember. */
  closed(frameworkId: string, taskId: string): string | undefined {
    const key = taskKey(frameworkId, taskId);
    const launchId = this.launches.get(key);
    this.launches.delete(key);
    return launchId;
  }

  /**
   * A LAUNCH of a task with an executor, or a LAUNCH_GROUP for a custom executor (its tasks go to the
   * executor together, as one LAUNCH_GROUP event); false leaves the command in the queue, to come back later.
   */
  async launch(request: LaunchRequest): Promise<boolean> {
    const { context } = this;
    const { frameworkId } = request;
    const screening = screenLaunch(
      request,
      context.state,
      {
        launchOf: (taskId) =>
          this.launches.get(taskKey(frameworkId, taskId)) ??
          context.executors.get(taskKey(frameworkId, taskId))?.launchId,
        reporting: (taskId) => context.updates.stream(frameworkId, taskId) !== undefined,
      },
      Date.now(),
    );
    if (screening.busy !== undefined) return false;
    const tasks = request.groupExecutor ? screening.fresh : screening.fresh.slice(0, 1);
    const info = request.groupExecutor ?? tasks[0]?.executor;
    if (!info || tasks.length === 0) return true;
    const refusal = await this.place(request, { info, tasks, asGroup: request.groupExecutor !== undefined });
    if (refusal) {
      for (const task of tasks) {
        const status = agentStatus(task.task_id.value, refusal.state, refusal.reason, refusal.message);
        await context.updates.update(frameworkId, { ...status, executor_id: info.executor_id });
      }
    }
    return true;
  }

  /** Gives the tasks to their running executor, or starts the executor with them; a refusal otherwise. */
  private async place(request: LaunchRequest, given: GivenTasks): Promise<Refusal | undefined> {
    const { info, tasks } = given;
    if (this.context.state.draining) {
      return {
        state: droppedState(request.frameworkInfo),
        reason: 'REASON_AGENT_DRAINING',
        message: 'The agent is draining',
      };
    }
    const running = this.get(request.frameworkId, info.executor_id.value);
    if (running) {
      if (!sameExecutor(running.run.info, info)) {
        return {
          state: 'TASK_ERROR',
          reason: given.asGroup ? 'REASON_TASK_GROUP_INVALID' : 'REASON_TASK_INVALID',
          message: `ExecutorInfo differs from that of the running executor '${info.executor_id.value}'`,
        };
      }
      if (!running.accepting) {
        return {
          state: droppedState(request.frameworkInfo),
          reason: 'REASON_EXECUTOR_TERMINATED',
          message: 'The executor is terminating',
        };
      }
      for (const task of tasks) this.launches.set(taskKey(request.frameworkId, task.task_id.value), request.launchId);
      running.addTasks(tasks, given.asGroup);
      await this.records.save(running, request.launchId);
      await this.resizer.resize(running);
      return undefined;
    }
    return this.start(request, given);
  }

  /**
   * Starts a new executor run with its first tasks. The run is known before anything is awaited: the
   * LAUNCHes of an ACCEPT's other tasks for this executor come at the same time, and join it.
   */
  private async start(request: LaunchRequest, given: GivenTasks): Promise<Refusal | undefined> {
    const { context } = this;
    const { info, tasks } = given;
    const refusal = this.startRefusal(info);
    if (refusal) return refusal;
    const containerId = randomUUID();
    const sandbox = context.checkpoint.sandbox(request.frameworkId, info.executor_id.value, containerId);
    const { frameworkId, frameworkInfo, launchId, grant } = request;
    const run: ExecutorRun = { frameworkId, frameworkInfo, info, containerId, sandbox, launchId, grant };
    const executor = this.newExecutor(run);
    const environment = executorEnvironment({
      run,
      agentEndpoint: this.deps.endpoint() as string,
      token: executor.token,
      shutdownGracePeriodMs: context.config.executorShutdownGracePeriodMs,
      // Mesos's Docker containerizer mounts the sandbox there; MESOS_DIRECTORY stays the host's path.
      ...(wantsDocker(info.container) ? { sandboxInContainer: context.config.sandboxDirectory } : {}),
    });
    const containerTask = executorContainerTask(info, tasks, environment);
    const refused = grantRefusal(containerTask, grant);
    if (refused) return { state: refused.state, reason: refused.reason, message: `The executor: ${refused.message}` };
    const count = scalarTotal(containerTask.resources ?? [], 'gpus');
    const gpus = context.gpuAllocator.allocate(containerId, count);
    if (!gpus) {
      return launchFailed(`The executor needs ${count} GPU(s) but only ${context.gpuAllocator.free} are free here`);
    }
    this.runs.set(taskKey(frameworkId, info.executor_id.value), executor);
    for (const task of tasks) this.launches.set(taskKey(frameworkId, task.task_id.value), launchId);
    executor.addTasks(tasks, given.asGroup);
    try {
      await mkdir(sandbox, { recursive: true, mode: 0o711 });
      await chmod(sandbox, 0o750);
      await fetchExecutorUris(context, info, sandbox, grant);
      // The run is checkpointed before its process starts, so a restarted agent always finds it.
      this.records.start(executor, { container: containerTask, gpus: gpus.map((gpu) => gpu.index) });
      await this.records.save(executor, launchId);
      const agentId = this.deps.agentInfo().id?.value ?? '';
      const allGpus = context.executorContext().allGpus;
      const spec = { recorded: Promise.resolve(), agentId, executorId: info.executor_id.value, gpus, allGpus };
      const containerizer = executorContainerizer(context, info) as Containerizer;
      executor.started(await containerizer.launch({ ...spec, ...run, task: containerTask }));
      context.metrics.increment('slave/executors_launched');
      // Tasks that joined while it started are in its cgroups too.
      await this.resizer.resize(executor);
    } catch (error) {
      context.logger.warn('Launching a custom executor failed', {
        executorId: info.executor_id.value,
        error: String(error),
      });
      await executor.launchFailed(`Failed to launch the executor: ${(error as Error).message}`);
    }
    return undefined;
  }

  /** Why no executor can start on this agent, if it cannot. */
  private startRefusal(info: ExecutorInfo): Refusal | undefined {
    if (this.deps.endpoint() === undefined) {
      return launchFailed('The agent serves no HTTP endpoint (--port): a custom executor could not reach it');
    }
    if (!wantsDocker(info.container)) {
      if (this.context.containerizers.has('mesos')) return undefined;
      return launchFailed('Custom executors need the mesos (process) containerizer, which this agent does not run');
    }
    if (!this.context.containerizers.has('docker')) {
      return launchFailed('A Docker executor needs the docker containerizer, which this agent does not run');
    }
    // The executor API listens on the agent's loopback: only a container in the host's network reaches it.
    const network = info.container?.docker?.network ?? 'HOST';
    if (network !== 'HOST') {
      return launchFailed(
        `A Docker executor on network ${network} could not reach the agent's executor API, which listens on the host's loopback: use network HOST`,
      );
    }
    return undefined;
  }

  newExecutor(run: ExecutorRun, token?: string): CustomExecutor {
    const { context } = this;
    return new CustomExecutor(
      run,
      {
        updates: context.updates,
        life: context.life,
        logger: context.logger,
        metrics: context.metrics,
        agentInfo: this.deps.agentInfo,
        forward: this.deps.forward,
        registrationTimeoutMs: context.config.executorRegistrationTimeoutMs,
        reregistrationTimeoutMs: context.config.executorReregistrationTimeoutMs,
        shutdownGracePeriodMs: context.config.executorShutdownGracePeriodMs,
        tasksChanged: (executor) => void this.resizer.resize(executor),
        ended: (executor) => {
          this.runs.delete(taskKey(executor.frameworkId, executor.executorId));
          context.gpuAllocator.release(executor.run.containerId);
          context.metrics.increment('slave/executors_terminated');
          void this.records.remove(executor).catch((error: unknown) => {
            if (!isStopped(error))
              context.logger.error('Removing an executor checkpoint failed', { error: String(error) });
          });
        },
      },
      token,
    );
  }

  /** A recovered run, adopted by the registry (recovery.ts). */
  adopt(executor: CustomExecutor, launches: ReadonlyArray<{ taskId: string; launchId: string }>): void {
    this.runs.set(taskKey(executor.frameworkId, executor.executorId), executor);
    for (const { taskId, launchId } of launches) this.launches.set(taskKey(executor.frameworkId, taskId), launchId);
  }

  /** Tasks of checkpointed executors, known before their streams are recovered (recovery.ts). */
  remember(frameworkId: string, taskId: string, launchId: string): void {
    this.launches.set(taskKey(frameworkId, taskId), launchId);
  }

  /** KILL of a task a custom executor holds; false when none does. */
  async kill(frameworkId: string, taskId: string, killPolicy: KillPolicy | undefined): Promise<boolean> {
    const executor = this.all().find((run) => run.frameworkId === frameworkId && run.owns(taskId));
    if (!executor) return this.knows(frameworkId, taskId);
    await executor.kill(taskId, killPolicy);
    return true;
  }

  /** SHUTDOWN_FRAMEWORK, SHUTDOWN_EXECUTOR, a drain: every executor `which` picks is shut down. */
  async shutdown(which: (executor: CustomExecutor) => boolean, why: string): Promise<void> {
    for (const executor of this.all()) if (which(executor)) await executor.shutdown(why);
  }

  /** FRAMEWORK_MESSAGE: false when the executor does not run here or is not subscribed. */
  deliver(frameworkId: string, executorId: string, data: string): boolean {
    return this.get(frameworkId, executorId)?.deliver(data) ?? false;
  }

  /** At agent start, before the task streams are recovered: the checkpointed runs' tasks. */
  async load(): Promise<void> {
    this.loaded = await loadExecutors(this);
  }

  /** At agent start, after the task streams: the runs' processes found again, their containers `known`. */
  async reattach(known: Set<string>): Promise<void> {
    await reattachExecutors(this, this.context, this.loaded, known);
    this.loaded = [];
  }

  /** The agent is stopping: executors keep running, unwatched. */
  detach(): void {
    for (const executor of this.all()) executor.detach();
  }
}
