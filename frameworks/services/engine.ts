/**
 * How an app's record moves, over the store: read the app and its tasks → decide → one transaction
 * conditional on the app's revision (the task items it records or removes in it), retried when another handler
 * wrote first. After every change a deployment whose plan is done ends (deployment_success), and an app being
 * deleted whose last task has ended is removed. Shared by the API's service, the framework and the timer.
 */
import type { Logger } from '#shared/log.js';
import { plan, type AppRecord, type TaskRecord } from './plan.js';
import type { BusEvent, ServicesStore, ServicesWrite } from './store.js';
import { deploymentEvent } from './views.js';

const WRITE_ATTEMPTS = 16;

/** What a change does: the app's next record (or its removal), task writes, and events for the bus. */
export interface Change {
  readonly record?: AppRecord;
  readonly tasks?: readonly ServicesWrite[];
  readonly events?: readonly BusEvent[];
}

export interface Changed {
  readonly record: AppRecord | undefined;
  readonly tasks: TaskRecord[];
}

/** The tasks after a change's task writes. */
function tasksAfter(tasks: readonly TaskRecord[], writes: readonly ServicesWrite[]): TaskRecord[] {
  const byId = new Map(tasks.map((task) => [task.id, task]));
  for (const write of writes) {
    if (write.kind === 'task') byId.set(write.task.id, write.task);
    if (write.kind === 'delete-task') byId.delete(write.taskId);
  }
  return [...byId.values()];
}

export class ServicesEngine {
  constructor(
    readonly store: ServicesStore,
    readonly now: () => number,
    readonly logger?: Logger,
  ) {}

  /** A fresh app version (ISO 8601), always later than `after`. */
  nextVersion(after?: string): string {
    const now = this.now();
    const floor = after === undefined ? 0 : Date.parse(after) + 1;
    return new Date(Math.max(now, floor)).toISOString();
  }

  /**
   * Applies `change` to the app as it is now (undefined from `change`: nothing to do), conditional on its
   * revision, retrying on a lost race. Resolves with what was written, or undefined.
   */
  async mutate(
    appId: string,
    change: (record: AppRecord, tasks: readonly TaskRecord[]) => Change | undefined,
  ): Promise<Changed | undefined> {
    for (let round = 0; round < WRITE_ATTEMPTS; round++) {
      const record = await this.store.app(appId);
      if (record === undefined) return undefined;
      const tasks = await this.store.tasks(appId);
      const decided = change(record, tasks);
      if (decided === undefined) return undefined;
      const taskWrites = decided.tasks ?? [];
      const after = tasksAfter(tasks, taskWrites);
      const settled = this.settle({ ...(decided.record ?? record), revision: record.revision + 1 }, after);
      const appWrite: ServicesWrite = settled.remove
        ? { kind: 'delete-app', id: appId, expected: record.revision }
        : { kind: 'app', record: settled.record, expected: record.revision };
      if (!(await this.store.transact([appWrite, ...taskWrites]))) {
        await jitter(round);
        continue;
      }
      for (const event of [...(decided.events ?? []), ...settled.events]) {
        await this.store.publish(event, this.now(), settled.record.app.role);
      }
      return { record: settled.remove ? undefined : settled.record, tasks: after };
    }
    throw new Error(`App ${appId} kept changing; the update gave up`);
  }

  /** A deployment that is done ends; an app being deleted without tasks goes. */
  private settle(record: AppRecord, tasks: readonly TaskRecord[]) {
    const events: BusEvent[] = [];
    const now = this.now();
    if (record.deleting && tasks.length === 0) {
      if (record.deployment) events.push(deploymentEvent('deployment_success', record, record.deployment, now));
      events.push({ eventType: 'app_terminated_event', appId: record.app.id, timestamp: new Date(now).toISOString() });
      return { record, remove: true, events };
    }
    if (record.deployment && plan(record, tasks, now).done) {
      events.push(deploymentEvent('deployment_success', record, record.deployment, now));
      this.logger?.info('Deployment done', { app: record.app.id, deployment: record.deployment.id });
      return { record: { ...record, deployment: null }, remove: false, events };
    }
    return { record, remove: false, events };
  }

  /** Creates an app nobody else can have yet (false: one with that id exists). */
  async create(record: AppRecord, events: readonly BusEvent[]): Promise<boolean> {
    const written = await this.store.transact([{ kind: 'app', record, expected: 'absent' }]);
    if (written) for (const event of events) await this.store.publish(event, this.now(), record.app.role);
    return written;
  }
}

async function jitter(round: number): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, Math.random() * Math.min(50, 2 ** round)));
}
