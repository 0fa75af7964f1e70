/**
 * DECLINE: the offers' resources go back, filtered for this framework for refuse_seconds. Offers that
 * are gone are ignored, as Mesos ignores them; offers of other frameworks are not touched.
 */
import { groupBy } from '#shared/collections.js';
import { agentIdOfOffer } from '#shared/ids.js';
import type { Resource } from '#shared/protocol/mesos.js';
import type { FrameworkRecord } from '../registrar/index.js';
import type { Master } from '../master/master.js';
import { installFilters } from './recover.js';
import { ACCEPTED, type CallResponse } from './responses.js';
import type { CallOf } from './validation.js';

export async function decline(
  master: Pick<Master, 'registrar' | 'allocation' | 'metrics' | 'now'>,
  framework: FrameworkRecord,
  call: CallOf<'DECLINE'>,
): Promise<CallResponse> {
  const named = (call.decline.offer_ids ?? []).flatMap(({ value }) => {
    const agentId = agentIdOfOffer(value);
    return agentId ? [{ agentId, offerId: value }] : [];
  });
  const recovered: Array<{ role: string; agentId: string; resources: Resource[] }> = [];
  for (const [agentId, offers] of groupBy(named, (offer) => offer.agentId)) {
    const result = await master.registrar.agents.removeOffers({
      agentId,
      offerIds: offers.map((offer) => offer.offerId),
      frameworkId: framework.frameworkId,
    });
    if (!result.ok) continue; // another framework's offer among them: nothing declined on that agent
    recovered.push(...result.value.removed.map((offer) => ({ role: offer.role, agentId, resources: offer.resources })));
  }
  if (recovered.length > 0) {
    await installFilters(master, framework.frameworkId, call.decline.filters?.refuse_seconds, recovered);
  }
  master.metrics.increment('master/messages_decline_offers');
  return ACCEPTED;
}
