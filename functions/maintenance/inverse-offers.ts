/**
 * Which inverse offers to send and which to withdraw (Mesos's allocator, `generateInverseOffers`): every
 * framework that holds tasks, executors or offers on an agent of a DRAINING machine gets one inverse offer for that
 * agent, asking for all of it back by the window's unavailability, unless one is outstanding or the
 * framework's last answer for the machine filters it (`refuse_seconds`). An outstanding inverse offer
 * whose framework is no longer active, or whose agent left, is withdrawn. Pure.
 */
import type { Event } from '#shared/protocol/scheduler.js';
import {
  answerKey,
  machineOfAgent,
  type InverseOfferRecord,
  type MaintenanceRecord,
  type Unavailability,
} from './schedule.js';

export interface DrainingAgent {
  readonly agentId: string;
  readonly hostname: string;
  readonly ip: string;
  readonly status: string;
  readonly offers: Readonly<Record<string, { readonly frameworkId: string }>>;
  readonly tasks: Readonly<Record<string, { readonly frameworkId: string }>>;
  readonly executors?: Readonly<Record<string, { readonly frameworkId: string }>>;
}

export interface NewInverseOffer {
  readonly id: string;
  readonly offer: InverseOfferRecord;
  readonly unavailability: Unavailability;
}

export interface InverseOfferPlan {
  readonly create: NewInverseOffer[];
  /** Withdrawn; `rescind` says whether its framework is still there to be told. */
  readonly withdraw: Array<{ readonly id: string; readonly offer: InverseOfferRecord; readonly rescind: boolean }>;
}

export function planInverseOffers(
  record: MaintenanceRecord,
  agents: readonly DrainingAgent[],
  activeFrameworks: ReadonlySet<string>,
  now: number,
  newId: (agentId: string) => string,
): InverseOfferPlan {
  const draining = new Map<string, { machine: string; unavailability: Unavailability }>();
  for (const agent of agents) {
    if (agent.status !== 'ACTIVE') continue;
    const machine = machineOfAgent(record, agent);
    if (machine?.mode === 'DRAINING')
      draining.set(agent.agentId, { machine: machine.key, unavailability: machine.unavailability });
  }
  const withdraw = Object.entries(record.inverseOffers)
    .filter(([, offer]) => !activeFrameworks.has(offer.frameworkId) || !draining.has(offer.agentId))
    .map(([id, offer]) => ({ id, offer, rescind: activeFrameworks.has(offer.frameworkId) }));
  const outstanding = new Set(Object.values(record.inverseOffers).map((o) => `${o.agentId} ${o.frameworkId}`));
  const create: NewInverseOffer[] = [];
  for (const agent of agents) {
    const place = draining.get(agent.agentId);
    if (!place) continue;
    const holders = [agent.tasks, agent.executors ?? {}, agent.offers].flatMap((entries) => Object.values(entries));
    const users = new Set(holders.map((h) => h.frameworkId));
    for (const frameworkId of users) {
      if (!activeFrameworks.has(frameworkId) || outstanding.has(`${agent.agentId} ${frameworkId}`)) continue;
      if ((record.answers[answerKey(place.machine, frameworkId)]?.refuseUntil ?? 0) > now) continue;
      create.push({
        id: newId(agent.agentId),
        offer: { frameworkId, agentId: agent.agentId, machine: place.machine, createdAt: now },
        unavailability: place.unavailability,
      });
    }
  }
  return { create, withdraw };
}

/** The plan applied to the record: what `planInverseOffers` decided, on the record it read. */
export function withPlan(record: MaintenanceRecord, plan: InverseOfferPlan): MaintenanceRecord {
  const gone = new Set(plan.withdraw.map((entry) => entry.id));
  const kept = Object.entries(record.inverseOffers).filter(([id]) => !gone.has(id));
  return {
    ...record,
    inverseOffers: Object.fromEntries([...kept, ...plan.create.map((entry) => [entry.id, entry.offer] as const)]),
  };
}

export function inverseOffersEvent(offers: readonly NewInverseOffer[]): Event {
  return {
    type: 'INVERSE_OFFERS',
    inverse_offers: {
      inverse_offers: offers.map((entry) => ({
        id: { value: entry.id },
        framework_id: { value: entry.offer.frameworkId },
        agent_id: { value: entry.offer.agentId },
        unavailability: entry.unavailability,
        // Maintenance asks for everything on the agent back: Mesos leaves `resources` empty.
        resources: [],
      })),
    },
  };
}

export function rescindInverseOfferEvent(id: string): Event {
  return { type: 'RESCIND_INVERSE_OFFER', rescind_inverse_offer: { inverse_offer_id: { value: id } } };
}

/**
 * A framework's answer (ACCEPT_INVERSE_OFFERS / DECLINE_INVERSE_OFFERS) to its outstanding inverse offers
 * among `ids`: they are answered (no longer outstanding), and the answer is recorded for the machine,
 * with no new inverse offer for it until `refuseSeconds` have passed. Ids that are not the framework's
 * outstanding inverse offers are returned apart (Mesos ignores them).
 */
export function answerInverseOffers(
  record: MaintenanceRecord,
  frameworkId: string,
  ids: readonly string[],
  answer: { readonly status: 'ACCEPT' | 'DECLINE'; readonly now: number; readonly refuseSeconds: number },
): { next: MaintenanceRecord; answered: string[]; unknown: string[] } {
  const answered = ids.filter((id) => record.inverseOffers[id]?.frameworkId === frameworkId);
  const unknown = ids.filter((id) => !answered.includes(id));
  const inverseOffers = Object.fromEntries(
    Object.entries(record.inverseOffers).filter(([id]) => !answered.includes(id)),
  );
  const answers = { ...record.answers };
  for (const id of answered) {
    const offer = record.inverseOffers[id] as InverseOfferRecord;
    answers[answerKey(offer.machine, frameworkId)] = {
      status: answer.status,
      frameworkId,
      machine: offer.machine,
      at: answer.now,
      refuseUntil: answer.now + Math.max(0, answer.refuseSeconds) * 1000,
    };
  }
  return { next: { ...record, inverseOffers, answers }, answered, unknown };
}
