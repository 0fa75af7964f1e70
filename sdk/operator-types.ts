/**
 * The Mesos v1 operator API's calls and responses as they travel in JSON (`include/mesos/v1/master/master.proto`,
 * `maintenance/maintenance.proto`, `quota/quota.proto`): snake_case fields, enums as strings, a call
 * `{"type":"X","x":{…}}` and its response `{"type":"X","x":{…}}`. Protobuf JSON leaves out empty repeated fields
 * and unset optional ones, so nearly every field here is optional: read them with a default.
 */

export interface Id {
  readonly value: string;
}

export interface Scalar {
  readonly value: number;
}

/** A resource as Mesos writes it (`mesos.proto` Resource); the fields an operator reads. */
export interface Resource {
  readonly name: string;
  readonly type: 'SCALAR' | 'RANGES' | 'SET' | 'TEXT';
  readonly scalar?: Scalar;
  readonly ranges?: { readonly range?: ReadonlyArray<{ readonly begin: number; readonly end: number }> };
  readonly set?: { readonly item?: readonly string[] };
  readonly role?: string;
  readonly reservations?: ReadonlyArray<{
    readonly type?: string;
    readonly role?: string;
    readonly principal?: string;
  }>;
  readonly allocation_info?: { readonly role?: string };
  readonly [field: string]: unknown;
}

export interface TimeInfo {
  readonly nanoseconds: number;
}

/** `google.protobuf.Duration` (DRAIN_AGENT's max_grace_period). */
export interface Duration {
  readonly seconds: number;
  readonly nanos?: number;
}

export interface AgentInfo {
  readonly hostname: string;
  readonly port?: number;
  readonly id?: Id;
  readonly resources?: readonly Resource[];
  readonly attributes?: readonly unknown[];
  readonly [field: string]: unknown;
}

export interface DrainInfo {
  readonly state: 'UNKNOWN' | 'DRAINING' | 'DRAINED';
  readonly config?: { readonly max_grace_period?: Duration; readonly mark_gone?: boolean };
}

export interface Agent {
  readonly agent_info: AgentInfo;
  readonly active: boolean;
  readonly deactivated?: boolean;
  readonly version: string;
  readonly pid?: string;
  readonly registered_time?: TimeInfo;
  readonly reregistered_time?: TimeInfo;
  readonly total_resources?: readonly Resource[];
  readonly allocated_resources?: readonly Resource[];
  readonly offered_resources?: readonly Resource[];
  readonly capabilities?: ReadonlyArray<{ readonly type: string }>;
  readonly drain_info?: DrainInfo;
  readonly estimated_drain_start_time?: TimeInfo;
}

export interface FrameworkInfo {
  readonly user: string;
  readonly name: string;
  readonly id?: Id;
  readonly role?: string;
  readonly roles?: readonly string[];
  readonly principal?: string;
  readonly hostname?: string;
  readonly failover_timeout?: number;
  readonly capabilities?: ReadonlyArray<{ readonly type: string }>;
  readonly [field: string]: unknown;
}

export interface Framework {
  readonly framework_info: FrameworkInfo;
  readonly active: boolean;
  readonly connected: boolean;
  readonly recovered: boolean;
  readonly registered_time?: TimeInfo;
  readonly reregistered_time?: TimeInfo;
  readonly unregistered_time?: TimeInfo;
  readonly offers?: readonly unknown[];
  readonly inverse_offers?: readonly unknown[];
  readonly allocated_resources?: readonly Resource[];
  readonly offered_resources?: readonly Resource[];
}

export interface TaskStatus {
  readonly task_id: Id;
  readonly state: string;
  readonly message?: string;
  readonly reason?: string;
  readonly source?: string;
  readonly timestamp?: number;
  readonly agent_id?: Id;
  readonly healthy?: boolean;
  readonly [field: string]: unknown;
}

/** A task as the master knows it (`mesos.proto` Task). */
export interface Task {
  readonly name: string;
  readonly task_id: Id;
  readonly framework_id: Id;
  readonly executor_id?: Id;
  readonly agent_id: Id;
  readonly state: string;
  readonly resources?: readonly Resource[];
  readonly statuses?: readonly TaskStatus[];
  readonly status_update_state?: string;
  readonly status_update_uuid?: string;
  readonly user?: string;
  readonly [field: string]: unknown;
}

export interface Executor {
  readonly executor_info: { readonly executor_id: Id; readonly framework_id?: Id; readonly [field: string]: unknown };
  readonly agent_id: Id;
}

export interface Role {
  readonly name: string;
  readonly weight: number;
  readonly frameworks?: readonly Id[];
  readonly resources?: readonly Resource[];
  readonly allocated?: readonly Resource[];
  readonly offered?: readonly Resource[];
  readonly reserved?: readonly Resource[];
  readonly quota?: {
    readonly role?: string;
    readonly guarantee?: Readonly<Record<string, number>>;
    readonly limit?: Readonly<Record<string, number>>;
    readonly consumed?: Readonly<Record<string, number>>;
  };
}

export interface WeightInfo {
  readonly weight: number;
  readonly role: string;
}

/** `quota.proto` QuotaConfig: scalar quantities by resource name. */
export interface QuotaConfig {
  readonly role: string;
  readonly guarantees?: Readonly<Record<string, Scalar>>;
  readonly limits?: Readonly<Record<string, Scalar>>;
}

export interface QuotaStatus {
  /** The deprecated pre-1.9 form (guarantees as resources). */
  readonly infos?: ReadonlyArray<{
    readonly role?: string;
    readonly principal?: string;
    readonly guarantee?: readonly Resource[];
  }>;
  readonly configs?: readonly QuotaConfig[];
}

/** `maintenance.proto`: a machine by hostname and/or IP. */
export interface MachineID {
  readonly hostname?: string;
  readonly ip?: string;
}

export interface Unavailability {
  readonly start: TimeInfo;
  readonly duration?: { readonly nanoseconds: number };
}

export interface MaintenanceWindow {
  readonly machine_ids: readonly MachineID[];
  readonly unavailability: Unavailability;
}

export interface MaintenanceSchedule {
  readonly windows?: readonly MaintenanceWindow[];
}

export interface MaintenanceStatus {
  readonly draining_machines?: ReadonlyArray<{
    readonly id: MachineID;
    readonly statuses?: ReadonlyArray<{
      readonly status: string;
      readonly framework_id: Id;
      readonly timestamp?: TimeInfo;
    }>;
  }>;
  readonly down_machines?: readonly MachineID[];
}

export interface GetTasks {
  readonly pending_tasks?: readonly Task[];
  readonly tasks?: readonly Task[];
  readonly unreachable_tasks?: readonly Task[];
  readonly completed_tasks?: readonly Task[];
  readonly orphan_tasks?: readonly Task[];
}

export interface GetAgents {
  readonly agents?: readonly Agent[];
  readonly recovered_agents?: readonly AgentInfo[];
}

export interface GetFrameworks {
  readonly frameworks?: readonly Framework[];
  readonly completed_frameworks?: readonly Framework[];
  readonly recovered_frameworks?: readonly FrameworkInfo[];
}

export interface GetExecutors {
  readonly executors?: readonly Executor[];
  readonly orphan_executors?: readonly Executor[];
}

export interface GetState {
  readonly get_tasks?: GetTasks;
  readonly get_executors?: GetExecutors;
  readonly get_frameworks?: GetFrameworks;
  readonly get_agents?: GetAgents;
}

export interface Metric {
  readonly name: string;
  readonly value?: number;
}

/**
 * Why a framework's role is offered nothing (a Mantle extension, GET_PENDING_REASONS): the allocator's last word
 * on it (`SUPPRESSED`, `FILTERED`, `QUOTA_LIMIT_REACHED`, `GPU_AGENTS_ONLY`, `NOTHING_FREE`, …), and the Jobs
 * framework's reasons for its pending jobs.
 */
export interface PendingReason {
  readonly framework_id?: Id;
  readonly role?: string;
  readonly reason?: string;
  readonly code?: string;
  readonly message?: string;
  readonly job_id?: string;
  readonly [field: string]: unknown;
}

/** Each call's payload (the field named after it), by call type; calls without one map to `undefined`. */
export interface OperatorCalls {
  GET_HEALTH: undefined;
  GET_FLAGS: undefined;
  GET_VERSION: undefined;
  GET_METRICS: { readonly timeout?: { readonly nanoseconds: number } } | undefined;
  GET_LOGGING_LEVEL: undefined;
  SET_LOGGING_LEVEL: { readonly level: number; readonly duration: { readonly nanoseconds: number } };
  GET_MASTER: undefined;
  GET_STATE: undefined;
  GET_AGENTS: undefined;
  GET_FRAMEWORKS: undefined;
  GET_EXECUTORS: undefined;
  GET_TASKS: undefined;
  GET_ROLES: undefined;
  GET_WEIGHTS: undefined;
  UPDATE_WEIGHTS: { readonly weight_infos: readonly WeightInfo[] };
  GET_QUOTA: undefined;
  UPDATE_QUOTA: { readonly force?: boolean; readonly quota_configs: readonly QuotaConfig[] };
  RESERVE_RESOURCES: {
    readonly agent_id: Id;
    readonly source?: readonly Resource[];
    readonly resources: readonly Resource[];
  };
  UNRESERVE_RESOURCES: { readonly agent_id: Id; readonly resources: readonly Resource[] };
  CREATE_VOLUMES: { readonly agent_id: Id; readonly volumes: readonly Resource[] };
  DESTROY_VOLUMES: { readonly agent_id: Id; readonly volumes: readonly Resource[] };
  GET_MAINTENANCE_STATUS: undefined;
  GET_MAINTENANCE_SCHEDULE: undefined;
  UPDATE_MAINTENANCE_SCHEDULE: { readonly schedule: MaintenanceSchedule };
  START_MAINTENANCE: { readonly machines: readonly MachineID[] };
  STOP_MAINTENANCE: { readonly machines: readonly MachineID[] };
  DRAIN_AGENT: { readonly agent_id: Id; readonly max_grace_period?: Duration; readonly mark_gone?: boolean };
  DEACTIVATE_AGENT: { readonly agent_id: Id };
  REACTIVATE_AGENT: { readonly agent_id: Id };
  MARK_AGENT_GONE: { readonly agent_id: Id };
  TEARDOWN: { readonly framework_id: Id };
  GET_PENDING_REASONS: { readonly framework_id?: Id; readonly role?: string } | undefined;
}

export type OperatorCallType = keyof OperatorCalls;

/** What each call answers (the response's field named after it); calls answered with no body map to `undefined`. */
export interface OperatorResponses {
  GET_HEALTH: { readonly healthy: boolean };
  GET_FLAGS: { readonly flags?: ReadonlyArray<{ readonly name: string; readonly value?: string }> };
  GET_VERSION: {
    readonly version_info: {
      readonly version: string;
      readonly build_date?: string;
      readonly build_time?: number;
      readonly build_user?: string;
      readonly git_sha?: string;
    };
  };
  GET_METRICS: { readonly metrics?: readonly Metric[] };
  GET_LOGGING_LEVEL: { readonly level: number };
  SET_LOGGING_LEVEL: undefined;
  GET_MASTER: {
    readonly master_info?: {
      readonly id: string;
      readonly hostname?: string;
      readonly port?: number;
      readonly version?: string;
    };
    readonly start_time?: number;
    readonly elected_time?: number;
  };
  GET_STATE: GetState;
  GET_AGENTS: GetAgents;
  GET_FRAMEWORKS: GetFrameworks;
  GET_EXECUTORS: GetExecutors;
  GET_TASKS: GetTasks;
  GET_ROLES: { readonly roles?: readonly Role[] };
  GET_WEIGHTS: { readonly weight_infos?: readonly WeightInfo[] };
  UPDATE_WEIGHTS: undefined;
  GET_QUOTA: { readonly status: QuotaStatus };
  UPDATE_QUOTA: undefined;
  RESERVE_RESOURCES: undefined;
  UNRESERVE_RESOURCES: undefined;
  CREATE_VOLUMES: undefined;
  DESTROY_VOLUMES: undefined;
  GET_MAINTENANCE_STATUS: { readonly status: MaintenanceStatus };
  GET_MAINTENANCE_SCHEDULE: { readonly schedule: MaintenanceSchedule };
  UPDATE_MAINTENANCE_SCHEDULE: undefined;
  START_MAINTENANCE: undefined;
  STOP_MAINTENANCE: undefined;
  DRAIN_AGENT: undefined;
  DEACTIVATE_AGENT: undefined;
  REACTIVATE_AGENT: undefined;
  MARK_AGENT_GONE: undefined;
  TEARDOWN: undefined;
  GET_PENDING_REASONS: { readonly reasons?: readonly PendingReason[] };
}
