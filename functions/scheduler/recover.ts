/**
 * Resources an offer held and the framework did not use (DECLINE, the rest of an ACCEPT) go back to the
 * allocator behind a refused-offer filter for that framework (Mesos `RefusedOfferFilter`; see
 * functions/allocator/filters.ts).
 */
import type { Resource } from '#shared/protocol/mesos.js';
import { mergeFilters, refusalFilter } from '../allocator/filters.js';
import type { Master } from '../master/master.js';

/**
 * Recovered resources get a refused-offer filter for the framework (refuse_seconds: default 5 s, capped
 * at a year, 0 = none), and the allocator is told: now, for the other frameworks, and when the filter
 * expires, for this one.
 */
export async function installFilters(
  master: Pick<Master, 'registrar' | 'allocation' | 'now'>,
  frameworkId: string,
  refuseSeconds: number | undefined,
  recovered: ReadonlyArray<{ role: string; agentId: string; resources: Resource[] }>,
): Promise<void> {
  const now = master.now();
  const filters = mergeFilters(
    recovered.flatMap(
      (entry) => refusalFilter({ ...entry, ...(refuseSeconds !== undefined ? { refuseSeconds } : {}), now }) ?? [],
    ),
  );
  if (filters.length > 0) await master.registrar.filters.put(frameworkId, filters);
  const agentIds = [...new Set(recovered.map((entry) => entry.agentId))];
  await master.allocation.request({ reason: 'RESOURCES_RECOVERED', agentIds });
  const expiry = filters[0]?.expiresAt;
  if (expiry !== undefined) {
    await master.allocation.request({ reason: 'FILTER_EXPIRED', agentIds, frameworkId }, (expiry - now) / 1000);
  }
}
