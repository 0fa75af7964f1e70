/**
 * The scheduler calls as methods (Mesos's `SchedulerDriver` calls), shared by the stream driver (scheduler.ts) and
 * the queue-delivered scheduler (queue-scheduler.ts): each subclass says how a call reaches the master.
 */
import type { KillPolicy, Operation, Request as MesosRequest, TaskInfo, TaskStatus } from '#shared/protocol/mesos.js';
import type { Call } from '#shared/protocol/scheduler.js';
import { resolveMaster } from '#shared/master-url.js';

/** What the SDK sends requests with: the global fetch, or `inProcess(app)`. */
export type Fetch = (url: string, init: RequestInit) => Promise<Response>;

/** Calls an app in process (a hono app's `fetch`, e.g. the master's own, hosted in the same process or Lambda). */
export function inProcess(app: { fetch(request: Request): Response | Promise<Response> }): Fetch {
  return async (url, init) => app.fetch(new Request(url, init));
}

/** How the SDK reaches the master. */
export interface ConnectionOptions {
  /**
   * The master: `host:port`, or a base URL such as http://127.0.0.1:5050 or an API Gateway stage's
   * https URL. Default: MANTLE_MASTER, else MESOS_MASTER. A master that cannot be a URL (or zk://)
   * throws in the constructor.
   */
  readonly master?: string;
  /** Where MANTLE_MASTER and MESOS_MASTER are read from (default process.env). */
  readonly env?: NodeJS.ProcessEnv;
  readonly credentials?: { readonly principal: string; readonly secret: string };
  /**
   * How requests are sent (default: the global fetch). A framework hosted beside the master passes the master's
   * app (`inProcess(app)`) to call it in process: the same route, the same authentication.
   */
  readonly fetch?: Fetch;
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

/** The master's base URL from the options; throws, naming `who`, when it cannot be one. */
export function masterUrl(who: string, options: ConnectionOptions): string {
  const master = resolveMaster({
    given: options.master,
    givenAs: 'the master option',
    env: options.env ?? process.env,
  });
  if (!master.ok) throw new Error(`${who}: ${master.error}`);
  return master.value;
}

/** The headers of every request: JSON, and the credentials when given. */
export function requestHeaders(options: ConnectionOptions): Record<string, string> {
  const { credentials } = options;
  return {
    'Content-Type': 'application/json',
    Accept: 'application/json',
    ...(credentials
      ? { Authorization: `Basic ${Buffer.from(`${credentials.principal}:${credentials.secret}`).toString('base64')}` }
      : {}),
  };
}

/** Sends one call for a framework on its subscription; throws a CallError unless the master accepted it. */
export async function postCall(
  options: ConnectionOptions,
  master: string,
  subscription: { readonly frameworkId: string; readonly streamId: string },
  call: Omit<Call, 'framework_id'>,
): Promise<void> {
  const response = await (options.fetch ?? fetch)(`${master}/api/v1/scheduler`, {
    method: 'POST',
    headers: { ...requestHeaders(options), 'Mesos-Stream-Id': subscription.streamId },
    body: JSON.stringify({ framework_id: { value: subscription.frameworkId }, ...call }),
  });
  const body = await response.text();
  if (response.status !== 202 && response.status !== 200) throw new CallError(response.status, body, call.type ?? '');
}

export abstract class SchedulerCalls {
  /** Sends a call for this framework on its current subscription. */
  abstract call(call: Omit<Call, 'framework_id'>): Promise<void>;

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

  request(requests: readonly MesosRequest[]): Promise<void> {
    return this.call({ type: 'REQUEST', request: { requests: [...requests] } });
  }
}
