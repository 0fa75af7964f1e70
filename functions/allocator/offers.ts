/**
 * Offers as a framework sees them (Mesos `Master::offer`): one Offer per agent and role, in one OFFERS
 * event per framework. Frameworks without MULTI_ROLE get no `allocation_info` (on the offer or its
 * resources); frameworks without RESERVATION_REFINEMENT get the pre-refinement resource format.
 */
import type { Attribute, DomainInfo, FrameworkInfo, Offer, Resource } from '#shared/protocol/mesos.js';
import type { Event } from '#shared/protocol/scheduler.js';
import type { OfferRecord } from '../registrar/ledger.js';
import { downgradeResource } from '#shared/resources/resource.js';

/** The port Mesos agents listen on, for the offer's agent URL when the agent gave none. */
const DEFAULT_AGENT_PORT = 5051;

export interface OfferRecipient {
  readonly multiRole: boolean;
  readonly reservationRefinement: boolean;
}

export function recipientOf(info: Pick<FrameworkInfo, 'capabilities'>): OfferRecipient {
  const capabilities = new Set((info.capabilities ?? []).map((capability) => capability.type));
  return {
    multiRole: capabilities.has('MULTI_ROLE'),
    reservationRefinement: capabilities.has('RESERVATION_REFINEMENT'),
  };
}

export interface OfferedAgent {
  readonly hostname: string;
  readonly ip?: string;
  readonly port?: number;
  readonly attributes: readonly Attribute[];
  readonly domain?: DomainInfo;
}

function shown(resource: Resource, recipient: OfferRecipient): Resource | undefined {
  let result: Resource | undefined = resource;
  if (!recipient.multiRole) {
    const { allocation_info: _allocation, ...rest } = resource;
    result = rest;
  }
  return recipient.reservationRefinement ? result : downgradeResource(result);
}

export function mesosOffer(record: OfferRecord, agent: OfferedAgent, recipient: OfferRecipient): Offer {
  return {
    id: { value: record.offerId },
    framework_id: { value: record.frameworkId },
    agent_id: { value: record.agentId },
    hostname: agent.hostname,
    url: {
      scheme: 'http',
      address: {
        hostname: agent.hostname,
        ...(agent.ip !== undefined ? { ip: agent.ip } : {}),
        port: agent.port ?? DEFAULT_AGENT_PORT,
      },
      path: '/slave(1)',
    },
    ...(agent.domain ? { domain: agent.domain } : {}),
    resources: record.resources.flatMap((resource) => shown(resource, recipient) ?? []),
    attributes: [...agent.attributes],
    ...(recipient.multiRole ? { allocation_info: { role: record.role } } : {}),
  };
}

export function offersEvent(offers: Offer[]): Event {
  return { type: 'OFFERS', offers: { offers } };
}

export function rescindEvent(offerId: string): Event {
  return { type: 'RESCIND', rescind: { offer_id: { value: offerId } } };
}
