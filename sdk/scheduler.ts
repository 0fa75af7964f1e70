/**
 * A scheduler SDK for the Mesos v1 HTTP API, in the spirit of Mesos's Java `Scheduler` interface and
 * `SchedulerDriver`. The driver keeps the subscription alive — a heartbeat watchdog, resubscription with
 * the framework id and exponential backoff — and acknowledges status updates once the scheduler's
 * callback has handled them. It speaks to Mantle and to a Mesos master alike.
 */
import type { FrameworkInfo } from '#shared/protocol/mesos.js';
import { EventSchema, type Call, type Event } from '#shared/protocol/scheduler.js';
import { RecordIODecoder } from '#shared/protocol/recordio.js';
import { permanentFetchFailure } from '#shared/master-url.js';
import { masterUrl, postCall, requestHeaders, SchedulerCalls, type ConnectionOptions } from './calls.js';
import { dispatchEvent, type SchedulerCallbacks } from './events.js';

export { CallError, inProcess, type Fetch } from './calls.js';

/** The callbacks of a scheduler; all optional. */
export type Scheduler = SchedulerCallbacks<SchedulerDriver>;

export interface SchedulerDriverOptions extends ConnectionOptions {
  readonly framework: FrameworkInfo;
  /** Resume an existing framework (failover of a scheduler process). */
  readonly frameworkId?: string;
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

type State = 'idle' | 'subscribing' | 'subscribed' | 'stopped';

export class SchedulerDriver extends SchedulerCalls {
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
    super();
    this.id = options.frameworkId;
    this.master = masterUrl('SchedulerDriver', options);
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

  /** Sends a call for this framework on its current subscription; waits for a subscription first. */
  async call(call: Omit<Call, 'framework_id'>): Promise<void> {
    if (this.state === 'stopped') throw new Error('The driver is stopped');
    await this.whenSubscribed(this.options.callTimeoutMs ?? 30_000);
    await postCall(
      this.options,
      this.master,
      { frameworkId: this.id as string, streamId: this.stream as string },
      call,
    );
  }

  // -------------------------------------------------------------------------------------- internals

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
      const response = await (this.options.fetch ?? fetch)(`${this.master}/api/v1/scheduler`, {
        method: 'POST',
        headers: requestHeaders(this.options),
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
    await dispatchEvent(this.scheduler, this, event);
    const status = event.type === 'UPDATE' ? event.update?.status : undefined;
    // Not awaited: the next event need not wait for this round trip (a lost acknowledgement only
    // means the agent resends the update, which the callback then sees again).
    if (status && (this.options.autoAcknowledge ?? true)) void this.acknowledge(status).catch(() => undefined);
    if (event.type === 'ERROR') this.halt(event.error?.message ?? 'ERROR');
  }
}
