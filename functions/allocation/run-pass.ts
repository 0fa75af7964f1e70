/**
 * One allocation pass over the registrar (docs/architecture.md, "Allocation"): read a snapshot (all of it,
 * or, on a warm snapshot, only the agents the triggers named: warm-snapshot.ts), rescind offers that
 * timed out (or whose framework or role is gone), run the pure allocator, commit each agent's offers
 * with ONE write conditioned on the ledger version the snapshot read, and send each framework its
 * OFFERS event.
 *
 * Optimistic concurrency, as in Omega: two passes may run at once. Each offer write fails unless the
 * agent's ledger is still the one the pass read, so a pass that lost a race skips that agent: nothing
 * is ever offered twice. Running one pass at a time (the Lambda's reserved concurrency) is merely
 * efficient. An OFFERS event lost after its ledger write (a crash between the two) costs nothing
 * lasting: the offer times out and its resources come back.
 */
import type { EventPublisher } from '../master/event-publisher.js';
import { chunks, groupBy, mapConcurrently } from '#shared/collections.js';
import { failure } from '#shared/result.js';
import type { Metrics } from '#shared/metrics.js';
import type { Offer } from '#shared/protocol/mesos.js';
import type { AgentRecord, FrameworkRecord, OfferRecord, Registrar } from '../registrar/index.js';
import { BATCH_STATEMENT_LIMIT } from '../registrar/agents.js';
import type {
  Allocator,
  AllocationResult,
  AllocationStats,
  ProposedOffer,
  RoleReport,
} from '../allocator/allocator.js';
import { mesosOffer, offersEvent, recipientOf, rescindEvent } from '../allocator/offers.js';
import type { PendingReason } from '../allocator/reasons.js';
import { isActiveFramework } from '../allocator/snapshot.js';
import type { AllocationTrigger } from './triggers.js';
import { isChecked, noItemsRead, WarmSnapshot, type Checked, type ItemsRead } from './warm-snapshot.js';
import { inverseOfferRound, unavailabilityOf, withoutDownAgents } from '../maintenance/round.js';
import type { MaintenanceRecord } from '../maintenance/schedule.js';

/** The subset of a structured logger the pass uses (Powertools' Logger fits). */
export interface PassLogger {
  warn(message: string, attributes: Record<string, unknown>): void;
  error(message: string, attributes: Record<string, unknown>): void;
}

export interface AllocationPassDeps {
  readonly registrar: Registrar;
  readonly events: EventPublisher;
  readonly allocator: Allocator;
  /** Where the offer-expiry timers go (the allocation queue). */
  readonly triggers?: { request(trigger: AllocationTrigger, delaySeconds?: number): Promise<void> };
  readonly metrics?: Metrics;
  readonly logger?: PassLogger;
  readonly now?: () => number;
  /** The agents' order within the pass (tests inject a seeded one). */
  readonly random?: () => number;
  /**
   * The snapshot kept between passes (the allocator's container keeps one): a pass over some agents
   * then reads only those. Without it every pass reads everything.
   */
  readonly snapshot?: WarmSnapshot;
}

export interface AllocationPassReport {
  readonly startedAt: number;
  readonly durationMs: number;
  /** The pure allocator's share of the pass. */
  readonly allocateMs: number;
  /** The snapshot's read, and the offers' writes (their ledger writes only): the pass's I/O, by part. */
  readonly readMs: number;
  /** Taking back the offers that timed out or went stale (their ledger writes and RESCINDs, before the allocator). */
  readonly sweepMs: number;
  readonly commitMs: number;
  /** Offers written to the ledgers (and sent). */
  readonly offers: OfferRecord[];
  /** Agents skipped because their ledger changed after the snapshot (a lost race). */
  readonly conflicts: number;
  /** Offers rescinded because they outlived the offer timeout. */
  readonly expired: number;
  /** Offers removed because their framework is no longer active or left the role. */
  readonly stale: number;
  readonly pending: PendingReason[];
  readonly roles: RoleReport[];
  readonly stats: AllocationStats;
  /**
   * Whether the pass read every agent (else, on a warm snapshot, only the agents named or known to have
   * changed).
   */
  readonly fullRead: boolean;
  /** Items read from the registrar, by table. */
  readonly itemsRead: ItemsRead & { readonly total: number };
  /** Items written: agents' ledgers (offers made, offers swept) and pending reasons. */
  readonly itemsWritten: number;
  /** How many times a partial pass ran the allocator again because a framework or filter had changed. */
  readonly rechecks: number;
}

/** A partial pass runs the allocator at most this many times more on records read again. */
const MAX_RECHECKS = 3;

export interface AllocationPassRequest {
  /** The agents to allocate; absent: all of them. */
  readonly agentIds?: ReadonlySet<string>;
  /**
   * For a pass over all agents: the agents whose ledgers changed since the snapshot, as far as the
   * triggers tell. Given, a warm snapshot reads only these of the agents (see WarmSnapshot.read);
   * absent, the pass reads every agent.
   */
  readonly changedAgents?: ReadonlySet<string>;
  /** When the oldest trigger was sent. */
  readonly requestedAt?: number;
}

export async function runAllocationPass(
  deps: AllocationPassDeps,
  request: AllocationPassRequest = {},
): Promise<AllocationPassReport> {
  const now = deps.now ?? Date.now;
  const startedAt = now();
  const began = performance.now();
  const { registrar, allocator, metrics } = deps;
  if (request.requestedAt !== undefined) {
    metrics?.observe('allocator/mesos/allocation_run_latency_ms', Math.max(0, startedAt - request.requestedAt));
  }

  const snapshot = deps.snapshot ?? new WarmSnapshot();
  const reads = noItemsRead();
  const maxAgeMs = allocator.config.snapshotMaxAgeSeconds * 1000;
  const scope = { ...request, maxAgeMs };
  const { full, current, fresh, maintenance } = await snapshot.read(registrar, scope, startedAt, reads);
  const readMs = performance.now() - began;
  const { agents, frameworks } = snapshot;
  // Before this pass's own offers, which are current wherever it writes them.
  const staleOffers = !full && holdsOffersUnread(agents, fresh);
  const swept = await sweepOffers(deps, agents, fresh, frameworks, startedAt);

  let allocateMs = 0;
  const allocate = (): AllocationResult => {
    const allocated = performance.now();
    const result = allocator.allocate(
      {
        agents: withoutDownAgents(maintenance, [...agents.values()]),
        frameworks: snapshot.reachable(),
        roles: snapshot.roles,
        now: startedAt,
      },
      {
        ...(request.agentIds ? { agentIds: request.agentIds } : {}),
        ...(deps.random ? { random: deps.random } : {}),
      },
    );
    allocateMs += performance.now() - allocated;
    return result;
  };
  const { result, rechecks } = current
    ? { result: allocate(), rechecks: 0 }
    : await checkedAllocation(deps, snapshot, allocate, startedAt, reads);

  const expiresAt = startedAt + allocator.config.offerTimeoutSeconds * 1000;
  const committing = performance.now();
  const { offers, conflicts, writes } = await commitOffers(deps, agents, result.offers, expiresAt);
  const commitMs = performance.now() - committing;
  await sendOffers(deps, agents, frameworks, offers, maintenance);
  await inverseOfferRound(deps, maintenance, [...agents.values()], frameworks, startedAt);
  await scheduleExpiry(deps, offers);

  // Only a full pass looked at every agent: a partial pass's "offered nothing" says little. So does a warm pass
  // that counted on agents it did not read holding offers: one declined a moment ago looks held there until the
  // trigger naming its agent arrives, and "nothing free" or "at its quota" would be written for it.
  const sure = !request.agentIds && !staleOffers;
  const pendingWrites = sure ? await recordPending(deps, result.pending, startedAt) : 0;

  const durationMs = performance.now() - began;
  const itemsRead = { ...reads, total: Object.values(reads).reduce((sum, count) => sum + count, 0) };
  const itemsWritten = swept.writes + writes + pendingWrites;
  const { expired, stale } = swept;
  if (metrics) {
    const read: 'full' | 'warm' | 'partial' = full ? 'full' : current ? 'warm' : 'partial';
    const pass = { durationMs, offers: offers.length, conflicts, expired, stale, read, itemsRead, itemsWritten };
    record(metrics, { ...pass, rechecks }, result.roles, snapshot.filters);
  }
  return {
    startedAt,
    durationMs,
    allocateMs,
    readMs,
    sweepMs: swept.ms,
    commitMs,
    offers,
    conflicts,
    expired,
    stale,
    pending: result.pending,
    roles: result.roles,
    stats: result.stats,
    fullRead: full,
    itemsRead,
    itemsWritten,
    rechecks,
  };
}

/**
 * A partial pass's allocation on the warm snapshot: the frameworks its offers go to, and their filters on
 * those agents, are read again before anything is written; if any changed since the snapshot was read,
 * the allocator runs again on what was read (at most MAX_RECHECKS times; offers to what was still not
 * read again after that are dropped, and the next pass makes them).
 */
async function checkedAllocation(
  deps: AllocationPassDeps,
  snapshot: WarmSnapshot,
  allocate: () => AllocationResult,
  now: number,
  reads: ItemsRead,
): Promise<{ result: AllocationResult; rechecks: number }> {
  const checked: Checked = { frameworks: new Set(), filters: new Set() };
  const checkedOffer = (offer: ProposedOffer) => isChecked(checked, offer);
  let result = allocate();
  for (let rechecks = 0; ; rechecks++) {
    const unchecked = result.offers.filter((offer) => !checkedOffer(offer));
    if (unchecked.length === 0) return { result, rechecks };
    if (rechecks === MAX_RECHECKS)
      return { result: { ...result, offers: result.offers.filter(checkedOffer) }, rechecks };
    if (!(await snapshot.check(deps.registrar, unchecked, now, checked, reads))) return { result, rechecks };
    result = allocate();
  }
}

/** Asks for a pass over these offers' agents when they time out. */
async function scheduleExpiry(deps: AllocationPassDeps, offers: readonly OfferRecord[]): Promise<void> {
  if (offers.length === 0 || !deps.triggers) return;
  const agentIds = [...new Set(offers.map((offer) => offer.agentId))];
  try {
    // One second late rather than early: SQS delays are whole seconds.
    await deps.triggers.request({ reason: 'OFFER_EXPIRED', agentIds }, deps.allocator.config.offerTimeoutSeconds + 1);
  } catch (error) {
    // Every pass expires overdue offers, so the periodic pass covers a timer that could not be set.
    deps.logger?.warn('Could not schedule the offer expiry', { error: String(error) });
  }
}

/** Whether an agent the pass did not read holds offers in the snapshot. */
function holdsOffersUnread(agents: ReadonlyMap<string, AgentRecord>, fresh: ReadonlySet<string>): boolean {
  for (const [agentId, agent] of agents) {
    if (!fresh.has(agentId) && Object.keys(agent.offers).length > 0) return true;
  }
  return false;
}

/** Keeps the pass's pending reasons (best effort: they explain, they decide nothing); returns the writes. */
async function recordPending(deps: AllocationPassDeps, pending: readonly PendingReason[], at: number): Promise<number> {
  try {
    const writes = await deps.registrar.pending.record(pending, at);
    deps.metrics?.increment('allocator/pending_reason_writes', writes);
    return writes;
  } catch (error) {
    deps.logger?.warn('Could not record the pending reasons', { error: String(error) });
    deps.metrics?.increment('allocator/pending_reason_errors');
    return 0;
  }
}

/**
 * Removes, on the agents read in this pass, offers that outlived the timeout (RESCIND to their
 * frameworks), and offers of frameworks that are no longer active or left the role (they cannot use
 * them). Updates `agents` with the new ledgers.
 */
async function sweepOffers(
  deps: AllocationPassDeps,
  agents: Map<string, AgentRecord>,
  fresh: ReadonlySet<string>,
  frameworks: ReadonlyMap<string, FrameworkRecord>,
  now: number,
): Promise<{ expired: number; stale: number; writes: number; ms: number }> {
  const began = performance.now();
  let expired = 0;
  let stale = 0;
  const read = [...fresh].flatMap((agentId) => agents.get(agentId) ?? []);
  const sweeps = read.flatMap((agent) => {
    const offers = Object.values(agent.offers).filter((offer) => {
      const framework = frameworks.get(offer.frameworkId);
      const gone = framework !== undefined && (!isActiveFramework(framework) || !framework.roles.includes(offer.role));
      return gone || (offer.expiresAt !== undefined && offer.expiresAt <= now);
    });
    return offers.length > 0 ? [{ agent, offers }] : [];
  });
  const rescinded: OfferRecord[] = [];
  // BATCH_STATEMENT_LIMIT agents' removals to a request, as the offers' commits: offers made in one pass expire in
  // one pass, and one write each took most of a 40 s pass at 10,000 agents (bench:scale).
  await mapConcurrently(
    chunks(sweeps, BATCH_STATEMENT_LIMIT),
    deps.allocator.config.commitConcurrency,
    async (batch) => {
      const results = await deps.registrar.agents.removeOffersBatch(
        batch.map(({ agent, offers }) => ({ agent, offerIds: offers.map((offer) => offer.offerId) })),
      );
      for (const [i, removed] of results.entries()) {
        if (!removed.ok) continue;
        agents.set((batch[i] as (typeof batch)[number]).agent.agentId, removed.value.agent);
        for (const offer of removed.value.removed) {
          if (offer.expiresAt !== undefined && offer.expiresAt <= now) expired++;
          else stale++;
        }
        rescinded.push(...removed.value.removed);
      }
    },
  );
  // Each framework's RESCINDs in one publish (batches of ten a request), not one per agent: offers made in one pass
  // time out together, and a pass that took back 6,000 of them sent 6,000 messages (bench:scale, 10,000 agents).
  await Promise.all(
    [...groupBy(rescinded, (offer) => offer.frameworkId)].map(async ([frameworkId, list]) => {
      const framework = frameworks.get(frameworkId);
      if (!framework || !isActiveFramework(framework) || !framework.eventQueueUrl) return;
      await publish(
        deps,
        framework,
        list.map((offer) => rescindEvent(offer.offerId)),
      );
    }),
  );
  return { expired, stale, writes: sweeps.length, ms: performance.now() - began };
}

/**
 * One conditional ledger write per agent, sent BATCH_STATEMENT_LIMIT agents to a request; a lost race (the
 * ledger changed since the read) skips the agent, and the snapshot takes the ledger as it now is. Updates
 * `agents` with the ledgers written.
 */
async function commitOffers(
  deps: AllocationPassDeps,
  agents: Map<string, AgentRecord>,
  proposals: readonly ProposedOffer[],
  expiresAt: number,
): Promise<{ offers: OfferRecord[]; conflicts: number; writes: number }> {
  const offers: OfferRecord[] = [];
  let conflicts = 0;
  const byAgent = [...groupBy(proposals, (offer) => offer.agentId)].map(([agentId, list]) => ({
    agent: agents.get(agentId) as AgentRecord,
    requests: list.map((proposal) => ({
      frameworkId: proposal.frameworkId,
      role: proposal.role,
      resources: proposal.resources,
      expiresAt,
    })),
  }));
  await mapConcurrently(
    chunks(byAgent, BATCH_STATEMENT_LIMIT),
    deps.allocator.config.commitConcurrency,
    async (batch) => {
      // A failed request costs its agents their offers, never the whole pass.
      const results = await deps.registrar.agents
        .createOffersBatch(batch)
        .catch((error: unknown) => batch.map(() => failure('AGENT_FAULT', String(error))));
      for (const [i, created] of results.entries()) {
        const agentId = (batch[i] as (typeof batch)[number]).agent.agentId;
        if (created.ok) {
          offers.push(...created.value.offers);
          agents.set(agentId, created.value.agent);
        } else if (created.error.code === 'VERSION_CONFLICT') {
          conflicts++;
          if ('current' in created && created.current) agents.set(agentId, created.current);
        } else if (created.error.code === 'LEDGER_FULL' || created.error.code === 'AGENT_FAULT') {
          deps.logger?.warn('No offers from this agent in this pass', { agentId, why: created.error.message });
          deps.metrics?.increment('allocator/agent_failures');
        } else if (created.error.code !== 'AGENT_NOT_ACTIVE' && created.error.code !== 'UNKNOWN_AGENT') {
          // The allocator proposed what the ledger refuses: a defect, not a race.
          deps.logger?.error('Offers refused by the agent ledger', {
            agentId,
            code: created.error.code,
            message: created.error.message,
          });
          deps.metrics?.increment('allocator/offers_refused');
        }
      }
    },
  );
  return { offers, conflicts, writes: byAgent.length };
}

/** One OFFERS event per framework, in the shape its capabilities call for. */
async function sendOffers(
  deps: AllocationPassDeps,
  agents: ReadonlyMap<string, AgentRecord>,
  frameworks: ReadonlyMap<string, FrameworkRecord>,
  offers: readonly OfferRecord[],
  maintenance: MaintenanceRecord,
): Promise<void> {
  await Promise.all(
    [...groupBy(offers, (offer) => offer.frameworkId)].map(async ([frameworkId, list]) => {
      const framework = frameworks.get(frameworkId) as FrameworkRecord;
      const recipient = recipientOf(framework.info);
      const shaped: Offer[] = list.map((offer) => {
        const agent = agents.get(offer.agentId) as AgentRecord;
        const unavailability = unavailabilityOf(maintenance, agent);
        return { ...mesosOffer(offer, agent, recipient), ...(unavailability ? { unavailability } : {}) };
      });
      await publish(deps, framework, [offersEvent(shaped)]);
    }),
  );
}

/** Publishing is best effort: an event that cannot be sent is logged, and the offer times out. */
async function publish(
  deps: AllocationPassDeps,
  framework: FrameworkRecord,
  events: Parameters<EventPublisher['publish']>[1],
): Promise<void> {
  try {
    await deps.events.publish({ frameworkId: framework.frameworkId, eventQueueUrl: framework.eventQueueUrl }, events);
    for (const event of events) deps.metrics?.increment(`master/events/${event.type}`);
  } catch (error) {
    deps.logger?.warn('Could not send events to a framework', {
      frameworkId: framework.frameworkId,
      error: error instanceof Error ? error.message : String(error),
    });
    deps.metrics?.increment('allocator/events_unsent');
  }
}

/** Mesos's allocator metrics (Mesos docs/monitoring.md), plus Mantle's counters for what Mesos does not have. */
function record(
  metrics: Metrics,
  pass: {
    durationMs: number;
    offers: number;
    conflicts: number;
    expired: number;
    stale: number;
    read: 'full' | 'warm' | 'partial';
    itemsRead: { total: number };
    itemsWritten: number;
    rechecks: number;
  },
  roles: readonly RoleReport[],
  filters: ReadonlyMap<string, Readonly<Record<string, { role: string }>>>,
): void {
  metrics.increment('allocator/mesos/allocation_runs');
  metrics.observe('allocator/mesos/allocation_run_ms', pass.durationMs);
  metrics.increment(`allocator/${pass.read}_reads`);
  metrics.increment('allocator/items_read', pass.itemsRead.total);
  metrics.increment('allocator/items_written', pass.itemsWritten);
  metrics.increment('allocator/snapshot_rechecks', pass.rechecks);
  metrics.increment('allocator/offers_created', pass.offers);
  metrics.increment('allocator/version_conflicts', pass.conflicts);
  metrics.increment('allocator/offers_expired', pass.expired);
  metrics.increment('allocator/offers_stale', pass.stale);
  for (const role of roles) {
    const share = role.share;
    metrics.gauge(`allocator/mesos/roles/${role.role}/shares/dominant`, () => share);
    if (!role.quota) continue;
    const quota = `allocator/mesos/quota/roles/${role.role}/resources`;
    for (const [resource, limit] of Object.entries(role.quota.limits)) {
      metrics.gauge(`${quota}/${resource}/limit`, () => limit);
    }
    for (const [resource, guarantee] of Object.entries(role.quota.guarantees)) {
      metrics.gauge(`${quota}/${resource}/guarantee`, () => guarantee);
    }
    // What limits are enforced against: reservations (used or not) plus unreserved offered-or-allocated.
    for (const [resource, consumed] of Object.entries(role.quota.consumed)) {
      metrics.gauge(`${quota}/${resource}/consumed`, () => consumed);
    }
  }
  // Filters in force (the snapshot holds only those): Mesos's active filter gauge per role.
  const active = new Map<string, number>();
  for (const byKey of filters.values()) {
    for (const filter of Object.values(byKey)) active.set(filter.role, (active.get(filter.role) ?? 0) + 1);
  }
  for (const [role, count] of active) metrics.gauge(`allocator/mesos/offer_filters/roles/${role}/active`, () => count);
}
