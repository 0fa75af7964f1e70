/**
 * What the Marathon API does to apps (api.ts calls it): create, update or scale (a deployment each), delete,
 * restart, kill tasks, cancel a deployment. A changed app is locked while its deployment runs: another change
 * is refused (409) unless forced, as Marathon does. After each change the framework converges the app at once
 * (kills, REVIVE); the timer would do it within a tick anyway.
 */
import { randomUUID } from 'node:crypto';
import { failure, ok, type Failure, type Result } from '#shared/result.js';
import type { ServicesEngine } from './engine.js';
import { runSpec, type App } from './model.js';
import { NO_BACKOFF, type AppRecord, type Deployment, type TaskRecord } from './plan.js';
import type { ServicesStore } from './store.js';
import { deploymentEvent } from './views.js';

export type ServicesError = Failure<'NOT_FOUND' | 'EXISTS' | 'LOCKED'> & { readonly deployments?: readonly string[] };

/** What the framework does for the service. */
export interface ServicesActions {
  /** Kills what the app's plan says to kill, and revives offers where it needs tasks. */
  converge(appId: string): Promise<void>;
}

export interface DeploymentResult {
  readonly deploymentId: string;
  readonly version: string;
}

function locked(record: AppRecord): { ok: false; error: ServicesError } {
  const id = record.deployment?.id ?? '';
  return {
    ok: false,
    error: {
      code: 'LOCKED',
      message: `App is locked by one or more deployments. Override with the option '?force=true'. View details at '/v2/deployments/${id}'.`,
      deployments: [id],
    },
  };
}

export class ServicesService {
  constructor(
    readonly engine: ServicesEngine,
    private readonly actions: () => ServicesActions | undefined,
  ) {}

  get store(): ServicesStore {
    return this.engine.store;
  }

  /** The framework id the master gave Services (for /v2/info). */
  async frameworkId(): Promise<string | undefined> {
    return (await this.store.state.subscription())?.frameworkId;
  }

  private newDeployment(action: Deployment['action'], version: string, previous: Deployment['previous']): Deployment {
    return { id: randomUUID(), version, action, previous, startedAt: new Date(this.engine.now()).toISOString() };
  }

  private async converge(appId: string): Promise<void> {
    await this.actions()?.converge(appId);
  }

  async create(app: App): Promise<Result<AppRecord, ServicesError>> {
    const version = this.engine.nextVersion();
    const deployment = this.newDeployment('StartApplication', version, null);
    const record: AppRecord = {
      app,
      version,
      configVersion: version,
      lastScalingAt: version,
      deployment,
      backoff: NO_BACKOFF,
      lastTaskFailure: null,
      deleting: false,
      revision: 1,
    };
    const now = this.engine.now();
    const events = [
      { eventType: 'api_post_event', timestamp: version, appDefinition: app },
      deploymentEvent('deployment_info', record, deployment, now),
    ];
    if (!(await this.engine.create(record, events))) {
      const existing = await this.store.app(app.id);
      if (existing?.deleting && existing.deployment) return locked(existing);
      return failure('EXISTS', `An app with id [${app.id}] already exists.`);
    }
    await this.converge(app.id);
    return ok((await this.store.app(app.id)) ?? record);
  }

  /** PUT: a new definition (a scale when only `instances` changed): a deployment, or 409 while locked. */
  async update(app: App, force: boolean): Promise<Result<DeploymentResult, ServicesError>> {
    let refused: AppRecord | undefined;
    const written = await this.engine.mutate(app.id, (record) => {
      if (record.deleting) return undefined;
      if (record.deployment && !force) {
        refused = record;
        return undefined;
      }
      refused = undefined;
      const version = this.engine.nextVersion(record.version);
      const scale = runSpec(app) === runSpec(record.app);
      const previous = { app: record.app, configVersion: record.configVersion };
      const deployment = this.newDeployment(scale ? 'ScaleApplication' : 'RestartApplication', version, previous);
      const next: AppRecord = {
        ...record,
        app,
        version,
        configVersion: scale ? record.configVersion : version,
        lastScalingAt: version,
        deployment,
        backoff: scale ? record.backoff : NO_BACKOFF,
      };
      return {
        record: next,
        events: [
          { eventType: 'api_post_event', timestamp: version, appDefinition: app },
          deploymentEvent('deployment_info', next, deployment, this.engine.now()),
        ],
      };
    });
    if (refused) return locked(refused);
    if (!written?.record) return failure('NOT_FOUND', `App '${app.id}' does not exist`);
    await this.converge(app.id);
    const deployment = written.record.deployment;
    return ok({ deploymentId: deployment?.id ?? '', version: written.record.version });
  }

  /** POST /restart: every task replaced by a rolling deployment of the same definition. */
  async restart(appId: string, force: boolean): Promise<Result<DeploymentResult, ServicesError>> {
    return this.change(appId, force, 'RestartApplication', (record, version) => ({
      ...record,
      version,
      configVersion: version,
      backoff: NO_BACKOFF,
    }));
  }

  /** DELETE: its tasks are killed, then it is gone. */
  async remove(appId: string, force: boolean): Promise<Result<DeploymentResult, ServicesError>> {
    return this.change(appId, force, 'StopApplication', (record, version) => ({
      ...record,
      version,
      deleting: true,
    }));
  }

  private async change(
    appId: string,
    force: boolean,
    action: Deployment['action'],
    next: (record: AppRecord, version: string) => AppRecord,
  ): Promise<Result<DeploymentResult, ServicesError>> {
    let refused: AppRecord | undefined;
    const written = await this.engine.mutate(appId, (record) => {
      if (record.deleting) return undefined;
      refused = record.deployment && !force ? record : undefined;
      if (refused) return undefined;
      const version = this.engine.nextVersion(record.version);
      const previous = { app: record.app, configVersion: record.configVersion };
      const deployment = this.newDeployment(action, version, previous);
      const changed = { ...next(record, version), deployment };
      return { record: changed, events: [deploymentEvent('deployment_info', changed, deployment, this.engine.now())] };
    });
    if (refused) return locked(refused);
    const after = written?.record ?? (written ? undefined : await this.store.app(appId));
    if (written === undefined && after === undefined) return failure('NOT_FOUND', `App '${appId}' does not exist`);
    await this.converge(appId);
    const deployment = after?.deployment;
    return ok({ deploymentId: deployment?.id ?? randomUUID(), version: after?.version ?? this.engine.nextVersion() });
  }

  /**
   * Kills tasks of an app: replaced by the plan, or with `scale` the app's `instances` lowered by as many
   * (a scale deployment). Resolves with the tasks killed (those that exist).
   */
  async killTasks(appId: string, taskIds: readonly string[], scale: boolean): Promise<TaskRecord[]> {
    let killed: TaskRecord[] = [];
    await this.engine.mutate(appId, (record, tasks) => {
      killed = tasks.filter((task) => taskIds.includes(task.id) && !task.killing);
      if (killed.length === 0) return undefined;
      const writes = killed.map((task) => ({
        kind: 'task' as const,
        task: { ...task, killing: true },
        expected: 'any' as const,
      }));
      if (!scale) return { tasks: writes };
      const version = this.engine.nextVersion(record.version);
      const instances = Math.max(0, record.app.instances - killed.length);
      const app = { ...record.app, instances };
      return { record: { ...record, app, version, lastScalingAt: version }, tasks: writes };
    });
    await this.converge(appId);
    return killed;
  }

  /** The deployment with this id, and its app. */
  async deployment(id: string): Promise<AppRecord | undefined> {
    return (await this.store.apps()).find((record) => record.deployment?.id === id);
  }

  /**
   * DELETE /v2/deployments/{id}: rolled back (the previous configuration deployed again: a new deployment), or
   * with `force` only stopped where it is. Undefined: no such deployment.
   */
  async cancelDeployment(id: string, force: boolean): Promise<DeploymentResult | null | undefined> {
    const found = await this.deployment(id);
    if (found === undefined) return undefined;
    let result: DeploymentResult | null | undefined;
    await this.engine.mutate(found.app.id, (record) => {
      const running = record.deployment;
      if (running?.id !== id) return undefined;
      const failed = deploymentEvent('deployment_failed', record, running, this.engine.now());
      if (force || running.previous === null) {
        result = null;
        const stop = running.previous === null && !force;
        return { record: { ...record, deployment: null, deleting: record.deleting || stop }, events: [failed] };
      }
      const version = this.engine.nextVersion(record.version);
      const rollback = this.newDeployment(running.action, version, null);
      result = { deploymentId: rollback.id, version };
      const { app, configVersion } = running.previous;
      const next = { ...record, app, configVersion, version, deployment: rollback, deleting: false };
      return { record: next, events: [failed, deploymentEvent('deployment_info', next, rollback, this.engine.now())] };
    });
    await this.converge(found.app.id);
    return result;
  }
}
