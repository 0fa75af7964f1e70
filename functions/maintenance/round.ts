/**
 * Maintenance's part of an allocation pass (functions/allocation/run-pass.ts): agents on DOWN machines
 * offer nothing, offers from DRAINING machines carry the window's unavailability, and frameworks on
 * DRAINING machines get inverse offers (inverse-offers.ts decides, here they are written, then sent).
 */
import type { Event } from '#shared/protocol/scheduler.js';
import { groupBy } from '#shared/collections.js';
import type { Metrics } from '#shared/metrics.js';
import type { EventPublisher } from '../master/event-publisher.js';
import type { AgentRecord, FrameworkRecord, Registrar } from '../registrar/index.js';
import { isActiveFramework } from '../allocator/snapshot.js';
import {
  inverseOffersEvent,
  planInverseOffers,
  rescindInverseOfferEvent,
  withPlan,
  type InverseOfferPlan,
} from './inverse-offers.js';
import { machineOfAgent, type MaintenanceRecord, type Unavailability } from './schedule.js';

export interface RoundDeps {
  readonly registrar: Registrar;
  readonly events: EventPublisher;
  readonly metrics?: Metrics;
  readonly logger?: { warn(message: string, attributes: Record<string, unknown>): void };
}

/** The agents as the allocator should see them: those on DOWN machines deactivated. */
export function withoutDownAgents(record: MaintenanceRecord, agents: readonly AgentRecord[]): AgentRecord[] {
  if (Object.keys(record.modes).length === 0) return [...agents];
  return agents.map((agent) =>
    machineOfAgent(record, agent)?.mode === 'DOWN' ? { ...agent, deactivated: true } : agent,
  );
}

/** The unavailability offers from this agent carry (its machine is DRAINING). */
export function unavailabilityOf(record: MaintenanceRecord, agent: AgentRecord): Unavailability | undefined {
  const machine = machineOfAgent(record, agent);
  return machine?.mode === 'DRAINING' ? machine.unavailability : undefined;
}

const inverseOfferId = (agentId: string): string => `${agentId}-I${crypto.randomUUID().replace(/-/g, '').slice(0, 16)}`;

/** Writes and sends the inverse offers due; returns how many were sent. */
export async function inverseOfferRound(
  deps: RoundDeps,
  read: MaintenanceRecord,
  agents: readonly AgentRecord[],
  frameworks: ReadonlyMap<string, FrameworkRecord>,
  now: number,
): Promise<number> {
  // No maintenance (the pass read it): nothing to read again, nothing to write.
  if (Object.keys(read.modes).length === 0 && Object.keys(read.inverseOffers).length === 0) return 0;
  const active = new Set([...frameworks.values()].filter(isActiveFramework).map((f) => f.frameworkId));
  let plan: InverseOfferPlan = { create: [], withdraw: [] };
  const written = await deps.registrar.maintenance.modify((current) => {
    plan = planInverseOffers(current, agents, active, now, inverseOfferId);
    if (plan.create.length === 0 && plan.withdraw.length === 0) return { ok: true, value: undefined };
    return { ok: true, value: { next: withPlan(current, plan), outcome: plan } };
  });
  if (!written.ok || written.value.outcome === undefined) return 0;
  const events = new Map<string, Event[]>();
  for (const entry of plan.withdraw.filter((w) => w.rescind)) {
    events.set(entry.offer.frameworkId, [
      ...(events.get(entry.offer.frameworkId) ?? []),
      rescindInverseOfferEvent(entry.id),
    ]);
  }
  for (const [frameworkId, list] of groupBy(plan.create, (entry) => entry.offer.frameworkId)) {
    events.set(frameworkId, [...(events.get(frameworkId) ?? []), inverseOffersEvent(list)]);
  }
  await Promise.all([...events].map(([frameworkId, list]) => sendTo(deps, frameworks.get(frameworkId), list)));
  deps.metrics?.increment('master/inverse_offers_sent', plan.create.length);
  return plan.create.length;
}

async function sendTo(deps: RoundDeps, framework: FrameworkRecord | undefined, events: Event[]): Promise<void> {
  if (!framework?.eventQueueUrl) return;
  try {
    await deps.events.publish({ frameworkId: framework.frameworkId, eventQueueUrl: framework.eventQueueUrl }, events);
    for (const event of events) deps.metrics?.increment(`master/events/${event.type}`);
  } catch (error) {
    // An inverse offer whose event is lost stays outstanding: the operator sees UNKNOWN for it.
    deps.logger?.warn('Could not send inverse offers to a framework', {
      frameworkId: framework.frameworkId,
      error: String(error),
    });
  }
}
