/**
 * The Services timer: what waits for a time rather than an event. Locally a timer in the local cluster (about
 * every second); in AWS an EventBridge schedule invokes `servicesTickerHandler`. One tick, for every app:
 * - converge: kill what its plan says to kill, REVIVE its role where it needs tasks (a backoff that ended);
 * - a deployment whose plan is done ends (a write with no change settles it);
 * - kills not yet answered are sent again (every few seconds), and tasks recorded but unheard of (a handler
 *   that died before or after its ACCEPT) are reconciled explicitly: the master answers TASK_GONE for one
 *   never launched, and the plan replaces it.
 * Every step is idempotent: two timers at once, or one dying half way, do no harm.
 */
import type { ServicesFramework } from './framework.js';
import { plan, type AppRecord, type TaskRecord } from './plan.js';

/** How long a recorded task may go unheard of before it is reconciled. */
export const LAUNCH_CHECK_MS = 20_000;
/** How often a kill is sent again while the task lives. */
const KILL_AGAIN_MS = 5_000;

export interface TickSummary {
  readonly apps: number;
  readonly reconciled: number;
  readonly killed: number;
}

export class ServicesTicker {
  private running: Promise<TickSummary> | undefined;
  private readonly killSent = new Map<string, number>();

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

  private async run(): Promise<TickSummary> {
    const { engine } = this.framework;
    const records = await engine.store.apps();
    let reconciled = 0;
    let killed = 0;
    for (const record of records) {
      try {
        const tasks = await engine.store.tasks(record.app.id);
        await this.settle(record, tasks);
        await this.framework.converge(record.app.id);
        killed += await this.killAgain(record, tasks);
        reconciled += await this.reconcile(tasks);
      } catch (error) {
        engine.logger?.error('Services timer step failed', { app: record.app.id, error: String(error) });
      }
    }
    return { apps: records.length, reconciled, killed };
  }

  private async settle(record: AppRecord, tasks: readonly TaskRecord[]): Promise<void> {
    const { engine } = this.framework;
    const done = record.deployment !== null && plan(record, tasks, engine.now()).done;
    if (done || (record.deleting && tasks.length === 0)) await engine.mutate(record.app.id, () => ({}));
  }

  private async killAgain(record: AppRecord, tasks: readonly TaskRecord[]): Promise<number> {
    const now = this.framework.engine.now();
    const due = tasks.filter((task) => task.killing && now - (this.killSent.get(task.id) ?? now) >= KILL_AGAIN_MS);
    for (const task of tasks.filter((each) => each.killing && !this.killSent.has(each.id)))
      this.killSent.set(task.id, now);
    if (due.length === 0) return 0;
    for (const task of due) this.killSent.set(task.id, now);
    await this.framework.kill(
      record,
      due.map((task) => task.id),
    );
    return due.length;
  }

  private async reconcile(tasks: readonly TaskRecord[]): Promise<number> {
    const now = this.framework.engine.now();
    const unheard = tasks.filter(
      (task) => task.state === 'TASK_STAGING' && now - Date.parse(task.stagedAt) > this.launchCheckMs,
    );
    if (unheard.length === 0) return 0;
    await this.framework.scheduler.reconcile(unheard.map((task) => ({ taskId: task.id, agentId: task.agentId })));
    return unheard.length;
  }
}
