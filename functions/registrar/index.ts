/** The registrar: Mantle's replicated state, on DynamoDB conditional writes (docs/registrar.md). */
import { AgentRegistry } from './agents.js';
import { TaskCounters } from './counters.js';
import { ChangeFeed } from './change-feed.js';
import { feedChanges } from './change-hooks.js';
import { RegistrarContext, type RegistrarOptions } from './context.js';
import { FilterRegistry } from './filters.js';
import { PendingRegistry } from './pending.js';
import { FrameworkRegistry } from './frameworks.js';
import { HeartbeatLog } from './heartbeats.js';
import { MaintenanceStore } from './maintenance.js';
import { PrincipalRegistry } from './principals.js';
import { RecentAgents } from './recent-agents.js';
import { RecentFrameworks } from './recent-frameworks.js';
import { RoleRegistry } from './roles.js';
import { SettingsRegistry } from './settings.js';
import { TaskRegistry } from './tasks.js';

/** How stale a framework record the status pipeline may act on, when another process changed it. */
export const RECENT_FRAMEWORK_MS = 1_000;
/** How long an agent read for where its commands go may be acted on before it is read again (recent-agents.ts). */
export const RECENT_AGENT_MS = 1_000;

export class Registrar {
  readonly context: RegistrarContext;
  readonly agents: AgentRegistry;
  readonly frameworks: FrameworkRegistry;
  /** Frameworks as read within the last second, for per-message reads (recent-frameworks.ts). */
  readonly recentFrameworks: RecentFrameworks;
  /** Agents' command queues and statuses as read within the last second (recent-agents.ts). */
  readonly recentAgents: RecentAgents;
  readonly tasks: TaskRegistry;
  readonly filters: FilterRegistry;
  readonly heartbeats: HeartbeatLog;
  readonly roles: RoleRegistry;
  readonly principals: PrincipalRegistry;
  readonly counters: TaskCounters;
  readonly pending: PendingRegistry;
  readonly settings: SettingsRegistry;
  readonly changes: ChangeFeed;
  readonly maintenance: MaintenanceStore;

  constructor(options: RegistrarOptions) {
    this.context = new RegistrarContext(options);
    this.agents = new AgentRegistry(this.context);
    this.frameworks = new FrameworkRegistry(this.context);
    this.recentFrameworks = new RecentFrameworks(this.frameworks, this.context, RECENT_FRAMEWORK_MS);
    this.recentAgents = new RecentAgents(this.agents, RECENT_AGENT_MS, this.context.now);
    this.counters = new TaskCounters(this.context);
    this.pending = new PendingRegistry(this.context);
    this.tasks = new TaskRegistry(this.context, this.counters, options.recentTasks);
    this.filters = new FilterRegistry(this.context);
    this.heartbeats = new HeartbeatLog(this.context);
    this.roles = new RoleRegistry(this.context);
    this.principals = new PrincipalRegistry(this.context);
    this.settings = new SettingsRegistry(this.context);
    this.changes = new ChangeFeed(this.context);
    this.maintenance = new MaintenanceStore(this.context);
    feedChanges(this, this.changes);
  }
}

export type { RegistrarOptions } from './context.js';
export type {
  AgentRecord,
  AgentRegistration,
  AgentStatus,
  AgentStatusView,
  LaunchRequest,
  OfferRequest,
  AgentDrain,
} from './agent-records.js';
export type { AcceptInput } from './accept-changes.js';
export type { FrameworkRecord, FrameworkStatus, Subscription } from './frameworks.js';
export type { OfferFilter } from './filters.js';
export type { TaskRecord, NewTask, DroppedLaunch, StatusUpdateResult, TaskWithInfo } from './tasks.js';
export { MAX_TASK_PAGE } from './task-pages.js';
export { INFO_RENEWAL_MS } from './task-info-leases.js';
export type { RoleRecord, Quota, ResourceQuantities } from './roles.js';
export type { PrincipalRecord, PrincipalKind } from './principals.js';
export type { LoggingLevel } from './settings.js';
export type { RegistrarError, RegistrarErrorCode } from './errors.js';
export type { TaskCounts } from './counters.js';
export type { PendingRecord } from './pending.js';
export type { RegistrarChange, FeedEntry } from './change-feed.js';
export { WATCH_CHECK_MS } from './change-feed.js';
export type { OfferRecord, AllocatedExecutor, AllocatedTask, Ledger } from './ledger.js';
export { checkSubscription, frameworkRoles } from './frameworks.js';
export {
  allocations,
  freeResources,
  ledgerViolation,
  offeredResources,
  allocatedResources,
  takeInTurn,
} from './ledger.js';
export { mayUseRole } from './principals.js';
export { createTables } from './bootstrap.js';
export { TABLE_DEFINITIONS, tableNames, tableNamesFromEnvironment, tableEnvironmentVariable } from './tables.js';
export type { TableNames, TableId, TableDefinition } from './tables.js';
