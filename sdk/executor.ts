/**
 * An executor SDK for the Mesos v1 executor HTTP API (Mesos's `docs/executor-http-api.md`), in the
 * spirit of Mesos's `ExecutorDriver`: it reads the environment the agent gives a custom executor,
 * subscribes to `POST /api/v1/executor` with its secret, retries with backoff, and resubscribes after
 * the connection breaks (an agent restart) with the tasks and updates not yet acknowledged, giving up
 * after `MESOS_RECOVERY_TIMEOUT`. It speaks to Mantle's agent and to a Mesos agent alike.
 */
import { randomBytes } from 'node:crypto';
import { ExecutorEventSchema, type ExecutorCall, type ExecutorEvent } from '#shared/protocol/executor.js';
import type { KillPolicy, TaskGroupInfo, TaskInfo, TaskStatus } from '#shared/protocol/mesos.js';
import { RecordIODecoder } from '#shared/protocol/recordio.js';

/** What the agent tells a custom executor through its environment. */
export interface ExecutorEnvironment {
  readonly frameworkId: string;
  readonly executorId: string;
  /** `host:port` of the agent. */
  readonly agentEndpoint: string;
  readonly token: string | undefined;
  readonly sandbox: string;
  readonly checkpoint: boolean;
  readonly recoveryTimeoutMs: number;
  readonly subscriptionBackoffMaxMs: number;
  readonly shutdownGracePeriodMs: number;
}

/** A Mesos duration (`5secs`, `15mins`, `500ms`) in milliseconds. */
export function parseMesosDuration(text: string): number {
  const match = /^(\d+(?:\.\d+)?)(ns|us|ms|secs|mins|hrs|days|weeks)$/.exec(text.trim());
  if (!match) throw new Error(`Not a Mesos duration: '${text}'`);
  const unit = { ns: 1e-6, us: 1e-3, ms: 1, secs: 1e3, mins: 6e4, hrs: 3.6e6, days: 8.64e7, weeks: 6.048e8 };
  return Number(match[1]) * unit[match[2] as keyof typeof unit];
}

/** The executor's environment, as the agent sets it; throws naming the first variable missing. */
export function executorEnvironment(env: NodeJS.ProcessEnv = process.env): ExecutorEnvironment {
  const need = (name: string): string => {
    const value = env[name];
    if (value === undefined || value === '') throw new Error(`${name} is not set: is this process run by an agent?`);
    return value;
  };
  const duration = (name: string, fallback: string) => parseMesosDuration(env[name] ?? fallback);
  return {
    frameworkId: need('MESOS_FRAMEWORK_ID'),
    executorId: need('MESOS_EXECUTOR_ID'),
    agentEndpoint: need('MESOS_AGENT_ENDPOINT'),
    token: env.MESOS_EXECUTOR_AUTHENTICATION_TOKEN,
    sandbox: env.MESOS_SANDBOX ?? env.MESOS_DIRECTORY ?? process.cwd(),
    checkpoint: env.MESOS_CHECKPOINT === '1',
    recoveryTimeoutMs: duration('MESOS_RECOVERY_TIMEOUT', '15mins'),
    subscriptionBackoffMaxMs: duration('MESOS_SUBSCRIPTION_BACKOFF_MAX', '2secs'),
    shutdownGracePeriodMs: duration('MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD', '5secs'),
  };
}

/** The callbacks of an executor; all optional. */
export interface Executor {
  onSubscribed?(subscribed: NonNullable<ExecutorEvent['subscribed']>, driver: ExecutorDriver): void;
  onLaunch?(task: TaskInfo, driver: ExecutorDriver): void;
  onLaunchGroup?(group: TaskGroupInfo, driver: ExecutorDriver): void;
  onKill?(taskId: string, killPolicy: KillPolicy | undefined, driver: ExecutorDriver): void;
  onMessage?(data: Buffer, driver: ExecutorDriver): void;
  onAcknowledged?(taskId: string, uuid: string, driver: ExecutorDriver): void;
  onShutdown?(driver: ExecutorDriver): void;
  onError?(message: string, driver: ExecutorDriver): void;
}

/** A status as the executor gives it: the driver adds the uuid, timestamp, source and executor id. */
export type ExecutorStatus = Omit<TaskStatus, 'uuid' | 'timestamp' | 'source' | 'executor_id'>;

export class ExecutorDriver {
  readonly env: ExecutorEnvironment;
  /** Tasks received and not yet reported on with an acknowledged update. */
  private readonly unacknowledgedTasks = new Map<string, TaskInfo>();
  /** Updates sent and not yet acknowledged, by uuid. */
  private readonly unacknowledgedUpdates = new Map<string, TaskStatus>();
  private abort = new AbortController();
  private stopped = false;

  constructor(
    private readonly executor: Executor,
    options: { readonly env?: ExecutorEnvironment } = {},
  ) {
    this.env = options.env ?? executorEnvironment();
  }

  /** Updates not yet acknowledged (they are resent on resubscription). */
  get pendingUpdates(): number {
    return this.unacknowledgedUpdates.size;
  }

  private url(): string {
    return `http://${this.env.agentEndpoint}/api/v1/executor`;
  }

  private headers(): Record<string, string> {
    return {
      'Content-Type': 'application/json',
      Accept: 'application/json',
      ...(this.env.token ? { Authorization: `Bearer ${this.env.token}` } : {}),
    };
  }

  private call(type: ExecutorCall['type'], body: Partial<ExecutorCall>): ExecutorCall {
    return {
      type,
      framework_id: { value: this.env.frameworkId },
      executor_id: { value: this.env.executorId },
      ...body,
    };
  }

  private async post(call: ExecutorCall): Promise<void> {
    const response = await fetch(this.url(), { method: 'POST', headers: this.headers(), body: JSON.stringify(call) });
    if (response.status !== 202) {
      throw new Error(`${call.type} refused: ${response.status} ${await response.text().catch(() => '')}`);
    }
  }

  /**
   * Subscribes and handles events until SHUTDOWN or `stop()`; after a broken connection it resubscribes
   * (jittered backoff up to MESOS_SUBSCRIPTION_BACKOFF_MAX) until MESOS_RECOVERY_TIMEOUT has passed.
   */
  async run(): Promise<void> {
    let disconnectedAt = Date.now();
    while (!this.stopped) {
      try {
        await this.subscribeOnce(() => {
          disconnectedAt = Number.POSITIVE_INFINITY;
        });
      } catch (error) {
        if (this.stopped) return;
        if (Date.now() - Math.min(disconnectedAt, Date.now()) > this.env.recoveryTimeoutMs) {
          throw new Error(`The agent did not come back within its recovery timeout: ${(error as Error).message}`, {
            cause: error,
          });
        }
      }
      if (this.stopped) return;
      if (disconnectedAt === Number.POSITIVE_INFINITY) disconnectedAt = Date.now();
      const wait = Math.random() * this.env.subscriptionBackoffMaxMs;
      await new Promise((resolve) => setTimeout(resolve, wait));
    }
  }

  private async subscribeOnce(connected: () => void): Promise<void> {
    this.abort = new AbortController();
    const call = this.call('SUBSCRIBE', {
      subscribe: {
        unacknowledged_tasks: [...this.unacknowledgedTasks.values()],
        unacknowledged_updates: [...this.unacknowledgedUpdates.values()].map((status) => ({ status })),
      },
    });
    const response = await fetch(this.url(), {
      method: 'POST',
      headers: this.headers(),
      body: JSON.stringify(call),
      signal: this.abort.signal,
    });
    if (response.status !== 200 || !response.body) {
      throw new Error(`SUBSCRIBE refused: ${response.status} ${await response.text().catch(() => '')}`);
    }
    connected();
    const decoder = new RecordIODecoder();
    for await (const chunk of response.body as AsyncIterable<Uint8Array>) {
      for (const record of decoder.decode(chunk)) this.dispatch(ExecutorEventSchema.parse(JSON.parse(record)));
      if (this.stopped) return;
    }
  }

  private dispatch(event: ExecutorEvent): void {
    const { executor } = this;
    switch (event.type) {
      case 'SUBSCRIBED':
        if (event.subscribed) executor.onSubscribed?.(event.subscribed, this);
        return;
      case 'LAUNCH':
        if (!event.launch) return;
        this.unacknowledgedTasks.set(event.launch.task.task_id.value, event.launch.task);
        executor.onLaunch?.(event.launch.task, this);
        return;
      case 'LAUNCH_GROUP':
        if (!event.launch_group) return;
        for (const task of event.launch_group.task_group.tasks ?? [])
          this.unacknowledgedTasks.set(task.task_id.value, task);
        executor.onLaunchGroup?.(event.launch_group.task_group, this);
        return;
      case 'KILL':
        if (event.kill) executor.onKill?.(event.kill.task_id.value, event.kill.kill_policy, this);
        return;
      case 'ACKNOWLEDGED':
        if (!event.acknowledged) return;
        this.unacknowledgedUpdates.delete(event.acknowledged.uuid);
        this.unacknowledgedTasks.delete(event.acknowledged.task_id.value);
        executor.onAcknowledged?.(event.acknowledged.task_id.value, event.acknowledged.uuid, this);
        return;
      case 'MESSAGE':
        if (event.message) executor.onMessage?.(Buffer.from(event.message.data, 'base64'), this);
        return;
      case 'SHUTDOWN':
        this.stopped = true;
        executor.onShutdown?.(this);
        return;
      case 'ERROR':
        executor.onError?.(event.error?.message ?? 'unknown error', this);
        return;
      default:
        return;
    }
  }

  /** Sends a status update (reliably: it is kept, and resent on resubscription, until acknowledged). */
  async update(status: ExecutorStatus): Promise<string> {
    const uuid = randomBytes(16).toString('base64');
    const full: TaskStatus = {
      ...status,
      source: 'SOURCE_EXECUTOR',
      executor_id: { value: this.env.executorId },
      timestamp: Date.now() / 1000,
      uuid,
    };
    this.unacknowledgedUpdates.set(uuid, full);
    await this.post(this.call('UPDATE', { update: { status: full } }));
    return uuid;
  }

  /** Sends the framework a message (best effort). */
  async message(data: Buffer | string): Promise<void> {
    await this.post(this.call('MESSAGE', { message: { data: Buffer.from(data).toString('base64') } }));
  }

  /** Ends the subscription; `run()` resolves. */
  stop(): void {
    this.stopped = true;
    this.abort.abort();
  }
}
