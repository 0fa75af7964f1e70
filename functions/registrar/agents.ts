/**
 * The agents' store: agent items on DynamoDB, read consistently, and each change of an agent's item
 * (agent-changes.ts: registration, offers, accepts, releases, drains, status) run as ONE conditional
 * write. What the records and items are is in agent-records.ts; the ledger's arithmetic in ledger.ts.
 */
import type { Attribute, Resource } from '#shared/protocol/mesos.js';
import { newAgentId, newOfferId } from '#shared/ids.js';
import { ok, type Failure, type Result } from '#shared/result.js';
import {
  acceptChange,
  acceptRefusal,
  type AcceptError,
  type AcceptInput,
  type AcceptedTasks,
} from './accept-changes.js';
import {
  admittedItem,
  createOffersChange,
  createOffersRefusal,
  createOffersStatement,
  offeredAgent,
  plannedOffers,
  drainChange,
  drained,
  leaveActiveChange,
  leaveActiveRefusal,
  leftActive,
  readmitChange,
  type CreateOffersError,
} from './agent-changes.js';
import { LedgerReleases } from './agent-releases.js';
import {
  agentFromItem,
  offerFromItem,
  validateRegistration,
  type AgentDrain,
  type AgentRecord,
  type AgentRegistration,
  type AgentStatus,
  type AgentStatusView,
  type OfferRequest,
  type StoredExecutor,
  type StoredOffer,
} from './agent-records.js';
import {
  activationRefusal,
  deactivateChange,
  deactivated,
  reactivateChange,
  type ActivationError,
} from './agent-activation.js';
import { acceptSteps, fitsOneWrite, type AcceptStep } from './accept-writes.js';
import { convertChange } from './agent-conversion.js';
import { BATCH_STATEMENT_LIMIT, RETRY, retrying, type RegistrarContext } from './context.js';
import { failure, type RegistrarError } from './errors.js';
import type { ItemChange, WriteOutcome } from './expression.js';
import type { AllocatedExecutor, AllocatedTask, OfferRecord } from './ledger.js';

type Rescinding = { agent: AgentRecord; rescinded: OfferRecord[] };

type CreatedOffers = Result<
  { agent: AgentRecord; offers: OfferRecord[] },
  CreateOffersError | RegistrarError<'LEDGER_FULL'>
>;

/** What createOffersBatch made of one agent's offers; `current`: the agent as it was when its write lost. */
export type BatchedOffers = CreatedOffers & { readonly current?: AgentRecord };

export { BATCH_STATEMENT_LIMIT };

/** DynamoDB holds at most 400 KB in one item: an agent's ledger with that many entries takes no more. */
function ledgerFull(agentId: string): { readonly ok: false; readonly error: RegistrarError<'LEDGER_FULL'> } {
  return failure(
    'LEDGER_FULL',
    `Agent ${agentId} holds as many tasks and offers as its ledger can (DynamoDB's 400 KB item limit)`,
  );
}

export class AgentRegistry {
  private readonly releases: LedgerReleases;

  constructor(private readonly context: RegistrarContext) {
    this.releases = new LedgerReleases({
      table: this.table,
      get: (agentId) => this.get(agentId),
      run: (agentId, change, returnValues) => this.run(agentId, change, returnValues),
      executeBatch: (statements) => this.context.executeBatch(statements),
    });
  }

  private get table(): string {
    return this.context.tables.agents;
  }

  /** Runs one change of an agent's item. */
  private run(
    agentId: string,
    change: ItemChange,
    returnValues: 'ALL_NEW' | 'ALL_OLD' = 'ALL_NEW',
  ): Promise<WriteOutcome> {
    return this.context.update(
      {
        TableName: this.table,
        Key: { agent_id: agentId },
        UpdateExpression: change.update,
        ConditionExpression: change.condition,
        ...change.expression.attributes(),
      },
      returnValues,
    );
  }

  async get(agentId: string): Promise<AgentRecord | undefined> {
    const item = await this.context.get(this.table, { agent_id: agentId });
    return item ? agentFromItem(item) : undefined;
  }

  /**
   * These agents, read consistently (those registered; a BatchGetItem per 100): what a partial
   * allocation pass reads of the agents a trigger named.
   */
  async getMany(agentIds: readonly string[]): Promise<AgentRecord[]> {
    const items = await this.context.batchGet(
      this.table,
      agentIds.map((agentId) => ({ agent_id: agentId })),
      { consistent: true },
    );
    return items.map(agentFromItem);
  }

  /** Every agent (a consistent scan, page by page): the allocator's and the sweeper's snapshot. */
  async *list(): AsyncGenerator<AgentRecord> {
    for await (const item of this.context.scan(this.table)) yield agentFromItem(item);
  }

  /** Every agent, read by `segments` consistent scans at once: the allocator's full read of a large cluster. */
  async all(segments: number): Promise<AgentRecord[]> {
    return (await this.context.scanInParallel(this.table, segments)).map(agentFromItem);
  }

  /**
   * The outstanding offers of one framework, over all agents. A scan (offers live in the agent
   * ledgers); used on cold paths only: deactivation, teardown, a role given up.
   */
  async offersOf(frameworkId: string): Promise<OfferRecord[]> {
    const offers: OfferRecord[] = [];
    for await (const item of this.context.scan(this.table, ['agent_id', 'offers'])) {
      const agentId = item.agent_id as string;
      for (const [offerId, stored] of Object.entries((item.offers ?? {}) as Record<string, StoredOffer>)) {
        if (stored.framework_id === frameworkId) offers.push(offerFromItem(agentId, offerId, stored));
      }
    }
    return offers;
  }

  /**
   * Admits a new agent (Mesos RegisterSlave). The id is fresh unless the caller made one already (to
   * create the agent's command queue first).
   */
  async admit(
    registration: AgentRegistration,
    agentId: string = newAgentId(this.context.clusterId),
  ): Promise<Result<AgentRecord, RegistrarError<'INVALID_ARGUMENT' | 'INVALID_RESOURCES'>>> {
    const details = validateRegistration(registration);
    if (!details.ok) return details;
    const item = admittedItem(agentId, details.value, this.context.now());
    const outcome = await this.context.put({
      TableName: this.table,
      Item: item,
      ConditionExpression: 'attribute_not_exists(agent_id)',
    });
    if (!outcome.written) throw new Error(`Agent id collision on ${agentId}`);
    return ok(agentFromItem(item));
  }

  /**
   * Re-admits a known agent after its restart or a partition (Mesos ReregisterSlave). Its outstanding
   * offers are rescinded; tasks stay in the ledger for reconciliation against what the agent reports;
   * dynamic reservations and volumes stay, less those `dropped` because the agent came back without
   * what they were made from (functions/registrar/agent-readmission.ts). A gone agent may not come
   * back (it must register anew), as in Mesos.
   */
  async readmit(
    agentId: string,
    registration: AgentRegistration,
  ): Promise<
    Result<
      { agent: AgentRecord; rescinded: OfferRecord[]; wasUnreachable: boolean; dropped: Resource[] },
      RegistrarError<
        | 'UNKNOWN_AGENT'
        | 'AGENT_GONE'
        | 'INVALID_ARGUMENT'
        | 'INVALID_RESOURCES'
        | 'INSUFFICIENT_RESOURCES'
        | 'INSTANCE_MISMATCH'
      >
    >
  > {
    const details = validateRegistration(registration);
    if (!details.ok) return details;
    const result = await retrying(8, async () => {
      const current = await this.get(agentId);
      const change = readmitChange(current, agentId, details.value, this.context.now());
      if (!change.ok) return change;
      const outcome = await this.run(agentId, change.value.change);
      if (!outcome.written) return RETRY;
      const before = current as AgentRecord;
      return ok({
        agent: agentFromItem(outcome.item),
        rescinded: Object.values(before.offers),
        wasUnreachable: before.status === 'UNREACHABLE',
        dropped: change.value.dropped,
      });
    });
    if (result === RETRY) throw new Error(`Agent ${agentId} kept changing; re-admission gave up`);
    return result;
  }
  /**
   * What the heartbeat handler needs of these agents (absent: unknown): status, command queue,
   * attributes (the EC2 instance id). Eventually consistent: a heartbeat decides nothing durable.
   */
  async statuses(agentIds: readonly string[]): Promise<Map<string, AgentStatusView>> {
    const items = await this.context.batchGet(
      this.table,
      agentIds.map((agentId) => ({ agent_id: agentId })),
      { attributes: ['agent_id', 'status', 'command_queue_url', 'attributes', 'instance_session'] },
    );
    const found = new Map<string, AgentStatusView>();
    for (const item of items) {
      found.set(item.agent_id as string, {
        status: item.status as AgentStatus,
        commandQueueUrl: (item.command_queue_url ?? '') as string,
        attributes: item.attributes ? (JSON.parse(item.attributes as string) as Attribute[]) : [],
        ...(item.instance_session ? { instanceSession: item.instance_session as string } : {}),
      });
    }
    return found;
  }

  /**
   * Starts draining an agent, or records its progress: it is deactivated (no new offers) and, in the
   * same write, its outstanding offers are taken back. Returns the agent as written and those offers.
   */
  async setDrain(agentId: string, drain: AgentDrain): Promise<Result<Rescinding, RegistrarError<'UNKNOWN_AGENT'>>> {
    const outcome = await this.run(agentId, drainChange(drain), 'ALL_OLD');
    if (!outcome.written) return failure('UNKNOWN_AGENT', `Agent ${agentId} is not registered`);
    return ok(drained(outcome.item, drain));
  }

  /** Deactivates an agent (DEACTIVATE_AGENT): no new offers; its outstanding ones are taken back. */
  async deactivate(agentId: string): Promise<Result<Rescinding, ActivationError>> {
    const outcome = await this.run(agentId, deactivateChange(), 'ALL_OLD');
    if (!outcome.written) return activationRefusal(agentId, outcome.old);
    return ok(deactivated(outcome.item));
  }

  /** Reactivates a deactivated agent (REACTIVATE_AGENT), ending its drain if that is done. */
  async reactivate(agentId: string): Promise<Result<AgentRecord, ActivationError>> {
    const outcome = await this.run(agentId, reactivateChange(), 'ALL_NEW');
    if (!outcome.written) return activationRefusal(agentId, outcome.old);
    return ok(agentFromItem(outcome.item));
  }

  /**
   * Marks a silent agent unreachable: only if it is active and its last heartbeat is older than
   * `heartbeatBefore` (a late heartbeat wins the race). Its offers are rescinded.
   */
  async markUnreachable(
    agentId: string,
    heartbeatBefore: number,
  ): Promise<Result<Rescinding, RegistrarError<'UNKNOWN_AGENT' | 'AGENT_NOT_ACTIVE' | 'AGENT_ALIVE'>>> {
    return this.leaveActive(agentId, 'UNREACHABLE', heartbeatBefore);
  }

  /** Marks an agent gone for good (Mesos MARK_AGENT_GONE, or a terminated instance). */
  async markGone(
    agentId: string,
  ): Promise<Result<Rescinding, RegistrarError<'UNKNOWN_AGENT' | 'AGENT_NOT_ACTIVE' | 'AGENT_ALIVE'>>> {
    return this.leaveActive(agentId, 'GONE');
  }

  private async leaveActive(
    agentId: string,
    status: 'UNREACHABLE' | 'GONE',
    heartbeatBefore?: number,
  ): Promise<Result<Rescinding, RegistrarError<'UNKNOWN_AGENT' | 'AGENT_NOT_ACTIVE' | 'AGENT_ALIVE'>>> {
    const now = this.context.now();
    const outcome = await this.run(agentId, leaveActiveChange(status, now, heartbeatBefore), 'ALL_OLD');
    if (!outcome.written) {
      return leaveActiveRefusal(agentId, outcome.old ? agentFromItem(outcome.old) : undefined, status);
    }
    // The old image tells which offers this write rescinded; the new one follows from it.
    return ok(leftActive(outcome.item, status, now));
  }

  /**
   * Converts an agent's resources (an operator's RESERVE_RESOURCES, CREATE_VOLUMES, …): `decide` reads
   * the agent as it is and answers its next total and the offers to rescind for it, or why not; then ONE
   * write conditioned on the version it read (agent-conversion.ts), decided again on a lost race. Only a
   * registered, reachable agent converts (Mesos: "No agent found with specified ID").
   */
  async convert<E extends Failure>(
    agentId: string,
    decide: (agent: AgentRecord) => Result<{ total: Resource[]; rescind: OfferRecord[] }, E>,
  ): Promise<Result<Rescinding, E | RegistrarError<'UNKNOWN_AGENT'>>> {
    const result = await retrying(8, async () => {
      const agent = await this.get(agentId);
      if (agent?.status !== 'ACTIVE') return failure('UNKNOWN_AGENT', `No agent found with ID ${agentId}`);
      const decided = decide(agent);
      if (!decided.ok) return decided;
      const { total, rescind } = decided.value;
      const outcome = await this.run(agentId, convertChange(agent, total, rescind));
      if (!outcome.written) return RETRY;
      return ok({ agent: agentFromItem(outcome.item), rescinded: rescind });
    });
    if (result === RETRY) throw new Error(`Agent ${agentId} kept changing; the conversion gave up`);
    return result;
  }

  /**
   * Creates offers on an agent from the snapshot the allocator read. Fails with VERSION_CONFLICT when
   * the ledger changed since (a lost race: the allocator skips the agent or re-reads it).
   */
  async createOffers(
    agent: AgentRecord,
    requests: readonly OfferRequest[],
    makeOfferId: (agentId: string) => string = newOfferId,
  ): Promise<CreatedOffers> {
    const planned = createOffersChange(agent, requests, makeOfferId, this.context.now());
    if (!planned.ok) return planned;
    const { change, offers } = planned.value;
    const outcome = await this.grow(agent.agentId, change);
    if (outcome === 'FULL') return ledgerFull(agent.agentId);
    if (outcome.written) return ok({ agent: agentFromItem(outcome.item), offers });
    return createOffersRefusal(agent, offers, outcome.old ? agentFromItem(outcome.old) : undefined);
  }

  /**
   * createOffers for up to BATCH_STATEMENT_LIMIT agents (each once) in ONE request: a PartiQL batch whose
   * statements are the same conditional writes, each decided alone (an allocation pass over many agents
   * sends a request per 25, not one per agent). A write that lost its race returns the agent as it now is
   * (`current`); one that failed otherwise (a ledger too large, throttling, an item without the executors
   * map) is made again as a single write, which says why.
   */
  async createOffersBatch(
    entries: ReadonlyArray<{ readonly agent: AgentRecord; readonly requests: readonly OfferRequest[] }>,
    makeOfferId: (agentId: string) => string = newOfferId,
  ): Promise<BatchedOffers[]> {
    const now = this.context.now();
    const planned = entries.map(({ agent, requests }) => plannedOffers(agent, requests, makeOfferId, now));
    const sent = entries.flatMap(({ agent }, at) => {
      const offers = planned[at] as (typeof planned)[number];
      return offers.ok ? [{ agent, offers: offers.value, at }] : [];
    });
    const outcomes = await this.context.executeBatch(
      sent.map(({ agent, offers }) => ({
        table: this.table,
        key: { agent_id: agent.agentId },
        ...createOffersStatement(this.table, agent, offers),
      })),
    );
    const decided = await Promise.all(
      sent.map(async ({ agent, offers, at }, i): Promise<BatchedOffers> => {
        const outcome = outcomes[i] as (typeof outcomes)[number];
        if (outcome.written) return ok({ agent: offeredAgent(agent, offers), offers });
        const old = 'old' in outcome && outcome.old ? agentFromItem(outcome.old) : undefined;
        const refusedHere =
          !('error' in outcome) && (old?.version !== agent.version || old.status !== 'ACTIVE' || old.deactivated);
        if (!refusedHere)
          return this.createOffers(agent, (entries[at] as (typeof entries)[number]).requests, makeOfferId);
        const refused = createOffersRefusal(agent, offers, old);
        return refused.ok || !old ? refused : { ...refused, current: old };
      }),
    );
    const byEntry = new Map(sent.map(({ at }, i) => [at, decided[i] as BatchedOffers]));
    return planned.map((offers, at) => (offers.ok ? (byEntry.get(at) as BatchedOffers) : offers));
  }

  /**
   * Accepts offers into tasks: ONE conditional write that removes the offers and adds the tasks'
   * resources to the ledger. `offers` are the records as read; the write checks they are still there,
   * owned by the framework and unchanged. Unused offered resources simply become free.
   */
  async acceptOffers(
    input: AcceptInput,
  ): Promise<Result<AcceptedTasks & { agent: AgentRecord }, AcceptError | RegistrarError<'LEDGER_FULL'>>> {
    const now = this.context.now();
    const planned = acceptChange(input, now);
    if (!planned.ok) return planned;
    const { change, ...accepted } = planned.value;
    const steps = fitsOneWrite(change)
      ? ok([{ input, tasks: accepted.tasks, executors: accepted.executors, change }])
      : acceptSteps(input, accepted, () => newOfferId(input.agentId), now);
    if (!steps.ok) return steps;
    const written: AllocatedTask[] = [];
    const charged: AllocatedExecutor[] = [];
    let agent: AgentRecord | undefined;
    for (const [index, step] of steps.value.entries()) {
      const done = await this.acceptStep(step);
      if (done.ok) {
        written.push(...step.tasks);
        charged.push(...step.executors);
        agent = done.value;
        continue;
      }
      if (index === 0) return done;
      // A later write failed (the hold expired, a task id already there): the rest is not launched.
      await this.removeOffers({ agentId: input.agentId, offerIds: step.input.offers.map((offer) => offer.offerId) });
      const notWritten = accepted.tasks.slice(written.length);
      const partial = { tasks: written, executors: charged, agent: agent as AgentRecord };
      return ok({ ...accepted, ...partial, notWritten, why: done.error.message });
    }
    return ok({ ...accepted, tasks: written, executors: charged, agent: agent as AgentRecord });
  }

  /** One write of an accept; a ledger that would outgrow DynamoDB's item limit refuses it. */
  private async acceptStep(
    step: AcceptStep,
  ): Promise<Result<AgentRecord, AcceptError | RegistrarError<'LEDGER_FULL'>>> {
    const outcome = await this.grow(step.input.agentId, step.change);
    if (outcome === 'FULL') return ledgerFull(step.input.agentId);
    if (outcome.written) return ok(agentFromItem(outcome.item));
    const refused = acceptRefusal(
      step.input,
      { tasks: [...step.tasks], executors: [...step.executors], unused: [] },
      outcome.old ? agentFromItem(outcome.old) : undefined,
    );
    return refused.ok ? ok(refused.value.agent) : refused;
  }

  /** A change that adds to an agent's item: 'FULL' when the item would pass DynamoDB's 400 KB. */
  private async grow(agentId: string, change: ItemChange): Promise<WriteOutcome | 'FULL'> {
    try {
      return await this.run(agentId, change);
    } catch (error) {
      if ((error as Error).name === 'ValidationException' && /item size/i.test((error as Error).message)) {
        return 'FULL';
      }
      throw error;
    }
  }

  /** DECLINE, RESCIND, offer expiry: see LedgerReleases.removeOffers. */
  removeOffers(input: Parameters<LedgerReleases['removeOffers']>[0]): ReturnType<LedgerReleases['removeOffers']> {
    return this.releases.removeOffers(input);
  }

  /** Offer expiry in an allocation pass: see LedgerReleases.removeOffersBatch. */
  removeOffersBatch(
    entries: Parameters<LedgerReleases['removeOffersBatch']>[0],
  ): ReturnType<LedgerReleases['removeOffersBatch']> {
    return this.releases.removeOffersBatch(entries);
  }

  /** Terminal tasks, and the DEFAULT executors they ended: see LedgerReleases.releaseTasks. */
  releaseTasks(input: Parameters<LedgerReleases['releaseTasks']>[0]): ReturnType<LedgerReleases['releaseTasks']> {
    return this.releases.releaseTasks(input);
  }

  /** Ended executors: see LedgerReleases.releaseExecutors. */
  releaseExecutors(
    input: Parameters<LedgerReleases['releaseExecutors']>[0],
  ): ReturnType<LedgerReleases['releaseExecutors']> {
    return this.releases.releaseExecutors(input);
  }

  /** Each agent holding executors of the framework, with their ids (framework removal gives them back). */
  async executorsOf(frameworkId: string): Promise<Map<string, string[]>> {
    const held = new Map<string, string[]>();
    for await (const item of this.context.scan(this.table, ['agent_id', 'executors'])) {
      const executors = Object.values((item.executors ?? {}) as Record<string, StoredExecutor>);
      const ids = executors.filter((stored) => stored.framework_id === frameworkId).map((stored) => stored.executor_id);
      if (ids.length > 0) held.set(item.agent_id as string, ids);
    }
    return held;
  }
}
