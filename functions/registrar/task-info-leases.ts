/**
 * A TaskInfo item's lease (docs/registrar.md, "Tasks"): the item is written at launch with an expiry that outlasts
 * the finished row's retention for a task that ends within a renewal period, so such a task's end writes nothing to
 * it (its expiry was one write unit a task); the sweeper renews a running task's lease once a period, and the end of
 * a task that ran longer gives its TaskInfo the row's expiry (tasks.ts).
 */
import { mapConcurrently } from '#shared/collections.js';
import type { RegistrarContext } from './context.js';
import { epochSeconds, Expression } from './expression.js';
import { rowKey } from './task-items.js';

/** How long finished tasks are kept for reconciliation and history (Mesos keeps a bounded list). */
export const FINISHED_RETENTION_MS = 7 * 24 * 3600 * 1000;

/** How often a running task's TaskInfo lease is renewed (by the sweeper: functions/fleet/sweeper.ts). */
export const INFO_RENEWAL_MS = 24 * 3600 * 1000;

/**
 * A TaskInfo item's lease from its launch or its latest renewal: the finished row's retention and two renewal
 * periods, so a task that ends within one period keeps its TaskInfo as long as its row (and a day or two more)
 * without another write, and a missed renewal loses nothing.
 */
export const INFO_LEASE_MS = FINISHED_RETENTION_MS + 2 * INFO_RENEWAL_MS;

/** TaskInfo renewals in flight at once. */
const RENEWALS_IN_FLIGHT = 8;

/** The lease a task's TaskInfo took at launch (`createdAt`) outlasts the row of a task that ends `now`. */
export function infoOutlivesRow(createdAt: number, now: number): boolean {
  return now - createdAt < INFO_RENEWAL_MS;
}

/**
 * Renews the TaskInfo leases of these running tasks: reads their items' expiry eventually consistently (half the
 * units; a stale one costs a write that changes nothing) and writes a full lease from now where less than the lease
 * less half a period is left, or none is (an item written before leases). An item that is gone gets no stub.
 * Returns how many were renewed.
 */
export async function renewInfoLeases(
  context: RegistrarContext,
  keys: ReadonlyArray<{ readonly frameworkId: string; readonly taskId: string }>,
): Promise<number> {
  if (keys.length === 0) return 0;
  const table = context.tables.taskinfos;
  const now = context.now();
  const lease = epochSeconds(now + INFO_LEASE_MS);
  const dueBelow = epochSeconds(now + INFO_LEASE_MS - INFO_RENEWAL_MS / 2);
  const items = await context.batchGet(
    table,
    keys.map((key) => rowKey(key.frameworkId, key.taskId)),
    { attributes: ['framework_id', 'task_id', 'expires_at'] },
  );
  const due = items.filter((item) => typeof item.expires_at !== 'number' || item.expires_at < dueBelow);
  const written = await mapConcurrently(due, RENEWALS_IN_FLIGHT, async (item) => {
    const x = new Expression();
    const expiry = x.name('expires_at');
    const outcome = await context.update(
      {
        TableName: table,
        Key: rowKey(item.framework_id as string, item.task_id as string),
        UpdateExpression: `SET ${expiry} = ${x.value(lease)}`,
        // Never shortens a lease (a relaunch of the id may have written a later one meanwhile).
        ConditionExpression:
          `attribute_exists(${x.name('task_id')}) AND ` +
          `(attribute_not_exists(${expiry}) OR ${expiry} < ${x.value(lease)})`,
        ...x.attributes(),
      },
      'NONE',
    );
    return outcome.written;
  });
  return written.filter(Boolean).length;
}
