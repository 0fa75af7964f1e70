/**
 * Explicit reconciliation of the tasks a hosted framework recorded but never heard of (a handler that died
 * before or after its ACCEPT), shared by Mantle Jobs and Mantle Services: the first question after a long wait
 * (the framework's own queue may hold the answer, and a backlog makes every launch look late), then twice as late
 * each time up to a bound, as Mesos advises for reconciliation; the questions go in RECONCILE calls of a bounded
 * size (the master takes up to 10,000 tasks a call).
 */
import type { QueueScheduler } from '../../sdk/queue-scheduler.js';

/**
 * How long a recorded task may go without a word from the master before the timer asks. Long enough that a
 * backlog on the framework's own queue (its updates wait there) does not make every launch look lost (Marathon
 * gives a launch 5 minutes); a handler that died before its ACCEPT costs that long once.
 */
export const FIRST_CHECK_MS = 120_000;
/** The longest wait between two reconciliations of a task nobody heard of. */
export const RECONCILE_MAX_MS = 300_000;
/** Tasks per RECONCILE call. */
export const RECONCILE_BATCH = 1_000;

/** A task's next check: `until` (epoch ms), after waiting `every`. */
export interface Check {
  readonly until: number;
  readonly every: number;
}

/** The check after one made at `now`: twice as late as the last (`every`, or the first wait), up to the bound. */
export function checkAgain(every: number | undefined, now: number, firstMs: number): Check {
  const next = Math.min(2 * (every ?? firstMs), RECONCILE_MAX_MS);
  return { until: now + next, every: next };
}

/** Asks the master about these tasks, RECONCILE_BATCH at a time; resolves with how many were asked about. */
export async function reconcileInBatches(
  scheduler: Pick<QueueScheduler, 'reconcile'>,
  tasks: ReadonlyArray<{ taskId: string; agentId?: string }>,
): Promise<number> {
  for (let start = 0; start < tasks.length; start += RECONCILE_BATCH) {
    await scheduler.reconcile(tasks.slice(start, start + RECONCILE_BATCH));
  }
  return tasks.length;
}
