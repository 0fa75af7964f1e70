/**
 * ACCEPT_INVERSE_OFFERS and DECLINE_INVERSE_OFFERS (Mesos `Master::acceptInverseOffers`,
 * `declineInverseOffers`): the framework answers the inverse offers it got for agents on DRAINING
 * machines. The answer is advisory — it changes nothing in the schedule — and is recorded for the
 * operator (GET_MAINTENANCE_STATUS shows it per machine); the framework gets no new inverse offer for
 * that machine until its filter's `refuse_seconds` (5 by default, as Mesos's `Filters`) have passed.
 * Ids that are not the framework's outstanding inverse offers are ignored, as Mesos ignores them.
 */
import type { FrameworkRecord } from '../registrar/index.js';
import type { Master } from '../master/master.js';
import { answerInverseOffers } from '../maintenance/inverse-offers.js';
import { ACCEPTED, type CallResponse } from './responses.js';
import type { CallOf } from './validation.js';

const DEFAULT_REFUSE_SECONDS = 5;

async function answer(
  master: Pick<Master, 'registrar' | 'allocation' | 'metrics' | 'logger' | 'now'>,
  framework: FrameworkRecord,
  status: 'ACCEPT' | 'DECLINE',
  body: { inverse_offer_ids?: Array<{ value: string }>; filters?: { refuse_seconds?: number } } | undefined,
): Promise<CallResponse> {
  const ids = (body?.inverse_offer_ids ?? []).map(({ value }) => value);
  const refuseSeconds = body?.filters?.refuse_seconds ?? DEFAULT_REFUSE_SECONDS;
  let agentIds: string[] = [];
  let unknown: string[] = [];
  const written = await master.registrar.maintenance.modify((current) => {
    const result = answerInverseOffers(current, framework.frameworkId, ids, {
      status,
      now: master.now(),
      refuseSeconds,
    });
    agentIds = result.answered.map((id) => current.inverseOffers[id]?.agentId ?? '');
    unknown = result.unknown;
    return {
      ok: true,
      value: result.answered.length > 0 ? { next: result.next, outcome: result.answered } : undefined,
    };
  });
  if (unknown.length > 0) {
    master.logger.warn('Inverse offers answered that are not outstanding for this framework', {
      frameworkId: framework.frameworkId,
      inverseOfferIds: unknown,
    });
  }
  if (written.ok && agentIds.length > 0) {
    // The filter's end is when this framework may be asked again.
    await master.allocation.request({ reason: 'FILTER_EXPIRED', agentIds }, Math.ceil(refuseSeconds) + 1);
  }
  master.metrics.increment(`master/messages_${status === 'ACCEPT' ? 'accept' : 'decline'}_inverse_offers`);
  return ACCEPTED;
}

export async function acceptInverseOffers(
  master: Master,
  framework: FrameworkRecord,
  call: CallOf<'ACCEPT_INVERSE_OFFERS'>,
): Promise<CallResponse> {
  return answer(master, framework, 'ACCEPT', call.accept_inverse_offers);
}

export async function declineInverseOffers(
  master: Master,
  framework: FrameworkRecord,
  call: CallOf<'DECLINE_INVERSE_OFFERS'>,
): Promise<CallResponse> {
  return answer(master, framework, 'DECLINE', call.decline_inverse_offers);
}
