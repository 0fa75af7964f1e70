/**
 * What an app needs now (pure): how many tasks to launch and which to kill, given its definition, its tasks and
 * its deployment — the one rule behind scaling, replacing failed tasks and rolling upgrades, as Marathon's
 * task launcher and task replacer apply it:
 *
 * - Steady state: launch until `instances` tasks are active; kill the surplus by `killSelection`. A task being
 *   killed counts until it has ended, so a replacement never runs beside the task it replaces.
 * - An upgrade (tasks of an older configuration exist): never more than `instances` + ⌊instances ×
 *   `maximumOverCapacity`⌋ active tasks, and an old task is killed only while at least
 *   ⌈instances × `minimumHealthCapacity`⌉ healthy tasks remain (old unhealthy or staging tasks go at once).
 *   Where both bounds leave no room (capacity 1, over capacity 0) one old task is killed first, as
 *   Marathon does, so the upgrade can proceed.
 * - Launches wait out the app's backoff (Marathon's rate limiter: `backoffSeconds`, × `backoffFactor` after
 *   each failure, at most `maxLaunchDelaySeconds`; reset by a new configuration or a restart).
 * - A deployment is done when only tasks of the current configuration remain, `instances` of them, all healthy.
 */
import type { Check } from '../common/reconciliation.js';
import type { App } from './model.js';

/** A task of an app as the framework keeps it. */
export interface TaskRecord {
  readonly id: string;
  readonly appId: string;
  /** The app configuration it runs (the app's `configVersion` when launched). */
  readonly version: string;
  readonly agentId: string;
  readonly host: string;
  readonly ports: readonly number[];
  /** The agent's attributes, for constraints. */
  readonly attributes: Readonly<Record<string, string>>;
  /** The last Mesos state heard (TASK_STAGING when recorded, before the launch). */
  readonly state: string;
  /** The last health result; null before the first, or without health checks. */
  readonly healthy: boolean | null;
  readonly stagedAt: string;
  readonly startedAt: string | null;
  /** Killed on purpose (scale down, upgrade, a client's kill): its end is no failure. */
  readonly killing: boolean;
  /** How many health results in a row were failures. */
  readonly consecutiveFailures: number;
  readonly lastFailure: string | null;
  readonly lastSuccess: string | null;
  /**
   * While it is unheard of (TASK_STAGING): when the timer reconciles it next, and the wait before that (absent:
   * not asked yet, the first check comes the timer's first wait after `stagedAt`).
   */
  readonly check?: Check;
}

export interface Deployment {
  readonly id: string;
  /** The app version it deploys. */
  readonly version: string;
  /** What it does: Marathon's action names. */
  readonly action: 'StartApplication' | 'ScaleApplication' | 'RestartApplication' | 'StopApplication';
  /** The configuration before it (a cancel rolls back to it); null for a new app. */
  readonly previous: { readonly app: App; readonly configVersion: string } | null;
  readonly startedAt: string;
}

export interface Backoff {
  /** The current delay; 0 until the first failure. */
  readonly delaySeconds: number;
  /** ms since the epoch before which no task is launched. */
  readonly until: number;
}

export interface AppRecord {
  readonly app: App;
  /** The app's version (ISO 8601): changes with every change, a scale included. */
  readonly version: string;
  /** The version of the configuration tasks run: changes when the definition (not only `instances`) does. */
  readonly configVersion: string;
  readonly lastScalingAt: string;
  readonly deployment: Deployment | null;
  readonly backoff: Backoff;
  readonly lastTaskFailure: TaskFailure | null;
  /** DELETE /v2/apps: its tasks are killed, then the app is gone. */
  readonly deleting: boolean;
  /** Every write is conditional on it. */
  readonly revision: number;
}

export interface TaskFailure {
  readonly appId: string;
  readonly host: string;
  readonly message: string;
  readonly state: string;
  readonly taskId: string;
  readonly timestamp: string;
  readonly version: string;
  readonly slaveId: string;
}

export interface Plan {
  /** Tasks to launch now. */
  readonly launch: number;
  /** Tasks to kill now, by id. */
  readonly kill: readonly string[];
  /** Whether the deployment (if any) is done. */
  readonly done: boolean;
  /** Launches that wait for the backoff. */
  readonly delayed: number;
}

export function isActive(task: TaskRecord): boolean {
  return !task.killing;
}

/** Running and, where the app has health checks, healthy. */
export function isHealthy(app: App, task: TaskRecord): boolean {
  if (task.state !== 'TASK_RUNNING') return false;
  return app.healthChecks.length === 0 || task.healthy === true;
}

/** The order tasks are killed in: by `killSelection`, and tasks not yet healthy before healthy ones. */
export function killOrder(app: App, tasks: readonly TaskRecord[]): TaskRecord[] {
  const sign = app.killSelection === 'YOUNGEST_FIRST' ? -1 : 1;
  return [...tasks].sort((a, b) => {
    const health = Number(isHealthy(app, a)) - Number(isHealthy(app, b));
    if (health !== 0) return health;
    return sign * (a.stagedAt < b.stagedAt ? -1 : a.stagedAt > b.stagedAt ? 1 : 0);
  });
}

/** The most tasks an app may have active during an upgrade. */
export function maxActive(app: App): number {
  return app.instances + Math.floor(app.instances * app.upgradeStrategy.maximumOverCapacity);
}

export function minHealthy(app: App): number {
  return Math.ceil(app.instances * app.upgradeStrategy.minimumHealthCapacity);
}

/** The plan for an app now (see the module's comment). */
export function plan(record: AppRecord, tasks: readonly TaskRecord[], now: number): Plan {
  const { app } = record;
  const active = tasks.filter(isActive);
  if (record.deleting) return { launch: 0, kill: active.map((t) => t.id), done: tasks.length === 0, delayed: 0 };
  const current = active.filter((task) => task.version === record.configVersion);
  const old = active.filter((task) => task.version !== record.configVersion);
  const kill: string[] = [];
  const surplus = current.length - app.instances;
  if (surplus > 0)
    kill.push(
      ...killOrder(app, current)
        .slice(0, surplus)
        .map((t) => t.id),
    );
  const healthyCurrent = current.filter((t) => isHealthy(app, t)).length;
  if (old.length > 0) kill.push(...oldToKill(app, old, Math.min(healthyCurrent, app.instances)));
  // Tasks being killed still run until they end: they take room too, so the bound holds at every moment.
  const room = (old.length > 0 ? maxActive(app) : app.instances) - tasks.length;
  const wanted = Math.max(0, Math.min(app.instances - Math.min(current.length, app.instances), room));
  const waiting = now < record.backoff.until;
  const done =
    old.length === 0 && current.length === app.instances && healthyCurrent === app.instances && tasks.every(isActive);
  return { launch: waiting ? 0 : wanted, kill, done, delayed: waiting ? wanted : 0 };
}

/** The old tasks an upgrade may kill now, keeping `minimumHealthCapacity` healthy. */
function oldToKill(app: App, old: readonly TaskRecord[], healthyCurrent: number): string[] {
  const unhealthy = old.filter((task) => !isHealthy(app, task));
  const healthy = killOrder(
    app,
    old.filter((task) => isHealthy(app, task)),
  );
  const floor = minHealthy(app);
  let spare = healthyCurrent + healthy.length - floor;
  // No room either way: one old task makes way (Marathon's ignition rule), once nothing new is pending.
  const stuck = maxActive(app) <= app.instances && floor >= app.instances && healthyCurrent + healthy.length >= floor;
  if (spare <= 0 && stuck && unhealthy.length === 0) spare = 1;
  return [...unhealthy, ...healthy.slice(0, Math.max(0, spare))].map((task) => task.id);
}

/** The backoff after a task failed: the first failure waits `backoffSeconds`, each next × `backoffFactor`. */
export function backoffAfterFailure(app: App, backoff: Backoff, now: number): Backoff {
  const delay =
    backoff.delaySeconds === 0
      ? app.backoffSeconds
      : Math.min(backoff.delaySeconds * app.backoffFactor, app.maxLaunchDelaySeconds);
  const capped = Math.min(delay, app.maxLaunchDelaySeconds);
  return { delaySeconds: capped, until: now + Math.round(capped * 1000) };
}

export const NO_BACKOFF: Backoff = { delaySeconds: 0, until: 0 };
