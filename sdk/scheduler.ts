/**
 * A scheduler SDK for the Mesos v1 HTTP API, in the spirit of Mesos's Java `Scheduler` interface and
 * `SchedulerDriver`. The driver keeps the subscription alive — a heartbeat watchdog, resubscription with
 * the framework id and exponential backoff — and acknowledges status updates once the scheduler's
 * callback has handled them. It speaks to Mantle and to a Mesos master alike.
 */
import type {
  FrameworkInfo,
  KillPolicy,
  MasterInfo,
  Offer,
  Operation,
  OperationStatus,
  Request,
  TaskInfo,
  TaskStatus,
} from '#shared/protocol/mesos.js';
import { EventSchema, type Call, type Event } from '#shared/protocol/scheduler.js';
import { RecordIODecoder } from '#shared/protocol/recordio.js';
import { permanentFetchFailure, resolveMaster } from '#shared/master-url.js';

type Awaitable = void | Promise<void>;

/** The callbacks of a scheduler; all optional. */
export interface Scheduler {
  subscribed?(driver: SchedulerDriver, frameworkId: string, masterInfo: MasterInfo | undefined): Awaitable;
  resourceOffers?(driver: SchedulerDriver, offers: Offer[]): Awaitable;
  offerRescinded?(driver: SchedulerDriver, offerId: string): Awaitable;
  /** Acknowledged by the driver after this returns (unless autoAcknowledge is off). */
  statusUpdate?(driver: SchedulerDriver, status: TaskStatus): Awaitable;
  operationStatus?(driver: SchedulerDriver, status: OperationStatus): Awaitable;
  frameworkMessage?(driver: SchedulerDriver, agentId: string, executorId: string, data: Buffer): Awaitable;
  /** An agent was lost, or an executor exited (FAILURE). */
  failure?(
    driver: SchedulerDriver,
    agentId: string | undefined,
    executorId: string | undefined,
    status?: number,
  ): Awaitable;
  /** An ERROR event: the subscription is over (failed over, removed, refused). The driver stops. */
  error?(driver: SchedulerDriver, message: string): Awaitable;
  /** The stream was lost; the driver is resubscribing. */
  disconnected?(driver: SchedulerDriver): Awaitable;
}

export interface SchedulerDriverOptions {
  /**
   * The master: `host:port`, or a base URL such as http://127.0.0.1:5050 or an API Gateway stage's
   * https URL. Default: MANTLE_MASTER, else MESOS_MASTER. A master that cannot be a URL (or zk://)
   * throws in the constructor.
   */
  readonly master?: string;
  /** Where MANTLE_MASTER and MESOS_MASTER are read from (default process.env). */
  readonly env?: NodeJS.ProcessEnv;
  readonly framework: FrameworkInfo;
  /** Resume an existing framework (failover of a scheduler process). */
  readonly frameworkId?: string;
  readonly credentials?: { readonly principal: string; readonly secret: string };
  readonly suppressedRoles?: readonly string[];
  /** Acknowledge updates after statusUpdate returns (default true). */
  readonly autoAcknowledge?: boolean;
  /** Missed heartbeats before the stream is considered dead (default 5, as Mesos advises). */
  readonly missedHeartbeats?: number;
  /** Resubscription backoff: doubles from `initialMs` up to `maxMs` (default 500 ms .. 15 s). */
  readonly backoff?: { readonly initialMs: number; readonly maxMs: number };
  /** How long a call waits for the driver to be subscribed (default 30 s). */
  readonly callTimeoutMs?: number;
}

export class CallError extends Error {
  constructor(
    readonly status: number,
    readonly body: string,
    readonly callType: string,
  ) {
    super(`${callType} answered ${status}: ${body}`);
    this.name = 'CallError';
  }
}

type State = 'idle' | 'subscribing' | 'subscribed' | 'stopped';

export class SchedulerDriver {
  private state: State = 'idle';
  private id: string | undefined;
  private stream: string | undefined;
  private heartbeatSeconds = 15;
  private abort: AbortController | undefined;
  private running: Promise<void> | undefined;
  private readonly waiters = new Set<() => void>();
  private stopReason: string | undefined;
  /** Why the last subscription attempt failed: said when the driver gives up waiting. */
  private lastFailure: string | undefined;
  /** The master's base URL. */
  readonly master: string;

  constructor(
    private readonly scheduler: Scheduler,
    private readonly options: SchedulerDriverOptions,
  ) {
    this.id = options.frameworkId;
    const master = resolveMaster({
      given: options.master,
      givenAs: 'the master option',
      env: options.env ?? process.env,
    });
    if (!master.ok) throw new Error(`SchedulerDriver: ${master.error}`);
    this.master = master.value;
  }

  get frameworkId(): string | undefined {
    return this.id;
  }

  get streamId(): string | undefined {
    return this.stream;
  }

  get subscribed(): boolean {
    return this.state === 'subscribed';
  }

  /** Subscribes, and keeps the subscription until stop(). Resolves once first subscribed. */
  async start(): Promise<string> {
    if (this.state !== 'idle') throw new Error('The driver was already started');
    this.state = 'subscribing';
    this.running = this.loop();
    await this.whenSubscribed(this.options.callTimeoutMs ?? 30_000);
    return this.id as string;
  }

  /** Runs until the driver stops; resolves with why it stopped. */
  async join(): Promise<string | undefined> {
    await this.running;
    return this.stopReason;
  }

  /**
   * Stops the driver. With `failover` false (the default, as Mesos's driver.stop()) the framework is
   * torn down: its tasks are killed. With `failover` true it only disconnects, so that another scheduler
   * process can resubscribe with the framework id within the failover timeout.
   */
  async stop(failover = false): Promise<void> {
    if (this.state === 'stopped') return;
    if (!failover && this.state === 'subscribed') await this.call({ type: 'TEARDOWN' }).catch(() => undefined);
    this.halt('stopped');
    await this.running;
  }

  // ------------------------------------------------------------------------------------------ calls

  accept(offerIds: readonly string[], operations: readonly Operation[], refuseSeconds?: number): Promise<void> {
    return this.call({
      type: 'ACCEPT',
      accept: {
        offer_ids: offerIds.map((value) => ({ value })),
        operations: [...operations],
        ...(refuseSeconds !== undefined ? { filters: { refuse_seconds: refuseSeconds } } : {}),
      },
    });
  }

  launch(offerIds: readonly string[], tasks: readonly TaskInfo[], refuseSeconds?: number): Promise<void> {
    return this.accept(offerIds, [{ type: 'LAUNCH', launch: { task_infos: [...tasks] } }], refuseSeconds);
  }

  decline(offerIds: readonly string[], refuseSeconds?: number): Promise<void> {
    return this.call({
      type: 'DECLINE',
      decline: {
        offer_ids: offerIds.map((value) => ({ value })),
        ...(refuseSeconds !== undefined ? { filters: { refuse_seconds: refuseSeconds } } : {}),
      },
    });
  }

  kill(taskId: string, agentId?: string, killPolicy?: KillPolicy): Promise<void> {
    return this.call({
      type: 'KILL',
      kill: {
        task_id: { value: taskId },
        ...(agentId ? { agent_id: { value: agentId } } : {}),
        ...(killPolicy ? { kill_policy: killPolicy } : {}),
      },
    });
  }

  /** Acknowledges an update that carries a uuid (master-generated ones do not, and need none). */
  async acknowledge(status: TaskStatus): Promise<void> {
    if (!status.uuid || !status.agent_id) return;
    await this.call({
      type: 'ACKNOWLEDGE',
      acknowledge: { agent_id: status.agent_id, task_id: status.task_id, uuid: status.uuid },
    });
  }

  /** Explicit reconciliation of these tasks, or implicit (all of them) with none. */
  reconcile(tasks: ReadonlyArray<{ taskId: string; agentId?: string }> = []): Promise<void> {
    return this.call({
      type: 'RECONCILE',
      reconcile: {
        tasks: tasks.map((task) => ({
          task_id: { value: task.taskId },
          ...(task.agentId ? { agent_id: { value: task.agentId } } : {}),
        })),
      },
    });
  }

  revive(roles: readonly string[] = []): Promise<void> {
    return this.call({ type: 'REVIVE', revive: { roles: [...roles] } });
  }

  suppress(roles: readonly string[] = []): Promise<void> {
    return this.call({ type: 'SUPPRESS', suppress: { roles: [...roles] } });
  }

  teardown(): Promise<void> {
    return this.call({ type: 'TEARDOWN' });
  }

  message(agentId: string, executorId: string, data: Buffer): Promise<void> {
    return this.call({
      type: 'MESSAGE',
      message: { agent_id: { value: agentId }, executor_id: { value: executorId }, data: data.toString('base64') },
    });
  }

  request(requests: readonly Request[]): Promise<void> {
    return this.call({ type: 'REQUEST', request: { requests: [...requests] } });
  }

  /** Sends a call for this framework on its current subscription; waits for a subscription first. */
  async call(call: Omit<Call, 'framework_id'>): Promise<void> {
    if (this.state === 'stopped') throw new Error('The driver is stopped');
    await this.whenSubscribed(this.options.callTimeoutMs ?? 30_000);
    const response = await fetch(`${this.master}/api/v1/scheduler`, {
      method: 'POST',
      headers: { ...this.headers(), 'Mesos-Stream-Id': this.stream as string },
      body: JSON.stringify({ framework_id: { value: this.id }, ...call }),
    });
    const body = await response.text();
    if (response.status !== 202 && response.status !== 200) throw new CallError(response.status, body, call.type ?? '');
  }

  // -------------------------------------------------------------------------------------- internals

  private headers(): Record<string, string> {
    const { credentials } = this.options;
    return {
      'Content-Type': 'application/json',
      Accept: 'application/json',
      ...(credentials
        ? { Authorization: `Basic ${Buffer.from(`${credentials.principal}:${credentials.secret}`).toString('base64')}` }
        : {}),
    };
  }

  private whenSubscribed(timeoutMs: number): Promise<void> {
    if (this.state === 'subscribed') return Promise.resolve();
    if (this.state === 'stopped') return Promise.reject(new Error(`The driver stopped: ${this.stopReason ?? ''}`));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(wake);
        const why = this.lastFailure ? ` (last attempt: ${this.lastFailure})` : '';
        reject(new Error(`Not subscribed within ${timeoutMs} ms${why}`));
      }, timeoutMs);
      const wake = () => {
        clearTimeout(timer);
        this.waiters.delete(wake);
        if (this.state === 'subscribed') resolve();
        else reject(new Error(`The driver stopped: ${this.stopReason ?? ''}`));
      };
      this.waiters.add(wake);
    });
  }

  private wakeWaiters(): void {
    for (const wake of [...this.waiters]) wake();
  }

  // A method, not an inline comparison: callbacks and the stream change the state behind the loop's back.
  private stopped(): boolean {
    return this.state === 'stopped';
  }

  /** A failure that retrying cannot fix: the scheduler hears of it and the driver stops. */
  private async giveUp(message: string): Promise<void> {
    await this.scheduler.error?.(this, message);
    this.halt(message);
  }

  private halt(reason: string): void {
    if (this.state === 'stopped') return;
    this.state = 'stopped';
    this.stopReason = reason;
    this.abort?.abort();
    this.wakeWaiters();
  }

  private async loop(): Promise<void> {
    const { initialMs, maxMs } = this.options.backoff ?? { initialMs: 500, maxMs: 15_000 };
    let delay = initialMs;
    while (!this.stopped()) {
      const subscribedOnce = await this.subscribeOnce();
      if (this.stopped()) break;
      this.state = 'subscribing';
      this.stream = undefined;
      await this.scheduler.disconnected?.(this);
      if (subscribedOnce) delay = initialMs;
      // Jittered exponential backoff, as Mesos advises for resubscription.
      await new Promise((resolve) => setTimeout(resolve, delay * (0.5 + Math.random() / 2)));
      delay = Math.min(maxMs, delay * 2);
    }
  }

  /** One subscription, until its stream ends. True when it got as far as SUBSCRIBED. */
  private async subscribeOnce(): Promise<boolean> {
    const abort = new AbortController();
    this.abort = abort;
    let subscribed = false;
    let watchdog: NodeJS.Timeout | undefined;
    const arm = () => {
      clearTimeout(watchdog);
      const missed = this.options.missedHeartbeats ?? 5;
      watchdog = setTimeout(() => abort.abort(), missed * this.heartbeatSeconds * 1000);
    };
    try {
      const info = this.id ? { ...this.options.framework, id: { value: this.id } } : this.options.framework;
      const response = await fetch(`${this.master}/api/v1/scheduler`, {
        method: 'POST',
        headers: this.headers(),
        body: JSON.stringify({
          type: 'SUBSCRIBE',
          ...(this.id ? { framework_id: { value: this.id } } : {}),
          subscribe: {
            framework_info: info,
            ...(this.options.suppressedRoles ? { suppressed_roles: [...this.options.suppressedRoles] } : {}),
          },
        }),
        signal: abort.signal,
      });
      if (response.status !== 200 || !response.body) {
        const body = await response.text();
        this.lastFailure = `SUBSCRIBE answered ${response.status}`;
        // 4xx other than a transient one (401, 403, 400...) means the subscription itself is wrong:
        // retrying cannot help. 5xx and a master that is not there yet are retried.
        if (response.status >= 400 && response.status < 500 && response.status !== 408 && response.status !== 429) {
          await this.giveUp(`SUBSCRIBE answered ${response.status}: ${body}`);
        }
        return false;
      }
      const streamId = response.headers.get('mesos-stream-id') ?? undefined;
      arm();
      const decoder = new RecordIODecoder();
      const reader = response.body.getReader();
      for (;;) {
        const chunk = await reader.read();
        if (chunk.done) break;
        arm();
        for (const record of decoder.decode(chunk.value)) {
          const parsed = EventSchema.safeParse(JSON.parse(record));
          if (!parsed.success) continue;
          if (parsed.data.type === 'SUBSCRIBED') {
            subscribed = true;
            this.id = parsed.data.subscribed?.framework_id.value;
            this.stream = streamId;
            this.heartbeatSeconds = parsed.data.subscribed?.heartbeat_interval_seconds ?? 15;
            arm();
            this.state = 'subscribed';
            this.wakeWaiters();
          }
          await this.dispatch(parsed.data);
          if (this.stopped()) return subscribed;
        }
      }
    } catch (error) {
      const permanent = permanentFetchFailure(error);
      if (permanent) await this.giveUp(`Cannot reach the master at ${this.master}: ${permanent}`);
      // Otherwise the stream broke, the master is not there (yet), or the watchdog fired: resubscribe.
      const cause = (error as { cause?: unknown }).cause;
      this.lastFailure = cause instanceof Error ? cause.message : String(error);
    } finally {
      clearTimeout(watchdog);
    }
    return subscribed;
  }

  private async dispatch(event: Event): Promise<void> {
    const s = this.scheduler;
    switch (event.type) {
      case 'SUBSCRIBED':
        await s.subscribed?.(this, event.subscribed?.framework_id.value ?? '', event.subscribed?.master_info);
        break;
      case 'OFFERS':
        await s.resourceOffers?.(this, event.offers?.offers ?? []);
        break;
      case 'RESCIND':
        if (event.rescind) await s.offerRescinded?.(this, event.rescind.offer_id.value);
        break;
      case 'UPDATE': {
        const status = event.update?.status;
        if (!status) break;
        await s.statusUpdate?.(this, status);
        // Not awaited: the next event need not wait for this round trip (a lost acknowledgement only
        // means the agent resends the update, which the callback then sees again).
        if (this.options.autoAcknowledge ?? true) void this.acknowledge(status).catch(() => undefined);
        break;
      }
      case 'UPDATE_OPERATION_STATUS':
        if (event.update_operation_status) await s.operationStatus?.(this, event.update_operation_status.status);
        break;
      case 'MESSAGE':
        if (event.message) {
          await s.frameworkMessage?.(
            this,
            event.message.agent_id.value,
            event.message.executor_id.value,
            Buffer.from(event.message.data, 'base64'),
          );
        }
        break;
      case 'FAILURE':
        await s.failure?.(
          this,
          event.failure?.agent_id?.value,
          event.failure?.executor_id?.value,
          event.failure?.status,
        );
        break;
      case 'ERROR':
        await s.error?.(this, event.error?.message ?? '');
        this.halt(event.error?.message ?? 'ERROR');
        break;
      default:
        break;
    }
  }
}
