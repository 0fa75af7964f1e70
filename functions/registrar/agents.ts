/**
 * The agents' store: agent items on DynamoDB, read consistently, and each change of an agent's item
 * (agent-changes.ts: registration, offers, accepts, releases, drains, status) run as ONE conditional
 * write. What the records and items are is in agent-records.ts; the ledger's arithmetic in ledger.ts.
 */
import type { Attribute } from '#shared/protocol/mesos.js';
import { newAgentId, newOfferId, taskKey } from '#shared/ids.js';
import { ok, type Result } from '#shared/result.js';
import { BatchGetCommand } from '@aws-sdk/lib-dynamodb';
import {
  acceptChange,
  acceptRefusal,
  admittedItem,
  createOffersChange,
  createOffersRefusal,
  drainChange,
  drained,
  leaveActiveChange,
  leaveActiveRefusal,
  leftActive,
  offersRemoved,
  readmitChange,
  releaseTasksChange,
  removeOffersChange,
  tasksReleased,
  type AcceptError,
  type AcceptInput,
  type AcceptedTasks,
} from './agent-changes.js';
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
  type StoredOffer,
} from './agent-records.js';
import { RETRY, retrying, type RegistrarContext } from './context.js';
import { failure, type RegistrarError } from './errors.js';
import type { ItemChange, WriteOutcome } from './expression.js';
import type { AllocatedTask, OfferRecord } from './ledger.js';

type Rescinding = { agent: AgentRecord; rescinded: OfferRecord[] };

export class AgentRegistry {
  constructor(private readonly context: RegistrarContext) {}

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

  /** Every agent (a consistent scan, page by page): the allocator's and the sweeper's snapshot. */
  async *list(): AsyncGenerator<AgentRecord> {
    for await (const item of this.context.scan(this.table)) yield agentFromItem(item);
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
   * offers are rescinded; tasks stay in the ledger for reconciliation against what the agent reports.
   * A gone agent may not come back (it must register anew), as in Mesos.
   */
  async readmit(
    agentId: string,
    registration: AgentRegistration,
  ): Promise<
    Result<
      { agent: AgentRecord; rescinded: OfferRecord[]; wasUnreachable: boolean },
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
      const outcome = await this.run(agentId, change.value);
      if (!outcome.written) return RETRY;
      const before = current as AgentRecord;
      return ok({
        agent: agentFromItem(outcome.item),
        rescinded: Object.values(before.offers),
        wasUnreachable: before.status === 'UNREACHABLE',
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
    const found = new Map<string, AgentStatusView>();
    const ids = [...new Set(agentIds)].filter((id) => id !== '');
    for (let start = 0; start < ids.length; start += 100) {
      let keys: Record<string, unknown>[] = ids.slice(start, start + 100).map((agentId) => ({ agent_id: agentId }));
      while (keys.length > 0) {
        const result = await this.context.metrics.time('registrar/state_fetch_ms', () =>
          this.context.documents.send(
            new BatchGetCommand({
              RequestItems: {
                [this.table]: {
                  Keys: keys,
                  ProjectionExpression: 'agent_id, #status, command_queue_url, attributes, instance_session',
                  ExpressionAttributeNames: { '#status': 'status' },
                },
              },
            }),
          ),
        );
        for (const item of result.Responses?.[this.table] ?? []) {
          found.set(item.agent_id as string, {
            status: item.status as AgentStatus,
            commandQueueUrl: (item.command_queue_url ?? '') as string,
            attributes: item.attributes ? (JSON.parse(item.attributes as string) as Attribute[]) : [],
            ...(item.instance_session ? { instanceSession: item.instance_session as string } : {}),
          });
        }
        keys = (result.UnprocessedKeys?.[this.table]?.Keys ?? []) as Record<string, unknown>[];
      }
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
   * Creates offers on an agent from the snapshot the allocator read. Fails with VERSION_CONFLICT when
   * the ledger changed since (a lost race: the allocator skips the agent or re-reads it).
   */
  async createOffers(
    agent: AgentRecord,
    requests: readonly OfferRequest[],
    makeOfferId: (agentId: string) => string = newOfferId,
  ): Promise<
    Result<
      { agent: AgentRecord; offers: OfferRecord[] },
      RegistrarError<
        | 'VERSION_CONFLICT'
        | 'UNKNOWN_AGENT'
        | 'AGENT_NOT_ACTIVE'
        | 'INSUFFICIENT_RESOURCES'
        | 'INVALID_ARGUMENT'
        | 'INVALID_RESOURCES'
      >
    >
  > {
    const planned = createOffersChange(agent, requests, makeOfferId, this.context.now());
    if (!planned.ok) return planned;
    const { change, offers } = planned.value;
    const outcome = await this.run(agent.agentId, change);
    if (outcome.written) return ok({ agent: agentFromItem(outcome.item), offers });
    return createOffersRefusal(agent, offers, outcome.old ? agentFromItem(outcome.old) : undefined);
  }

  /**
   * Accepts offers into tasks: ONE conditional write that removes the offers and adds the tasks'
   * resources to the ledger. `offers` are the records as read; the write checks they are still there,
   * owned by the framework and unchanged. Unused offered resources simply become free.
   */
  async acceptOffers(input: AcceptInput): Promise<Result<AcceptedTasks & { agent: AgentRecord }, AcceptError>> {
    const planned = acceptChange(input, this.context.now());
    if (!planned.ok) return planned;
    const { change, ...accepted } = planned.value;
    const outcome = await this.run(input.agentId, change);
    if (outcome.written) return ok({ ...accepted, agent: agentFromItem(outcome.item) });
    return acceptRefusal(input, accepted, outcome.old ? agentFromItem(outcome.old) : undefined);
  }

  /**
   * Removes offers (DECLINE, RESCIND, offer expiry). Offers already gone are ignored, as Mesos ignores
   * declines of unknown offers; with `frameworkId`, offers of other frameworks make the call fail.
   */
  async removeOffers(input: {
    agentId: string;
    offerIds: readonly string[];
    frameworkId?: string;
  }): Promise<
    Result<{ removed: OfferRecord[]; agent: AgentRecord }, RegistrarError<'OFFER_NOT_OWNED' | 'UNKNOWN_AGENT'>>
  > {
    const offerIds = [...new Set(input.offerIds)];
    const result = await this.removeEntries(input.agentId, removeOffersChange(offerIds, input.frameworkId));
    if (!result.ok) return result;
    return offersRemoved(result.value.old, result.value.written, offerIds, input.frameworkId);
  }

  /** Gives tasks' resources back (terminal tasks). Tasks not in the ledger are ignored: idempotent. */
  async releaseTasks(input: {
    agentId: string;
    tasks: ReadonlyArray<{ frameworkId: string; taskId: string }>;
  }): Promise<Result<{ released: AllocatedTask[]; agent: AgentRecord }, RegistrarError<'UNKNOWN_AGENT'>>> {
    const keys = [...new Set(input.tasks.map((task) => taskKey(task.frameworkId, task.taskId)))];
    const result = await this.removeEntries(input.agentId, releaseTasksChange(keys));
    if (!result.ok) return result;
    return ok(tasksReleased(result.value.old, result.value.written, keys));
  }

  /**
   * Runs a removal of ledger entries (undefined: nothing to remove, so no write). Returns the item as
   * it was before, and whether anything was removed.
   */
  private async removeEntries(
    agentId: string,
    change: ItemChange | undefined,
  ): Promise<Result<{ old: AgentRecord; written: boolean }, RegistrarError<'UNKNOWN_AGENT'>>> {
    if (!change) {
      const current = await this.get(agentId);
      return current
        ? ok({ old: current, written: false })
        : failure('UNKNOWN_AGENT', `Agent ${agentId} is not registered`);
    }
    const outcome = await this.run(agentId, change, 'ALL_OLD');
    if (outcome.written) return ok({ old: agentFromItem(outcome.item), written: true });
    if (!outcome.old) return failure('UNKNOWN_AGENT', `Agent ${agentId} is not registered`);
    return ok({ old: agentFromItem(outcome.old), written: false });
  }
}
