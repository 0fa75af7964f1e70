/**
 * The Jobs timer: what waits for a time rather than an event. Locally a timer in the local cluster (about every
 * second); in AWS an EventBridge schedule invokes `jobsTickerHandler` (handlers.ts). One tick:
 * - retries whose backoff ended become placeable; scheduled jobs' due ticks create their runs (missed ticks once);
 * - attempts past their timeout, cancelled jobs' tasks and broken gangs are killed (again every few seconds
 *   until their tasks have ended);
 * - attempts recorded but never heard of (a handler that died before or after its ACCEPT) are reconciled
 *   explicitly: the master answers for the task id (TASK_GONE for one never launched: retried, free);
 * - dependency waits and array expansions a dead handler left are finished;
 * - offers held for gangs past twice their bound are declined; suppressed queues with work are revived;
 * - the pending demand goes to the master as a REQUEST per resource shape (the fleet scales on it), read every
 *   few seconds;
 * - a queue the allocator offers nothing gets the allocator's reason on its head (its quota, in the contract's
 *   words "the queue's quota"), read every few seconds.
 * Every step is bounded and idempotent: two timers firing at once, or one dying half way, do no harm.
 */
import { mapConcurrently } from '#shared/collections.js';
import type { Request as MesosRequest } from '#shared/protocol/mesos.js';
import { scalarResource } from '#shared/resources/resource.js';
import { flatten, quantities } from '#shared/resources/resources.js';
import { TERMINAL_STATES } from '#shared/tasks/state-machine.js';
import { checkAgain, reconcileInBatches } from '../common/reconciliation.js';
import { attemptGroups, tasksToKill } from './lifecycle.js';
import { expandArray, tickSchedule } from './children.js';
import { leafWait } from './engine.js';
import type { JobsFramework } from './framework.js';
import { behind, describeDemand, type PendingReason as JobPendingReason } from './placement.js';
import { writeReasons, type OffersContext, type OffersOutcome } from './offers.js';
import type { PendingReason } from '../../sdk/pending.js';
import { DEFAULT_QUEUE } from './model.js';
import type { StoredJob, Wait, WaitKind } from './store.js';
/** Jobs looked at per kind of wait per tick. */
const TICK_LIMIT = 100;
/** How often a kill is sent again while the task lives. */
const KILL_AGAIN_MS = 5_000;
/** Jobs read or written at once by a timer step. */
const STEP_CONCURRENCY = 8;
/** A REQUEST is re-sent at least this often while demand lasts (the fleet forgets older ones). */
const REQUEST_REFRESH_MS = 60_000;
/**
 * How often the pending demand is read again (200 jobs per queue): on every tick it was the timer's largest read
 * under a backlog, for a signal the fleet acts on far more slowly.
 */
export const DEMAND_CHECK_MS = 5_000;
/** How often the allocator's reasons for the queues it offers nothing are read (one call). */
export const ALLOCATOR_REASONS_MS = 5_000;
/** How long after an offer for a queue the allocator's reasons leave it alone (two reads of them). */
const OFFERED_LATELY_MS = 2 * ALLOCATOR_REASONS_MS;
/** The allocator's reasons that are this framework's own doing (its SUPPRESS, its declines' filters): not written. */
const OWN_DOING: ReadonlySet<string> = new Set(['SUPPRESSED', 'FILTERED']);
/** Jobs at the head of a queue given a reason from the allocator's, per queue and tick. */
const REASON_HEAD = 25;

export interface TickSummary {
  readonly released: number;
  readonly runs: number;
  readonly killed: number;
  readonly reconciled: number;
  readonly requests: number;
  /** Pending reasons written from the allocator's. */
  readonly reasons: number;
}

/**
 * The next check of a launch nobody heard of: twice as late as the last, up to a bound (common/reconciliation.ts),
 * as Mesos advises for reconciliation. Under a backlog the answers come late, and asking again at once only adds
 * to it.
 */
export function launchCheckAgain(wait: Wait, now: number, launchCheckMs: number): Wait {
  return { kind: 'launch', ...checkAgain(wait.every, now, launchCheckMs) };
}

export class JobsTicker {
  private lastDemand = '';
  private lastRequestAt = 0;
  private lastDemandCheckAt = Number.NEGATIVE_INFINITY;
  private lastReasonsAt = Number.NEGATIVE_INFINITY;
  private running: Promise<TickSummary> | undefined;

  constructor(private readonly framework: JobsFramework) {}

  /** One tick; a tick asked for while one runs joins it. */
  tick(): Promise<TickSummary> {
    this.running ??= this.run().finally(() => (this.running = undefined));
    return this.running;
  }

  /** Resolves once no tick runs. */
  async idle(): Promise<void> {
    await this.running?.catch(() => undefined);
  }

  private async run(): Promise<TickSummary> {
    const { engine } = this.framework;
    const now = engine.now();
    const woken = new Set<string>();
    const released = await this.each('retry', now, async (stored) => {
      const written = await engine.mutate(stored.job.id, (current) =>
        current.wait?.kind === 'retry' && current.wait.until <= now ? { ...current, wait: null } : undefined,
      );
      if (written) woken.add(written.job.queue);
    });
    const runs = await this.each('schedule', now, async (stored) => {
      const run = await tickSchedule(engine, stored.job.id);
      if (run) woken.add(run.job.queue);
    });
    await this.each('deps', now, (stored) => engine.evaluateDependencies(stored.job.id));
    await this.each('expand', now, (stored) => expandArray(engine, stored, false));
    const killed =
      (await this.each('timeout', now, (stored) => this.kill(stored, now))) +
      (await this.each('kill', now, (stored) => this.kill(stored, now)));
    const reconciled = await this.reconcileUnheard(now);
    if (woken.size > 0) await this.framework.wake([...woken]);
    await this.declineExpiredHolds(now);
    await this.reviveWhereWaiting();
    const requests = await this.request(now);
    const reasons = await this.allocatorReasons(now);
    return { released, runs, killed, reconciled, requests, reasons };
  }

  private async each(kind: WaitKind, now: number, work: (stored: StoredJob) => Promise<unknown>): Promise<number> {
    const due = await this.framework.engine.store.waiting(kind, now, TICK_LIMIT);
    for (const stored of due) {
      try {
        await work(stored);
      } catch (error) {
        this.framework.engine.logger?.error('Jobs timer step failed', {
          kind,
          job: stored.job.id,
          error: String(error),
        });
      }
    }
    return due.length;
  }

  /** Kills a job's live tasks (timeout, cancel, a broken gang) and looks again in a few seconds until they end. */
  private async kill(stored: StoredJob, now: number): Promise<void> {
    const { engine } = this.framework;
    const full = await engine.store.get(stored.job.id, { attempts: true });
    if (full === undefined) return;
    const reason = tasksToKill(full.job, now);
    if (reason) engine.logger?.info('Killing job tasks', { job: full.job.id, reason: reason.reason });
    await this.framework.kill(full.job.id);
    await engine.mutate(
      full.job.id,
      (current) => {
        const alive = (attemptGroups(current.job.attempts).at(-1) ?? []).some((t) => !TERMINAL_STATES.has(t.state));
        const wait = alive ? { kind: 'kill' as const, until: now + KILL_AGAIN_MS } : leafWait(current.job, null, now);
        return JSON.stringify(wait) === JSON.stringify(current.wait) ? undefined : { ...current, wait };
      },
      { attempts: true },
    );
  }

  /**
   * Asks the master (RECONCILE calls of up to 1,000 tasks) about the attempts' tasks not heard of since they
   * were recorded, and sets each job's next check (launchCheckAgain).
   */
  private async reconcileUnheard(now: number): Promise<number> {
    const { engine } = this.framework;
    const due = await engine.store.waiting('launch', now, TICK_LIMIT);
    if (due.length === 0) return 0;
    try {
      const full = await mapConcurrently(due, STEP_CONCURRENCY, (stored) =>
        engine.store.get(stored.job.id, { attempts: true }),
      );
      const unheard = full.flatMap((stored) =>
        (attemptGroups(stored?.job.attempts ?? []).at(-1) ?? []).filter((task) => task.state === 'TASK_STAGING'),
      );
      const tasks = unheard.map((task) => ({
        taskId: task.task_id,
        ...(task.agent_id ? { agentId: task.agent_id } : {}),
      }));
      await reconcileInBatches(this.framework.scheduler, tasks);
      if (tasks.length > 0) engine.store.metrics.increment('jobs/attempts_reconciled', tasks.length);
      await mapConcurrently(due, STEP_CONCURRENCY, (stored) =>
        engine.mutate(stored.job.id, (current) =>
          current.wait?.kind === 'launch'
            ? { ...current, wait: launchCheckAgain(current.wait, now, engine.launchCheckMs) }
            : undefined,
        ),
      );
    } catch (error) {
      engine.logger?.error('Jobs timer step failed', { kind: 'launch', jobs: due.length, error: String(error) });
    }
    return due.length;
  }

  private async declineExpiredHolds(now: number): Promise<void> {
    const { store } = this.framework.engine;
    const expired = (await store.held()).filter((held) => now - held.since > 2 * this.framework.settings.gangHoldMs);
    if (expired.length === 0) return;
    const ids = expired.map((held) => held.offer.id);
    await store.releaseHeld(ids);
    await this.framework.scheduler.decline(ids, this.framework.settings.declineSeconds);
  }

  /** A queue suppressed while work waits in it (a race between SUPPRESS and a submission) is revived. */
  private async reviveWhereWaiting(): Promise<void> {
    const { store } = this.framework.engine;
    const kept = await store.subscription();
    if (kept === undefined || kept.suppressed.length === 0) return;
    const waiting: string[] = [];
    for (const queue of kept.suppressed) if ((await store.pending(queue, 1)).length > 0) waiting.push(queue);
    if (waiting.length > 0) await this.framework.wake(waiting);
  }

  /**
   * A queue the allocator offers nothing gets no OFFERS event to say why its jobs wait: its head is given the
   * allocator's reason (its quota, GPU agents, fair share) and the jobs behind it their place, each written only
   * when its kind changes (offers.reasonKind). SUPPRESSED is skipped: nothing waits there. So is FILTERED: the
   * filters are this framework's own declines, and the offer round that declined wrote why its jobs wait (the
   * queue's quota, the resources); the allocator's word for it would overwrite that every few seconds.
   */
  private async allocatorReasons(now: number): Promise<number> {
    if (now - this.lastReasonsAt < ALLOCATOR_REASONS_MS) return 0;
    this.lastReasonsAt = now;
    const { engine } = this.framework;
    try {
      // A queue offered something lately is not one the allocator offers nothing: the offer round wrote why its
      // jobs wait, and the allocator's word, from a pass that ran while that offer was still held, would overwrite it.
      const offeredLately = (role: string) =>
        now - (this.framework.offeredAt.get(role) ?? -Infinity) < OFFERED_LATELY_MS;
      const reasons = (await this.framework.scheduler.pendingReasons()).filter(
        (each) => !OWN_DOING.has(each.code) && !offeredLately(each.role),
      );
      let written = 0;
      for (const reason of reasons) {
        const queue = reason.role;
        const head = await engine.store.pending(queue, REASON_HEAD);
        const placement = new Map(
          head.map((stored, index) => [stored.job.id, index === 0 ? allocatorReason(reason) : behind(queue, index, 0)]),
        );
        const outcome = { placement: { pending: placement }, pending: new Map(head.map((s) => [s.job.id, s])) };
        written += await writeReasons(
          { engine, settings: { ...this.framework.settings, reasonWrites: REASON_HEAD } } as OffersContext,
          outcome as unknown as OffersOutcome,
        );
      }
      return written;
    } catch (error) {
      engine.logger?.warn('Pending reasons not read', { error: String(error) });
      return 0;
    }
  }

  /** REQUEST: the placeable jobs' demand per resource shape, when it changed (or to keep it fresh). */
  private async request(now: number): Promise<number> {
    if (now - this.lastDemandCheckAt < DEMAND_CHECK_MS) return 0;
    this.lastDemandCheckAt = now;
    const { store } = this.framework.engine;
    const queues = new Set([DEFAULT_QUEUE, ...(await store.queues())]);
    const pending = (await Promise.all([...queues].map((queue) => store.pending(queue, 200)))).flat();
    const requests = pendingDemand(pending);
    const key = JSON.stringify(requests);
    if (key === this.lastDemand && (requests.length === 0 || now - this.lastRequestAt < REQUEST_REFRESH_MS)) return 0;
    try {
      await this.framework.scheduler.request(requests);
      this.lastDemand = key;
      this.lastRequestAt = now;
    } catch (error) {
      this.framework.engine.logger?.warn('REQUEST refused', { error: String(error) });
    }
    return requests.length;
  }
}

/** A queue's head's reason from the allocator's: its quota in the contract's words, the rest as the allocator says. */
export function allocatorReason(reason: Pick<PendingReason, 'code' | 'message'>): JobPendingReason {
  return reason.code === 'QUOTA_LIMIT_REACHED'
    ? { code: 'QUOTA', message: `the queue's quota: ${reason.message}` }
    : { code: 'NO_OFFERS', message: `the allocator's reason: ${reason.message}` };
}

/**
 * The demand of pending jobs as Mesos requests: one per resource shape, its resources what one task asks for
 * and Mantle's `count` the tasks that wait for it (a gang of N counts N), as the fleet reads them. At most 100
 * shapes.
 */
export function pendingDemand(jobs: readonly StoredJob[]): MesosRequest[] {
  const shapes = new Map<string, { need: Record<string, number>; count: number }>();
  for (const { job } of jobs) {
    const need = quantities(flatten(job.resources));
    const key = describeDemand(need);
    const shape = shapes.get(key) ?? { need, count: 0 };
    shape.count += job.gang ?? 1;
    shapes.set(key, shape);
  }
  return [...shapes.entries()]
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .slice(0, 100)
    .map(([, shape]) => ({
      resources: Object.entries(shape.need).map(([name, value]) => scalarResource(name, value)),
      count: shape.count,
    }));
}
