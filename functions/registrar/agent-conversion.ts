/**
 * An operator converts an agent's resources (Mesos RESERVE_RESOURCES, UNRESERVE_RESOURCES,
 * CREATE_VOLUMES, DESTROY_VOLUMES): the agent's total replaced and the offers rescinded to free what
 * the conversion takes, in ONE write conditioned on the ledger version the decision read, so that no
 * offer, accept or other conversion slips in between (a lost race re-reads and decides again). Pure.
 */
import type { Resource } from '#shared/protocol/mesos.js';
import { storedOffer, type AgentRecord } from './agent-records.js';
import { storedResources } from './stored-resources.js';
import { Expression, type ItemChange } from './expression.js';
import type { OfferRecord } from './ledger.js';

/** The total becomes `total`; `rescind` leave the ledger; only from the version read, on an active agent. */
export function convertChange(
  agent: AgentRecord,
  total: readonly Resource[],
  rescind: readonly OfferRecord[],
): ItemChange {
  const x = new Expression();
  const gone = new Set(rescind.map((offer) => offer.offerId));
  const kept = Object.fromEntries(
    Object.values(agent.offers)
      .filter((offer) => !gone.has(offer.offerId))
      .map((offer) => [offer.offerId, storedOffer(offer)]),
  );
  const version = x.name('version');
  const sets = [
    `${x.name('total')} = ${x.value(storedResources(total))}`,
    `${version} = ${x.value(agent.version + 1)}`,
    ...(gone.size > 0 ? [`${x.name('offers')} = ${x.value(kept)}`] : []),
  ];
  return {
    update: `SET ${sets.join(', ')}`,
    condition: `${version} = ${x.value(agent.version)} AND ${x.name('status')} = ${x.value('ACTIVE')}`,
    expression: x,
  };
}
