/**
 * The changes of an agent's item (registration, its ledger, its status), each a pure function that
 * returns the condition and the update of ONE conditional write, and another that reads the item as
 * it was when the condition failed to say why. The store (agents.ts) runs them against DynamoDB, as
 * Mesos keeps its registry operations (src/master/registry_operations.cpp) apart from the storage.
 *
 * The ledger's rules, which every change keeps (an ACCEPT's own change is in accept-changes.ts):
 * - creating offers is conditioned on the ledger `version` the allocator read (it takes free resources);
 * - accepting offers is conditioned on the offers still being there, owned and unchanged — not on the
 *   version, since it only moves resources from offered to allocated (never more than was offered),
 *   so concurrent accepts of different offers on one agent do not conflict;
 * - declining, rescinding and releasing only give resources back.
 * Every change bumps `version`, so a reader with an older copy can never create offers from it.
 *
 * Whether an ACCEPT's offers make sense together (one agent, one role, the framework's own) is the
 * scheduler's offer validation (functions/scheduler/accept-plan.ts); the accept change checks only what
 * its write needs: a well-formed update, and tasks that fit in what the offers hold.
 */
import type { Resource } from '#shared/protocol/mesos.js';
import { ok, type Result } from '#shared/result.js';
import { allocate, contains, unallocate } from '#shared/resources/resources.js';
import { canonicalResources } from '#shared/resources/parse.js';
import { isAllocatableTo } from '#shared/resources/resource.js';
import { validateRole } from '#shared/roles.js';
import {
  agentFromItem,
  detailAttributes,
  storedOffer,
  type AgentDetails,
  type AgentDrain,
  type AgentRecord,
  type OfferRequest,
} from './agent-records.js';
import { readmittedTotal } from './agent-readmission.js';
import { failure, type RegistrarError } from './errors.js';
import { Expression, partiqlName, type Item, type ItemChange } from './expression.js';
import { allocatedParts, allocatedResources, takeInTurn, type OfferRecord } from './ledger.js';

// -------------------------------------------------------------------------------------- registration

/** A new agent's item (written only if no agent has the id). */
export function admittedItem(agentId: string, details: AgentDetails, now: number): Item {
  return {
    agent_id: agentId,
    ...detailAttributes(details),
    offers: {},
    tasks: {},
    executors: {},
    version: 1,
    status: 'ACTIVE',
    deactivated: false,
    registered_at: now,
    last_heartbeat: now,
  };
}

/**
 * Re-admits a known agent (Mesos ReregisterSlave): its details replaced, its offers dropped (to be
 * rescinded), its tasks kept, its dynamic reservations and volumes applied onto the reported total
 * (`dropped`: those that no longer fit). Conditioned on the version read.
 */
export function readmitChange(
  current: AgentRecord | undefined,
  agentId: string,
  details: AgentDetails,
  now: number,
): Result<
  { change: ItemChange; dropped: Resource[] },
  RegistrarError<'UNKNOWN_AGENT' | 'AGENT_GONE' | 'INVALID_ARGUMENT' | 'INSUFFICIENT_RESOURCES' | 'INSTANCE_MISMATCH'>
> {
  if (!current) return failure('UNKNOWN_AGENT', `Agent ${agentId} is not registered`);
  if (current.status === 'GONE') return failure('AGENT_GONE', `Agent ${agentId} has been marked gone`);
  // An agent is bound to its instance for life: another instance cannot take it over.
  if (current.instanceSession !== undefined && current.instanceSession !== details.instanceSession) {
    return failure(
      'INSTANCE_MISMATCH',
      `Agent ${agentId} runs on ${sessionInstance(current.instanceSession)}; this is ${sessionInstance(details.instanceSession)}`,
    );
  }
  if (current.principal !== details.principal) {
    return failure('INVALID_ARGUMENT', `Agent ${agentId} was registered by another principal`);
  }
  const held = unallocate(allocatedResources(current));
  const { total, dropped } = readmittedTotal(current.total, held, details.total);
  if (!contains(total, held)) {
    return failure(
      'INSUFFICIENT_RESOURCES',
      `Agent ${agentId} reports fewer resources than its tasks hold; it must drain before shrinking`,
    );
  }
  const x = new Expression();
  const sets = Object.entries({
    ...detailAttributes({ ...details, total }),
    status: 'ACTIVE',
    offers: {},
    reregistered_at: now,
    last_heartbeat: now,
    version: current.version + 1,
  }).map(([name, value]) => `${x.name(name)} = ${x.value(value)}`);
  const condition = `${x.name('version')} = ${x.value(current.version)}`;
  // An agent that lost its GPUs (or reports none) no longer lists the ones it had.
  const removes = ['unreachable_at', ...(details.gpuDevices ? [] : ['gpu_devices'])].map((name) => x.name(name));
  const update = `SET ${sets.join(', ')} REMOVE ${removes.join(', ')}`;
  return ok({ change: { update, condition, expression: x }, dropped });
}

/** The instance half of a role session, for messages. */
function sessionInstance(session: string | undefined): string {
  return session === undefined ? 'no EC2 instance' : `instance ${session.slice(session.indexOf(':') + 1)}`;
}

// ---------------------------------------------------------------------------------------- offers

export type CreateOffersError = RegistrarError<
  | 'VERSION_CONFLICT'
  | 'UNKNOWN_AGENT'
  | 'AGENT_NOT_ACTIVE'
  | 'INSUFFICIENT_RESOURCES'
  | 'INVALID_ARGUMENT'
  | 'INVALID_RESOURCES'
>;

/** The offers `requests` make on an agent as the allocator read it, or why they cannot be made. */
export function plannedOffers(
  agent: AgentRecord,
  requests: readonly OfferRequest[],
  makeOfferId: (agentId: string) => string,
  now: number,
): Result<OfferRecord[], CreateOffersError> {
  if (agent.status !== 'ACTIVE' || agent.deactivated) {
    return failure('AGENT_NOT_ACTIVE', `Agent ${agent.agentId} takes no offers (${agent.status})`);
  }
  const offers: OfferRecord[] = [];
  for (const request of requests) {
    const roleError = validateRole(request.role);
    if (roleError) return failure('INVALID_ARGUMENT', roleError);
    const resources = canonicalResources(request.resources);
    if (!resources.ok) return failure('INVALID_RESOURCES', resources.error.message);
    if (resources.value.length === 0) return failure('INVALID_ARGUMENT', 'An offer needs resources');
    const foreign = resources.value.find((resource) => !isAllocatableTo(resource, request.role));
    if (foreign)
      return failure('INVALID_ARGUMENT', `Resources reserved to another role cannot go to '${request.role}'`);
    offers.push({
      offerId: makeOfferId(agent.agentId),
      agentId: agent.agentId,
      frameworkId: request.frameworkId,
      role: request.role,
      resources: allocate(resources.value, request.role),
      createdAt: now,
      ...(request.expiresAt !== undefined ? { expiresAt: request.expiresAt } : {}),
    });
  }
  const held = [
    ...Object.values(agent.offers).map((offer) => offer.resources),
    ...allocatedParts(agent),
    ...offers.map((offer) => offer.resources),
  ];
  if (!takeInTurn(agent.total, held).fits) {
    return failure('INSUFFICIENT_RESOURCES', `The offers exceed what is free on agent ${agent.agentId}`);
  }
  return ok(offers);
}

/** Offers made from the snapshot the allocator read: conditioned on its version, the agent active. */
export function createOffersChange(
  agent: AgentRecord,
  requests: readonly OfferRequest[],
  makeOfferId: (agentId: string) => string,
  now: number,
): Result<{ change: ItemChange; offers: OfferRecord[] }, CreateOffersError> {
  const planned = plannedOffers(agent, requests, makeOfferId, now);
  if (!planned.ok) return planned;
  const offers = planned.value;
  const x = new Expression();
  const sets = offers.map((offer) => `${x.path('offers', offer.offerId)} = ${x.value(storedOffer(offer))}`);
  const version = x.name('version');
  const status = x.name('status');
  // Items written before executors had entries lack the map an accept's executor is SET in.
  const executors = x.name('executors');
  sets.push(`${executors} = if_not_exists(${executors}, ${x.value({})})`);
  return ok({
    offers,
    change: {
      update: `SET ${[...sets, `${version} = ${x.value(agent.version + 1)}`].join(', ')}`,
      condition:
        `${version} = ${x.value(agent.version)} AND ${status} = ${x.value('ACTIVE')} AND ` +
        `${x.name('deactivated')} = ${x.value(false)}`,
      expression: x,
    },
  });
}

/**
 * The same offers as createOffersChange, as one statement of a PartiQL batch (BatchExecuteStatement: 25
 * conditional writes a request, each decided alone): the condition also asks for the executors map, which
 * PartiQL cannot create only when missing (an item without it fails, and the single write takes it).
 */
export function createOffersStatement(
  table: string,
  agent: AgentRecord,
  offers: readonly OfferRecord[],
): { statement: string; parameters: unknown[] } {
  const sets = offers.map((offer) => `SET "offers".${partiqlName(offer.offerId)} = ?`);
  return {
    statement:
      `UPDATE ${partiqlName(table)} ${sets.join(' ')} SET "version" = ? WHERE "agent_id" = ? AND "version" = ? ` +
      `AND "status" = 'ACTIVE' AND "deactivated" = false AND "executors" IS NOT MISSING`,
    parameters: [...offers.map(storedOffer), agent.version + 1, agent.agentId, agent.version],
  };
}

/** The agent as a written createOffers statement left it (a PartiQL batch returns no new image). */
export function offeredAgent(agent: AgentRecord, offers: readonly OfferRecord[]): AgentRecord {
  const added = Object.fromEntries(offers.map((offer) => [offer.offerId, offer]));
  return { ...agent, offers: { ...agent.offers, ...added }, version: agent.version + 1 };
}

/** Why the offers were not written, from the item as it was (or our own write, retried by the SDK). */
export function createOffersRefusal(
  agent: AgentRecord,
  offers: OfferRecord[],
  old: AgentRecord | undefined,
): Result<{ agent: AgentRecord; offers: OfferRecord[] }, CreateOffersError> {
  if (!old) return failure('UNKNOWN_AGENT', `Agent ${agent.agentId} is not registered`);
  // The SDK retries a request whose response was lost; the retry then fails on our own write.
  if (old.version === agent.version + 1 && offers.every((offer) => old.offers[offer.offerId])) {
    return ok({ agent: old, offers });
  }
  if (old.version !== agent.version) {
    return failure(
      'VERSION_CONFLICT',
      `Agent ${agent.agentId} changed (version ${old.version}, read ${agent.version})`,
    );
  }
  return failure('AGENT_NOT_ACTIVE', `Agent ${agent.agentId} takes no offers (${old.status})`);
}

// -------------------------------------------------------------------------------------- status

/** Deactivates a draining agent and takes back its offers, recording the drain's progress. */
export function drainChange(drain: AgentDrain): ItemChange {
  const x = new Expression();
  const version = x.name('version');
  return {
    update:
      `SET ${x.name('deactivated')} = ${x.value(true)}, ${x.name('drain')} = ${x.value(drain)}, ` +
      `${x.name('offers')} = ${x.value({})}, ${version} = ${version} + ${x.value(1)}`,
    condition: `attribute_exists(${x.name('agent_id')})`,
    expression: x,
  };
}

/** The agent as the drain left it, from the item as it was before. */
export function drained(old: Item, drain: AgentDrain): { agent: AgentRecord; rescinded: OfferRecord[] } {
  const before = agentFromItem(old);
  return {
    agent: { ...before, deactivated: true, drain, offers: {}, version: before.version + 1 },
    rescinded: Object.values(before.offers),
  };
}

type LeaveActiveError = RegistrarError<'UNKNOWN_AGENT' | 'AGENT_NOT_ACTIVE' | 'AGENT_ALIVE'>;

/**
 * An agent leaves the active set, its offers dropped: UNREACHABLE only from ACTIVE and only if its
 * last heartbeat is older than `heartbeatBefore` (a late heartbeat wins the race); GONE from anything
 * but GONE.
 */
export function leaveActiveChange(status: 'UNREACHABLE' | 'GONE', now: number, heartbeatBefore?: number): ItemChange {
  const x = new Expression();
  const conditions = [`attribute_exists(${x.name('agent_id')})`];
  if (status === 'UNREACHABLE') conditions.push(`${x.name('status')} = ${x.value('ACTIVE')}`);
  else conditions.push(`${x.name('status')} <> ${x.value('GONE')}`);
  if (heartbeatBefore !== undefined) {
    conditions.push(`${x.name('last_heartbeat')} < ${x.value(heartbeatBefore)}`);
  }
  const stamp = status === 'GONE' ? 'gone_at' : 'unreachable_at';
  return {
    update:
      `SET ${x.name('status')} = ${x.value(status)}, ${x.name(stamp)} = ${x.value(now)}, ` +
      `${x.name('offers')} = ${x.value({})}, ${x.name('version')} = ${x.name('version')} + ${x.value(1)}`,
    condition: conditions.join(' AND '),
    expression: x,
  };
}

/** The agent after it left the active set, from the item as it was before, and the offers it lost. */
export function leftActive(
  old: Item,
  status: 'UNREACHABLE' | 'GONE',
  now: number,
): { agent: AgentRecord; rescinded: OfferRecord[] } {
  const before = agentFromItem(old);
  const agent: AgentRecord = {
    ...before,
    status,
    offers: {},
    version: before.version + 1,
    ...(status === 'UNREACHABLE' ? { unreachableAt: now } : {}),
  };
  return { agent, rescinded: Object.values(before.offers) };
}

/** Why the agent did not leave the active set, from the item as it was. */
export function leaveActiveRefusal(
  agentId: string,
  old: AgentRecord | undefined,
  status: 'UNREACHABLE' | 'GONE',
): { readonly ok: false; readonly error: LeaveActiveError } {
  if (!old) return failure('UNKNOWN_AGENT', `Agent ${agentId} is not registered`);
  if (status === 'UNREACHABLE' && old.status !== 'ACTIVE') {
    return failure('AGENT_NOT_ACTIVE', `Agent ${agentId} is already ${old.status}`);
  }
  if (status === 'GONE' && old.status === 'GONE') return failure('AGENT_NOT_ACTIVE', `Agent ${agentId} is gone`);
  return failure('AGENT_ALIVE', `Agent ${agentId} sent a heartbeat at ${old.lastHeartbeat}`);
}
