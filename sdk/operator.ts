/**
 * A typed client for the Mesos v1 operator API (`POST /api/v1` on the master, JSON): one method per call, each
 * answering the response's payload. It speaks to Mantle and to a Mesos master alike; GET_PENDING_REASONS is
 * Mantle's own. A refusal (4xx/5xx) or a master that does not answer throws an OperatorError.
 */
import { permanentFetchFailure } from '#shared/master-url.js';
import { masterUrl, requestHeaders, type ConnectionOptions } from './calls.js';
import type {
  Agent,
  Duration,
  Framework,
  MachineID,
  MaintenanceSchedule,
  MaintenanceStatus,
  OperatorCalls,
  OperatorCallType,
  OperatorResponses,
  PendingReason,
  QuotaConfig,
  QuotaStatus,
  Resource,
  Role,
  WeightInfo,
} from './operator-types.js';

export type * from './operator-types.js';

export interface OperatorClientOptions extends ConnectionOptions {
  /** How long one call may take before it is abandoned (default 30 s). */
  readonly timeoutMs?: number;
}

/** A call the master refused (its HTTP status and body), or one that got no answer (status 0). */
export class OperatorError extends Error {
  constructor(
    readonly status: number,
    readonly body: string,
    readonly callType: string,
  ) {
    super(status === 0 ? body : `${callType} answered ${status}: ${body.trim() || 'no reason given'}`);
    this.name = 'OperatorError';
  }
}

function whyUnreachable(error: unknown): string {
  if ((error as Error).name === 'TimeoutError') return 'no answer in time';
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  return permanentFetchFailure(error) ?? cause?.code ?? cause?.message ?? (error as Error).message;
}

export class OperatorClient {
  /** The master's base URL. */
  readonly master: string;

  constructor(private readonly options: OperatorClientOptions = {}) {
    this.master = masterUrl('OperatorClient', options);
  }

  /** Sends one call; the payload of its response (undefined for calls answered with no body). */
  async call<T extends OperatorCallType>(type: T, payload?: OperatorCalls[T]): Promise<OperatorResponses[T]> {
    const field = type.toLowerCase();
    let response: Response;
    try {
      response = await (this.options.fetch ?? fetch)(`${this.master}/api/v1`, {
        method: 'POST',
        headers: requestHeaders(this.options),
        body: JSON.stringify(payload === undefined ? { type } : { type, [field]: payload }),
        signal: AbortSignal.timeout(this.options.timeoutMs ?? 30_000),
      });
    } catch (error) {
      throw new OperatorError(0, `Could not reach the master at ${this.master}: ${whyUnreachable(error)}`, type);
    }
    const text = await response.text();
    if (!response.ok) throw new OperatorError(response.status, text, type);
    if (text.trim() === '') return undefined as OperatorResponses[T];
    let answer: Record<string, unknown>;
    try {
      answer = JSON.parse(text) as Record<string, unknown>;
    } catch {
      throw new OperatorError(response.status, `not JSON: ${text.slice(0, 200)}`, type);
    }
    if (answer.type !== undefined && answer.type !== type) {
      throw new OperatorError(response.status, `answered a ${String(answer.type)} response`, type);
    }
    return (answer[field] ?? {}) as OperatorResponses[T];
  }

  getHealth(): Promise<OperatorResponses['GET_HEALTH']> {
    return this.call('GET_HEALTH');
  }

  getVersion(): Promise<OperatorResponses['GET_VERSION']> {
    return this.call('GET_VERSION');
  }

  getFlags(): Promise<OperatorResponses['GET_FLAGS']> {
    return this.call('GET_FLAGS');
  }

  /** The metrics as `/metrics/snapshot` has them: name → value. */
  async getMetrics(timeoutSeconds?: number): Promise<Record<string, number>> {
    const timeout = timeoutSeconds === undefined ? undefined : { timeout: { nanoseconds: timeoutSeconds * 1e9 } };
    const { metrics = [] } = await this.call('GET_METRICS', timeout);
    return Object.fromEntries(metrics.map((metric) => [metric.name, metric.value ?? 0]));
  }

  getMaster(): Promise<OperatorResponses['GET_MASTER']> {
    return this.call('GET_MASTER');
  }

  getState(): Promise<OperatorResponses['GET_STATE']> {
    return this.call('GET_STATE');
  }

  async getAgents(): Promise<readonly Agent[]> {
    return (await this.call('GET_AGENTS')).agents ?? [];
  }

  getFrameworks(): Promise<OperatorResponses['GET_FRAMEWORKS']> {
    return this.call('GET_FRAMEWORKS');
  }

  /** The frameworks subscribed now (completed ones left out). */
  async activeFrameworks(): Promise<readonly Framework[]> {
    return (await this.getFrameworks()).frameworks ?? [];
  }

  getExecutors(): Promise<OperatorResponses['GET_EXECUTORS']> {
    return this.call('GET_EXECUTORS');
  }

  getTasks(): Promise<OperatorResponses['GET_TASKS']> {
    return this.call('GET_TASKS');
  }

  async getRoles(): Promise<readonly Role[]> {
    return (await this.call('GET_ROLES')).roles ?? [];
  }

  async getWeights(): Promise<readonly WeightInfo[]> {
    return (await this.call('GET_WEIGHTS')).weight_infos ?? [];
  }

  async updateWeights(weights: readonly WeightInfo[]): Promise<void> {
    await this.call('UPDATE_WEIGHTS', { weight_infos: weights });
  }

  async getQuota(): Promise<QuotaStatus> {
    return (await this.call('GET_QUOTA')).status ?? {};
  }

  /** Replaces each named role's quota (all or nothing); `force` skips the capacity and consumption checks. */
  async updateQuota(configs: readonly QuotaConfig[], options: { readonly force?: boolean } = {}): Promise<void> {
    await this.call('UPDATE_QUOTA', { ...(options.force ? { force: true } : {}), quota_configs: configs });
  }

  /** Kills the agent's tasks and offers it no more; `markGone` then removes it for good once drained. */
  async drainAgent(
    agentId: string,
    options: { readonly maxGracePeriodSeconds?: number; readonly markGone?: boolean } = {},
  ): Promise<void> {
    const grace: Duration | undefined =
      options.maxGracePeriodSeconds === undefined ? undefined : { seconds: options.maxGracePeriodSeconds };
    await this.call('DRAIN_AGENT', {
      agent_id: { value: agentId },
      ...(grace ? { max_grace_period: grace } : {}),
      ...(options.markGone ? { mark_gone: true } : {}),
    });
  }

  async deactivateAgent(agentId: string): Promise<void> {
    await this.call('DEACTIVATE_AGENT', { agent_id: { value: agentId } });
  }

  async reactivateAgent(agentId: string): Promise<void> {
    await this.call('REACTIVATE_AGENT', { agent_id: { value: agentId } });
  }

  async markAgentGone(agentId: string): Promise<void> {
    await this.call('MARK_AGENT_GONE', { agent_id: { value: agentId } });
  }

  /** Reserves an agent's unallocated resources (each with its `reservations`); `source` moves a reservation. */
  async reserveResources(agentId: string, resources: readonly Resource[], source?: readonly Resource[]): Promise<void> {
    await this.call('RESERVE_RESOURCES', { agent_id: { value: agentId }, resources, ...(source ? { source } : {}) });
  }

  async unreserveResources(agentId: string, resources: readonly Resource[]): Promise<void> {
    await this.call('UNRESERVE_RESOURCES', { agent_id: { value: agentId }, resources });
  }

  /** Creates persistent volumes on an agent's reserved disk. */
  async createVolumes(agentId: string, volumes: readonly Resource[]): Promise<void> {
    await this.call('CREATE_VOLUMES', { agent_id: { value: agentId }, volumes });
  }

  async destroyVolumes(agentId: string, volumes: readonly Resource[]): Promise<void> {
    await this.call('DESTROY_VOLUMES', { agent_id: { value: agentId }, volumes });
  }

  async teardown(frameworkId: string): Promise<void> {
    await this.call('TEARDOWN', { framework_id: { value: frameworkId } });
  }

  async getMaintenanceSchedule(): Promise<MaintenanceSchedule> {
    return (await this.call('GET_MAINTENANCE_SCHEDULE')).schedule ?? {};
  }

  async updateMaintenanceSchedule(schedule: MaintenanceSchedule): Promise<void> {
    await this.call('UPDATE_MAINTENANCE_SCHEDULE', { schedule });
  }

  async startMaintenance(machines: readonly MachineID[]): Promise<void> {
    await this.call('START_MAINTENANCE', { machines });
  }

  async stopMaintenance(machines: readonly MachineID[]): Promise<void> {
    await this.call('STOP_MAINTENANCE', { machines });
  }

  async getMaintenanceStatus(): Promise<MaintenanceStatus> {
    return (await this.call('GET_MAINTENANCE_STATUS')).status ?? {};
  }

  /** Why frameworks and roles wait (Mantle's GET_PENDING_REASONS), optionally for one framework or role. */
  async getPendingReasons(
    filter: { readonly frameworkId?: string; readonly role?: string } = {},
  ): Promise<readonly PendingReason[]> {
    const payload = {
      ...(filter.frameworkId ? { framework_id: { value: filter.frameworkId } } : {}),
      ...(filter.role ? { role: filter.role } : {}),
    };
    return (
      (await this.call('GET_PENDING_REASONS', Object.keys(payload).length > 0 ? payload : undefined)).reasons ?? []
    );
  }
}
