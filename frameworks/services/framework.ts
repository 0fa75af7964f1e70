/**
 * The Mantle Services framework: a queue-delivered scheduler (SDK's QueueScheduler) whose state is the services
 * table. It subscribes once (kept in the table), resumes from there in a new handler, and reconciles after
 * every (re)subscription.
 *
 * - OFFERS: every app's plan (plan.ts); the launches placement finds are recorded with the app (one
 *   transaction each, conditional on the revision the plan read) BEFORE the ACCEPT that launches them, so no
 *   handler, however many run, ever launches past the plan. The rest is declined; SUPPRESS when nothing waits.
 * - UPDATE: the task's state (status.ts); a live task no app has is killed; the app then converges.
 * - converge(app): kills what its plan says to kill (marked `killing` first: its end is no failure), and
 *   REVIVEs its role when it needs tasks.
 */
import { randomUUID } from 'node:crypto';
import type { Metrics } from '#shared/metrics.js';
import type { Offer as MesosOffer, TaskInfo, TaskStatus } from '#shared/protocol/mesos.js';
import { TERMINAL_STATES } from '#shared/tasks/state-machine.js';
import type { BatchResponse, QueueRecord, QueueScheduler } from '../../sdk/queue-scheduler.js';
import {
  hostedFrameworkInfo,
  hostedScheduler,
  queueHandler,
  startHosted,
  type HostedConnection,
} from '../common/hosting.js';
import { attributeValues } from './constraints.js';
import type { ServicesEngine } from './engine.js';
import { place, type Launch, type Need, type Offer } from './placement.js';
import { isActive, plan, type AppRecord, type TaskRecord } from './plan.js';
import type { ServicesActions } from './service.js';
import { applyStatus } from './status.js';
import { appIdOfTask, newTaskId, taskInfo } from './task-info.js';

export const SERVICES_FRAMEWORK_NAME = 'services';
export const SERVICES_PRINCIPAL = 'mantle-services';
/** The filter on declined offers (seconds). */
const DECLINE_SECONDS = 2;

export interface ServicesFrameworkOptions extends HostedConnection {
  readonly engine: ServicesEngine;
  readonly metrics?: Metrics;
}

function placementOffer(offer: MesosOffer): Offer {
  const resources = offer.resources ?? [];
  return {
    id: offer.id.value,
    agentId: offer.agent_id.value,
    hostname: offer.hostname,
    role: offer.allocation_info?.role ?? resources[0]?.allocation_info?.role ?? '*',
    resources,
    attributes: attributeValues(offer.attributes),
  };
}

export class ServicesFramework implements ServicesActions {
  readonly engine: ServicesEngine;
  private roles: string[] = ['*'];
  private current: QueueScheduler | undefined;

  constructor(private readonly options: ServicesFrameworkOptions) {
    this.engine = options.engine;
  }

  get scheduler(): QueueScheduler {
    if (this.current === undefined) throw new Error('The Services framework has not started');
    return this.current;
  }

  private newScheduler(frameworkId: string | undefined, suppressed: readonly string[]): QueueScheduler {
    this.current = hostedScheduler(
      this.options,
      'Services',
      {
        resourceOffers: (_driver, offers) => this.offers(offers),
        statusUpdate: (_driver, status) => this.update(status),
      },
      { info: this.info(), frameworkId, suppressed },
    );
    return this.current;
  }

  private info() {
    return hostedFrameworkInfo(this.options, SERVICES_FRAMEWORK_NAME, this.roles);
  }

  async start(options: { resubscribe: boolean }): Promise<void> {
    const apps = await this.engine.store.apps();
    this.roles = [...new Set(['*', ...apps.map((record) => record.app.role)])].sort();
    await startHosted(
      {
        state: this.engine.store.state,
        name: 'Services',
        scheduler: (id, suppressed) => this.newScheduler(id, suppressed),
        ...(this.options.logger ? { logger: this.options.logger } : {}),
      },
      options.resubscribe,
      [],
    );
  }

  handler(): (event: { Records: readonly QueueRecord[] }) => Promise<BatchResponse> {
    return queueHandler(
      this.engine.store.state,
      () => this.current,
      this.engine.now,
      (count) => this.options.metrics?.increment('services/events_redelivered', count),
    );
  }

  /** What each app needs launched now, with where its tasks are. */
  private async needs(): Promise<Need[]> {
    const needs: Need[] = [];
    for (const record of await this.engine.store.apps()) {
      const tasks = await this.engine.store.tasks(record.app.id);
      const fresh = (await this.engine.store.app(record.app.id)) ?? record;
      const { launch } = plan(fresh, tasks, this.engine.now());
      if (launch > 0) needs.push({ app: fresh.app, count: launch, placed: tasks.filter(isActive).map(placeOf) });
    }
    return needs;
  }

  private async offers(offers: MesosOffer[]): Promise<void> {
    const launches = place(await this.needs(), offers.map(placementOffer));
    const byApp = new Map<string, Launch[]>();
    for (const launch of launches) byApp.set(launch.appId, [...(byApp.get(launch.appId) ?? []), launch]);
    const byOffer = new Map<string, TaskInfo[]>();
    for (const [appId, appLaunches] of byApp) {
      for (const [launch, info] of await this.record(appId, appLaunches)) {
        byOffer.set(launch.offer.id, [...(byOffer.get(launch.offer.id) ?? []), info]);
      }
    }
    await Promise.all([...byOffer].map(([offerId, tasks]) => this.scheduler.launch([offerId], tasks)));
    const launched = [...byOffer.values()].reduce((sum, tasks) => sum + tasks.length, 0);
    if (launched > 0) this.options.metrics?.increment('services/tasks_launched', launched);
    const unused = offers.map((offer) => offer.id.value).filter((id) => !byOffer.has(id));
    if (unused.length > 0) await this.scheduler.decline(unused, DECLINE_SECONDS);
    if ((await this.needs()).length === 0) await this.suppress();
  }

  /** Records the launches the app's plan still allows (conditional on its revision), with their TaskInfos. */
  private async record(appId: string, launches: readonly Launch[]): Promise<[Launch, TaskInfo][]> {
    let chosen: [Launch, TaskInfo][] = [];
    await this.engine.mutate(appId, (record, tasks) => {
      const allowed = plan(record, tasks, this.engine.now()).launch;
      chosen = launches.slice(0, allowed).map((launch) => {
        const id = newTaskId(appId, randomUUID());
        return [launch, taskInfo(record.app, id, record.configVersion, launch)];
      });
      if (chosen.length === 0) return undefined;
      const stagedAt = new Date(this.engine.now()).toISOString();
      return {
        tasks: chosen.map(([launch, info]) => ({
          kind: 'task' as const,
          expected: 'absent' as const,
          task: newTask(record, launch, info.task_id.value, stagedAt),
        })),
      };
    });
    return chosen;
  }

  private async update(status: TaskStatus): Promise<void> {
    const outcome = await applyStatus(this.engine, status);
    if (outcome === 'unknown' && !TERMINAL_STATES.has(status.state)) {
      this.options.logger?.warn('Killing a task no app has', { taskId: status.task_id.value });
      await this.scheduler.kill(status.task_id.value, status.agent_id?.value);
      return;
    }
    if (TERMINAL_STATES.has(status.state))
      this.options.metrics?.increment(`services/tasks_${status.state.slice(5).toLowerCase()}`);
    const appId = appIdOfTask(status.task_id.value);
    if (appId !== undefined) await this.converge(appId);
  }

  /** ServicesActions: kill what the plan says, REVIVE where tasks are wanted. */
  async converge(appId: string): Promise<void> {
    const record = await this.engine.store.app(appId);
    if (record === undefined) return;
    const tasks = await this.engine.store.tasks(appId);
    const decided = plan(record, tasks, this.engine.now());
    if (decided.kill.length > 0) await this.kill(record, decided.kill);
    if (decided.launch > 0) await this.wake(record.app.role);
  }

  /** Marks tasks `killing` (their end is no failure), then KILLs them. */
  async kill(record: AppRecord, taskIds: readonly string[]): Promise<void> {
    const written = await this.engine.mutate(record.app.id, (_record, tasks) => {
      const marked = tasks.filter((task) => taskIds.includes(task.id) && !task.killing);
      if (marked.length === 0) return undefined;
      return {
        tasks: marked.map((task) => ({
          kind: 'task' as const,
          task: { ...task, killing: true },
          expected: 'any' as const,
        })),
      };
    });
    const tasks = written?.tasks ?? (await this.engine.store.tasks(record.app.id));
    for (const task of tasks.filter((each) => taskIds.includes(each.id))) {
      await this.scheduler.kill(task.id, task.agentId, killPolicy(record));
    }
  }

  /** Adds the role to the framework's roles if new, and REVIVEs it. */
  async wake(role: string): Promise<void> {
    if (!this.roles.includes(role)) {
      this.roles = [...this.roles, role].sort();
      await this.scheduler.call({
        type: 'UPDATE_FRAMEWORK',
        update_framework: { framework_info: { ...this.info(), id: { value: this.scheduler.frameworkId ?? '' } } },
      });
    }
    const kept = await this.engine.store.state.subscription();
    if (kept && !kept.suppressed.includes(role)) return;
    await this.scheduler.revive([role]);
    if (kept) {
      await this.engine.store.state.putSubscription(
        { ...kept, suppressed: kept.suppressed.filter((each) => each !== role) },
        kept.version,
      );
    }
  }

  /** SUPPRESS every role (no app needs a task); REVIVE comes with the next need. */
  private async suppress(): Promise<void> {
    const kept = await this.engine.store.state.subscription();
    if (kept === undefined || this.roles.every((role) => kept.suppressed.includes(role))) return;
    await this.scheduler.suppress(this.roles);
    await this.engine.store.state.putSubscription({ ...kept, suppressed: [...this.roles] }, kept.version);
  }
}

function placeOf(task: TaskRecord) {
  return { hostname: task.host, attributes: task.attributes };
}

function killPolicy(record: AppRecord) {
  const grace = record.app.taskKillGracePeriodSeconds;
  return grace === undefined ? undefined : { grace_period: { nanoseconds: Math.round(grace * 1e9) } };
}

function newTask(record: AppRecord, launch: Launch, id: string, stagedAt: string): TaskRecord {
  return {
    id,
    appId: record.app.id,
    version: record.configVersion,
    agentId: launch.offer.agentId,
    host: launch.offer.hostname,
    ports: launch.ports,
    attributes: launch.offer.attributes,
    state: 'TASK_STAGING',
    healthy: null,
    stagedAt,
    startedAt: null,
    killing: false,
    consecutiveFailures: 0,
    lastFailure: null,
    lastSuccess: null,
  };
}
