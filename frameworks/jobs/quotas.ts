/**
 * The quota of the queues an offer batch is for, as placement needs it: each queue's quota limits and what
 * its role's tasks hold now. The allocator enforces limits on the resources it offers, but a quota that caps
 * only some resources (cpus) still lets the rest (mem, disk) be offered to the queue; without its quota,
 * placement would call a job that the quota holds back "no agent with the resources".
 *
 * Read once per offer batch, only for the queues offered; the consumption only for those with limits. A
 * failed read places without quotas (the allocator still enforces them) and is logged.
 */
import type { Logger } from '#shared/log.js';
import type { Quantities } from '#shared/resources/resources.js';
import { queueRole } from './model.js';
import type { QueueQuota } from './placement.js';

/** Where the master keeps quota: the roles' limits, and what their tasks hold (as the master counts them). */
export interface QuotaSource {
  /** The quota limits of each role that has any; a role without limits is absent. */
  limits(roles: readonly string[]): Promise<ReadonlyMap<string, Quantities>>;
  /** What each role's tasks (and its subroles') hold now, by resource name. */
  consumption(roles: readonly string[]): Promise<ReadonlyMap<string, Quantities>>;
}

/** The quotas of these queues (those with limits), keyed by queue; empty when unread. */
export async function queueQuotas(
  source: QuotaSource | undefined,
  queues: readonly string[],
  logger?: Logger,
): Promise<Map<string, QueueQuota>> {
  const quotas = new Map<string, QueueQuota>();
  if (source === undefined || queues.length === 0) return quotas;
  try {
    const roles = [...new Set(queues.map(queueRole))];
    const limits = await source.limits(roles);
    const limited = roles.filter((role) => Object.keys(limits.get(role) ?? {}).length > 0);
    if (limited.length === 0) return quotas;
    const used = await source.consumption(limited);
    for (const queue of queues) {
      const role = queueRole(queue);
      const limit = limits.get(role);
      if (limit === undefined || !limited.includes(role)) continue;
      quotas.set(queue, { limits: limit, used: used.get(role) ?? {} });
    }
  } catch (error) {
    logger?.warn('Queue quotas not read: placing without them', { queues, error: String(error) });
    quotas.clear();
  }
  return quotas;
}
