/**
 * The Services timer: what waits for a time rather than an event. Locally a timer in the local cluster (about
 * every second); in AWS an EventBridge schedule invokes `servicesTickerHandler`. One tick, for every app:
 * - converge: kill what its plan says to kill, REVIVE its role where it needs tasks (a backoff that ended);
 * - a deployment whose plan is done ends (a write with no change settles it);
 * - kills not yet answered are sent again (every few seconds; when each was sent is kept in memory, only for
 *   the tasks still being killed, or for KILL_MEMORY_MS where the app could not be read);
 * - tasks recorded but unheard of (a handler that died before or after its ACCEPT) are reconciled explicitly, as
 *   Jobs does (common/reconciliation.ts): first FIRST_CHECK_MS after they were recorded, then twice as late each
 *   time, every app's due tasks in batched RECONCILE calls; each task's next check is kept with it in the table.
 *   The master answers TASK_GONE for one never launched, and the plan replaces it.
 * Every step is idempotent: two timers at once, or one dying half way, do no harm.
 */
import { checkAgain, FIRST_CHECK_MS, reconcileInBatches } from '../common/reconciliation.js';
import type { ServicesFramework } from './framework.js';
import { plan, type AppRecord, type TaskRecord } from './plan.js';

/** How long a recorded task may go unheard of before it is reconciled. */
export const LAUNCH_CHECK_MS = FIRST_CHECK_MS;
/** How often a kill is sent again while the task lives. */
export const KILL_AGAIN_MS = 5_000;
/** A kill remembered for an app the timer could not read (a failed step) is forgotten after this long. */
export const KILL_MEMORY_MS = 10 * 60_000;

export interface TickSummary {
  readonly apps: number;
  readonly reconciled: number;
  readonly killed: number;
}

/** When an unheard-of task is due for reconciliation. */
export function checkDue(task: TaskRecord, launchCheckMs: number): number {
  return task.check?.until ?? Date.parse(task.stagedAt) + launchCheckMs;
}

export class ServicesTicker {
  private running: Promise<TickSummary> | undefined;
  /** Task id → its app and when its kill was last sent (by this timer, or first seen being killed). */
  private readonly killSent = new Map<string, { appId: string; at: number }>();

  constructor(
    private readonly framework: ServicesFramework,
    private readonly launchCheckMs = LAUNCH_CHECK_MS,
  ) {}

  tick(): Promise<TickSummary> {
    this.running ??= this.run().finally(() => (this.running = undefined));
    return this.running;
  }

  async idle(): Promise<void> {
    await this.running?.catch(() => undefined);
  }

  /** How many kills this timer remembers (bounded: the tasks still being killed). */
  get rememberedKills(): number {
    return this.killSent.size;
  }

  private async run(): Promise<TickSummary> {
    const { engine } = this.framework;
    const now = engine.now();
    const records = await engine.store.apps();
    const killing = new Set<string>();
    const read = new Set<string>();
    const unheard: Array<{ record: AppRecord; tasks: TaskRecord[] }> = [];
    let killed = 0;
    for (const record of records) {
      try {
        const tasks = await engine.store.tasks(record.app.id);
        read.add(record.app.id);
        await this.settle(record, tasks);
        await this.framework.converge(record.app.id);
        for (const task of tasks) if (task.killing) killing.add(task.id);
        killed += await this.killAgain(record, tasks, now);
        const due = tasks.filter((t) => t.state === 'TASK_STAGING' && checkDue(t, this.launchCheckMs) <= now);
        if (due.length > 0) unheard.push({ record, tasks: due });
      } catch (error) {
        engine.logger?.error('Services timer step failed', { app: record.app.id, error: String(error) });
      }
    }
    this.forgetKills(killing, read, new Set(records.map((record) => record.app.id)), now);
    const reconciled = await this.reconcile(unheard, now);
    return { apps: records.length, reconciled, killed };
  }

  private async settle(record: AppRecord, tasks: readonly TaskRecord[]): Promise<void> {
    const { engine } = this.framework;
    const done = record.deployment !== null && plan(record, tasks, engine.now()).done;
    if (done || (record.deleting && tasks.length === 0)) await engine.mutate(record.app.id, () => ({}));
  }

  private async killAgain(record: AppRecord, tasks: readonly TaskRecord[], now: number): Promise<number> {
    const appId = record.app.id;
    const due = tasks.filter((task) => task.killing && now - (this.killSent.get(task.id)?.at ?? now) >= KILL_AGAIN_MS);
    for (const task of tasks.filter((each) => each.killing && !this.killSent.has(each.id)))
      this.killSent.set(task.id, { appId, at: now });
    if (due.length === 0) return 0;
    for (const task of due) this.killSent.set(task.id, { appId, at: now });
    await this.framework.kill(
      record,
      due.map((task) => task.id),
    );
    return due.length;
  }

  /**
   * Forgets the kills of tasks no longer being killed (ended, or their app gone); those of an app this tick could
   * not read are kept, up to KILL_MEMORY_MS.
   */
  private forgetKills(
    killing: ReadonlySet<string>,
    read: ReadonlySet<string>,
    apps: ReadonlySet<string>,
    now: number,
  ): void {
    for (const [taskId, sent] of this.killSent) {
      const unread = apps.has(sent.appId) && !read.has(sent.appId);
      const keep = unread ? now - sent.at <= KILL_MEMORY_MS : killing.has(taskId);
      if (!keep) this.killSent.delete(taskId);
    }
  }

  /** RECONCILE the due tasks (batched), then set each one's next check where it is still unheard of. */
  private async reconcile(unheard: ReadonlyArray<{ record: AppRecord; tasks: TaskRecord[] }>, now: number) {
    const { engine } = this.framework;
    const tasks = unheard.flatMap((each) => each.tasks.map((task) => ({ taskId: task.id, agentId: task.agentId })));
    if (tasks.length === 0) return 0;
    try {
      await reconcileInBatches(this.framework.scheduler, tasks);
      engine.store.metrics.increment('services/tasks_reconciled', tasks.length);
      for (const { record, tasks: due } of unheard) {
        const ids = new Set(due.map((task) => task.id));
        await engine.mutate(record.app.id, (_record, current) => {
          const still = current.filter((task) => ids.has(task.id) && task.state === 'TASK_STAGING');
          if (still.length === 0) return undefined;
          return {
            tasks: still.map((task) => ({
              kind: 'task' as const,
              expected: 'any' as const,
              task: { ...task, check: checkAgain(task.check?.every, now, this.launchCheckMs) },
            })),
          };
        });
      }
    } catch (error) {
      engine.logger?.error('Services timer step failed', {
        step: 'reconcile',
        tasks: tasks.length,
        error: String(error),
      });
    }
    return tasks.length;
  }
}
