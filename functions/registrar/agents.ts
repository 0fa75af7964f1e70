/**
 * Agents and their ledgers (ARCHITECTURE §3, flows 1, 2, 4).
 *
 * An agent item carries its whole ledger: total resources, outstanding offers and the resources of each
 * task placed on it. Every hot-path change is ONE conditional UpdateItem of that item:
 * - creating offers is conditioned on the ledger `version` the allocator read (it takes free resources);
 * - accepting offers is conditioned on the offers still being there, owned and unchanged — not on the
 *   version, since it only moves resources from offered to allocated (never more than was offered),
 *   so concurrent accepts of different offers on one agent do not conflict;
 * - declining, rescinding and releasing only give resources back.
 * Every change bumps `version`, so a reader with an older copy can never create offers from it.
 */
import { AGENT_CAPABILITIES, type Attribute, type DomainInfo, type Resource } from '../../shared/protocol/mesos.js';
import type { Isolation } from '../../shared/protocol/internal.js';
import { AttributeSchema, DomainInfoSchema } from '../../shared/protocol/mesos.js';
import { describeZodError } from '../../shared/protocol/errors.js';
import { newAgentId, newOfferId } from '../../shared/ids.js';
import { ok, type Result } from '../../shared/result.js';
import { allocate, contains, unallocate } from '../../shared/resources/resources.js';
import { canonicalResources, parseResources } from '../../shared/resources/parse.js';
import { isAllocatableTo } from '../../shared/resources/resource.js';
import { validateRole } from '../../shared/roles.js';
import { BatchGetCommand } from '@aws-sdk/lib-dynamodb';
import { z } from 'zod';
import { Expression, RETRY, retrying, type Item, type RegistrarContext } from './context.js';
import { failure, type RegistrarError } from './errors.js';
import { taskKey } from '../../shared/ids.js';
import { allocatedResources, takeInTurn, type AllocatedTask, type OfferRecord } from './ledger.js';

export type AgentStatus = 'ACTIVE' | 'UNREACHABLE' | 'GONE';

/** An agent being drained (scale-in, Spot interruption): its tasks have until `deadline` to finish. */
export interface AgentDrain {
  readonly startedAt: number;
  /** After this the tasks still running are killed (the agent is sent DRAIN). */
  readonly deadline: number;
  /** When the agent was sent DRAIN. */
  readonly killSentAt?: number;
}

/** An agent as the heartbeat handler sees it. */
export interface AgentStatusView {
  readonly status: AgentStatus;
  readonly commandQueueUrl: string;
  readonly attributes: Attribute[];
}

export interface AgentRecord {
  readonly agentId: string;
  readonly hostname: string;
  /** Its address for frameworks (offers carry it in `url`); the hostname when it reported none. */
  readonly ip: string;
  readonly port: number;
  /** The agent's SQS command queue (master -> agent). */
  readonly commandQueueUrl: string;
  readonly containerizers: string[];
  /** What isolation the agent could set up, as it reported it. */
  readonly isolation?: Isolation;
  /** The principal the agent authenticated as ("" without authentication); only it may act for the agent. */
  readonly principal: string;
  readonly attributes: Attribute[];
  readonly domain?: DomainInfo;
  readonly capabilities: string[];
  readonly total: Resource[];
  readonly offers: Readonly<Record<string, OfferRecord>>;
  readonly tasks: Readonly<Record<string, AllocatedTask>>;
  readonly version: number;
  readonly status: AgentStatus;
  /** Operator DEACTIVATE_AGENT / draining: no new offers. */
  readonly deactivated: boolean;
  readonly drain?: AgentDrain;
  readonly registeredAt: number;
  readonly reregisteredAt?: number;
  /**
   * When the agent last spoke to the master through its item: its (re-)registration. Its heartbeats
   * since are in the heartbeat log (registrar/heartbeats.ts); the sweeper takes the later of the two.
   */
  readonly lastHeartbeat: number;
  readonly unreachableAt?: number;
}

export interface AgentRegistration {
  readonly hostname: string;
  readonly ip?: string;
  readonly port?: number;
  readonly commandQueueUrl?: string;
  readonly containerizers?: readonly string[];
  readonly isolation?: Isolation;
  readonly principal?: string;
  /** Mesos v1 JSON resources; validated here. */
  readonly resources: unknown;
  readonly attributes?: unknown;
  readonly domain?: unknown;
  readonly capabilities?: readonly string[];
}

export interface OfferRequest {
  readonly frameworkId: string;
  readonly role: string;
  /** Canonical resources taken from what is free on the agent. */
  readonly resources: readonly Resource[];
  readonly expiresAt?: number;
}

export interface LaunchRequest {
  readonly taskId: string;
  /** Mesos v1 JSON resources of the task (and of a new executor); validated here. */
  readonly resources: unknown;
}

const KNOWN_CAPABILITIES = new Set<string>(AGENT_CAPABILITIES);
const RegistrationDetails = z.object({
  attributes: z.array(AttributeSchema).optional(),
  domain: DomainInfoSchema.optional(),
});

// ------------------------------------------------------------------------------------------ storage

interface StoredOffer {
  framework_id: string;
  role: string;
  resources: string;
  created_at: number;
  expires_at?: number;
}

interface StoredTask {
  framework_id: string;
  task_id: string;
  role: string;
  resources: string;
  launch_id: string;
  launched_at: number;
}

function storedOffer(offer: OfferRecord): StoredOffer {
  return {
    framework_id: offer.frameworkId,
    role: offer.role,
    resources: JSON.stringify(offer.resources),
    created_at: offer.createdAt,
    ...(offer.expiresAt !== undefined ? { expires_at: offer.expiresAt } : {}),
  };
}

function offerFromItem(agentId: string, offerId: string, stored: StoredOffer): OfferRecord {
  return {
    offerId,
    agentId,
    frameworkId: stored.framework_id,
    role: stored.role,
    resources: JSON.parse(stored.resources) as Resource[],
    createdAt: stored.created_at,
    ...(stored.expires_at !== undefined ? { expiresAt: stored.expires_at } : {}),
  };
}

function taskFromItem(stored: StoredTask): AllocatedTask {
  return {
    frameworkId: stored.framework_id,
    taskId: stored.task_id,
    role: stored.role,
    resources: JSON.parse(stored.resources) as Resource[],
    launchId: stored.launch_id,
    launchedAt: stored.launched_at,
  };
}

export function agentFromItem(item: Item): AgentRecord {
  const agentId = item.agent_id as string;
  const offers = (item.offers ?? {}) as Record<string, StoredOffer>;
  const tasks = (item.tasks ?? {}) as Record<string, StoredTask>;
  return {
    agentId,
    hostname: item.hostname as string,
    ip: (item.ip ?? item.hostname) as string,
    port: item.port as number,
    commandQueueUrl: (item.command_queue_url ?? '') as string,
    principal: (item.principal ?? '') as string,
    containerizers: (item.containerizers ?? []) as string[],
    ...(item.isolation ? { isolation: JSON.parse(item.isolation as string) as Isolation } : {}),
    attributes: JSON.parse(item.attributes as string) as Attribute[],
    ...(item.domain ? { domain: JSON.parse(item.domain as string) as DomainInfo } : {}),
    capabilities: (item.capabilities ?? []) as string[],
    total: JSON.parse(item.total as string) as Resource[],
    offers: Object.fromEntries(Object.entries(offers).map(([id, o]) => [id, offerFromItem(agentId, id, o)])),
    tasks: Object.fromEntries(Object.entries(tasks).map(([key, t]) => [key, taskFromItem(t)])),
    version: item.version as number,
    status: item.status as AgentStatus,
    deactivated: item.deactivated === true,
    ...(item.drain ? { drain: item.drain as AgentDrain } : {}),
    registeredAt: item.registered_at as number,
    ...(item.reregistered_at !== undefined ? { reregisteredAt: item.reregistered_at as number } : {}),
    lastHeartbeat: item.last_heartbeat as number,
    ...(item.unreachable_at !== undefined ? { unreachableAt: item.unreachable_at as number } : {}),
  };
}

type AgentDetails = Pick<
  AgentRecord,
  | 'hostname'
  | 'ip'
  | 'port'
  | 'attributes'
  | 'capabilities'
  | 'total'
  | 'commandQueueUrl'
  | 'containerizers'
  | 'principal'
> & {
  domain?: DomainInfo;
  isolation?: Isolation;
};

function validateRegistration(
  registration: AgentRegistration,
): Result<AgentDetails, RegistrarError<'INVALID_ARGUMENT' | 'INVALID_RESOURCES'>> {
  if (typeof registration.hostname !== 'string' || registration.hostname === '') {
    return failure('INVALID_ARGUMENT', 'An agent needs a hostname');
  }
  const port = registration.port ?? 5051;
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    return failure('INVALID_ARGUMENT', `Invalid agent port ${String(port)}`);
  }
  const details = RegistrationDetails.safeParse({ attributes: registration.attributes, domain: registration.domain });
  if (!details.success) return failure('INVALID_ARGUMENT', describeZodError(details.error));
  const capabilities = [...(registration.capabilities ?? [])];
  const unknown = capabilities.find((capability) => !KNOWN_CAPABILITIES.has(capability));
  if (unknown !== undefined) return failure('INVALID_ARGUMENT', `Unknown agent capability '${unknown}'`);
  const total = parseResources(registration.resources);
  if (!total.ok) return failure('INVALID_RESOURCES', total.error.message);
  if (total.value.some((resource) => resource.allocation_info)) {
    return failure('INVALID_RESOURCES', "An agent's total resources cannot be allocated to a role");
  }
  const containerizers = [...(registration.containerizers ?? [])];
  if (containerizers.some((name) => name !== 'docker' && name !== 'mesos')) {
    return failure('INVALID_ARGUMENT', `Unknown containerizer in ${containerizers.join(',')}`);
  }
  return ok({
    hostname: registration.hostname,
    ip: registration.ip ?? registration.hostname,
    port,
    commandQueueUrl: registration.commandQueueUrl ?? '',
    containerizers,
    principal: registration.principal ?? '',
    ...(registration.isolation ? { isolation: registration.isolation } : {}),
    attributes: details.data.attributes ?? [],
    ...(details.data.domain ? { domain: details.data.domain } : {}),
    capabilities,
    total: total.value,
  });
}

function detailAttributes(details: AgentDetails): Item {
  return {
    hostname: details.hostname,
    ip: details.ip,
    port: details.port,
    command_queue_url: details.commandQueueUrl,
    containerizers: details.containerizers,
    principal: details.principal,
    ...(details.isolation ? { isolation: JSON.stringify(details.isolation) } : {}),
    attributes: JSON.stringify(details.attributes),
    ...(details.domain ? { domain: JSON.stringify(details.domain) } : {}),
    capabilities: details.capabilities,
    total: JSON.stringify(details.total),
  };
}

// --------------------------------------------------------------------------------------------- store

export class AgentRegistry {
  constructor(private readonly context: RegistrarContext) {}

  private get table(): string {
    return this.context.tables.agents;
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
    const now = this.context.now();
    const item: Item = {
      agent_id: agentId,
      ...detailAttributes(details.value),
      offers: {},
      tasks: {},
      version: 1,
      status: 'ACTIVE',
      deactivated: false,
      registered_at: now,
      last_heartbeat: now,
    };
    const outcome = await this.context.put({
      TableName: this.table,
      Item: item,
      ConditionExpression: 'attribute_not_exists(agent_id)',
    });
    if (!outcome.written) throw new Error(`Agent id collision on ${String(item.agent_id)}`);
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
        'UNKNOWN_AGENT' | 'AGENT_GONE' | 'INVALID_ARGUMENT' | 'INVALID_RESOURCES' | 'INSUFFICIENT_RESOURCES'
      >
    >
  > {
    const details = validateRegistration(registration);
    if (!details.ok) return details;
    const result = await retrying(8, async () => {
      const current = await this.get(agentId);
      if (!current) return failure('UNKNOWN_AGENT', `Agent ${agentId} is not registered`);
      if (current.status === 'GONE') return failure('AGENT_GONE', `Agent ${agentId} has been marked gone`);
      if (current.principal !== details.value.principal) {
        return failure('INVALID_ARGUMENT', `Agent ${agentId} was registered by another principal`);
      }
      if (!contains(details.value.total, unallocate(allocatedResources(current)))) {
        return failure(
          'INSUFFICIENT_RESOURCES',
          `Agent ${agentId} reports fewer resources than its tasks hold; it must drain before shrinking`,
        );
      }
      const now = this.context.now();
      const x = new Expression();
      const sets = Object.entries({
        ...detailAttributes(details.value),
        status: 'ACTIVE',
        offers: {},
        reregistered_at: now,
        last_heartbeat: now,
        version: current.version + 1,
      }).map(([name, value]) => `${x.name(name)} = ${x.value(value)}`);
      const outcome = await this.context.update({
        TableName: this.table,
        Key: { agent_id: agentId },
        UpdateExpression: `SET ${sets.join(', ')} REMOVE ${x.name('unreachable_at')}`,
        ConditionExpression: `${x.name('version')} = ${x.value(current.version)}`,
        ...x.attributes(),
      });
      if (!outcome.written) return RETRY;
      return ok({
        agent: agentFromItem(outcome.item),
        rescinded: Object.values(current.offers),
        wasUnreachable: current.status === 'UNREACHABLE',
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
                  ProjectionExpression: 'agent_id, #status, command_queue_url, attributes',
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
  async setDrain(
    agentId: string,
    drain: AgentDrain,
  ): Promise<Result<{ agent: AgentRecord; rescinded: OfferRecord[] }, RegistrarError<'UNKNOWN_AGENT'>>> {
    const x = new Expression();
    const version = x.name('version');
    const outcome = await this.context.update(
      {
        TableName: this.table,
        Key: { agent_id: agentId },
        UpdateExpression:
          `SET ${x.name('deactivated')} = ${x.value(true)}, ${x.name('drain')} = ${x.value(drain)}, ` +
          `${x.name('offers')} = ${x.value({})}, ${version} = ${version} + ${x.value(1)}`,
        ConditionExpression: `attribute_exists(${x.name('agent_id')})`,
        ...x.attributes(),
      },
      'ALL_OLD',
    );
    if (!outcome.written) return failure('UNKNOWN_AGENT', `Agent ${agentId} is not registered`);
    const old = agentFromItem(outcome.item);
    return ok({
      agent: { ...old, deactivated: true, drain, offers: {}, version: old.version + 1 },
      rescinded: Object.values(old.offers),
    });
  }

  /**
   * Marks a silent agent unreachable: only if it is active and its last heartbeat is older than
   * `heartbeatBefore` (a late heartbeat wins the race). Its offers are rescinded.
   */
  async markUnreachable(
    agentId: string,
    heartbeatBefore: number,
  ): Promise<
    Result<
      { agent: AgentRecord; rescinded: OfferRecord[] },
      RegistrarError<'UNKNOWN_AGENT' | 'AGENT_NOT_ACTIVE' | 'AGENT_ALIVE'>
    >
  > {
    return this.leaveActive(agentId, 'UNREACHABLE', heartbeatBefore);
  }

  /** Marks an agent gone for good (Mesos MARK_AGENT_GONE, or a terminated instance). */
  async markGone(
    agentId: string,
  ): Promise<
    Result<
      { agent: AgentRecord; rescinded: OfferRecord[] },
      RegistrarError<'UNKNOWN_AGENT' | 'AGENT_NOT_ACTIVE' | 'AGENT_ALIVE'>
    >
  > {
    return this.leaveActive(agentId, 'GONE');
  }

  private async leaveActive(
    agentId: string,
    status: 'UNREACHABLE' | 'GONE',
    heartbeatBefore?: number,
  ): Promise<
    Result<
      { agent: AgentRecord; rescinded: OfferRecord[] },
      RegistrarError<'UNKNOWN_AGENT' | 'AGENT_NOT_ACTIVE' | 'AGENT_ALIVE'>
    >
  > {
    const now = this.context.now();
    const x = new Expression();
    const conditions = [`attribute_exists(${x.name('agent_id')})`];
    if (status === 'UNREACHABLE') conditions.push(`${x.name('status')} = ${x.value('ACTIVE')}`);
    else conditions.push(`${x.name('status')} <> ${x.value('GONE')}`);
    if (heartbeatBefore !== undefined) {
      conditions.push(`${x.name('last_heartbeat')} < ${x.value(heartbeatBefore)}`);
    }
    const stamp = status === 'GONE' ? 'gone_at' : 'unreachable_at';
    const outcome = await this.context.update(
      {
        TableName: this.table,
        Key: { agent_id: agentId },
        UpdateExpression:
          `SET ${x.name('status')} = ${x.value(status)}, ${x.name(stamp)} = ${x.value(now)}, ` +
          `${x.name('offers')} = ${x.value({})}, ${x.name('version')} = ${x.name('version')} + ${x.value(1)}`,
        ConditionExpression: conditions.join(' AND '),
        ...x.attributes(),
      },
      'ALL_OLD',
    );
    if (!outcome.written) {
      if (!outcome.old) return failure('UNKNOWN_AGENT', `Agent ${agentId} is not registered`);
      const old = agentFromItem(outcome.old);
      if (status === 'UNREACHABLE' && old.status !== 'ACTIVE') {
        return failure('AGENT_NOT_ACTIVE', `Agent ${agentId} is already ${old.status}`);
      }
      if (status === 'GONE' && old.status === 'GONE') return failure('AGENT_NOT_ACTIVE', `Agent ${agentId} is gone`);
      return failure('AGENT_ALIVE', `Agent ${agentId} sent a heartbeat at ${old.lastHeartbeat}`);
    }
    // The old image tells which offers this write rescinded; the new one follows from it.
    const old = agentFromItem(outcome.item);
    const agent: AgentRecord = {
      ...old,
      status,
      offers: {},
      version: old.version + 1,
      ...(status === 'UNREACHABLE' ? { unreachableAt: now } : {}),
    };
    return ok({ agent, rescinded: Object.values(old.offers) });
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
    if (agent.status !== 'ACTIVE' || agent.deactivated) {
      return failure('AGENT_NOT_ACTIVE', `Agent ${agent.agentId} takes no offers (${agent.status})`);
    }
    const now = this.context.now();
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
      ...Object.values(agent.tasks).map((task) => task.resources),
      ...offers.map((offer) => offer.resources),
    ];
    if (!takeInTurn(agent.total, held).fits) {
      return failure('INSUFFICIENT_RESOURCES', `The offers exceed what is free on agent ${agent.agentId}`);
    }
    const x = new Expression();
    const sets = offers.map((offer) => `${x.path('offers', offer.offerId)} = ${x.value(storedOffer(offer))}`);
    const version = x.name('version');
    const status = x.name('status');
    const outcome = await this.context.update({
      TableName: this.table,
      Key: { agent_id: agent.agentId },
      UpdateExpression: `SET ${[...sets, `${version} = ${x.value(agent.version + 1)}`].join(', ')}`,
      ConditionExpression:
        `${version} = ${x.value(agent.version)} AND ${status} = ${x.value('ACTIVE')} AND ` +
        `${x.name('deactivated')} = ${x.value(false)}`,
      ...x.attributes(),
    });
    if (outcome.written) return ok({ agent: agentFromItem(outcome.item), offers });
    if (!outcome.old) return failure('UNKNOWN_AGENT', `Agent ${agent.agentId} is not registered`);
    const old = agentFromItem(outcome.old);
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

  /**
   * Accepts offers into tasks: ONE conditional write that removes the offers and adds the tasks'
   * resources to the ledger. `offers` are the records as read; the write checks they are still there,
   * owned by the framework and unchanged. Unused offered resources simply become free.
   */
  async acceptOffers(input: {
    agentId: string;
    frameworkId: string;
    offers: readonly OfferRecord[];
    launches: readonly LaunchRequest[];
    /** Unique per ACCEPT; recorded with each task so that a retried write recognises its own result. */
    launchId: string;
    /**
     * A new total when the ACCEPT also reserves, unreserves, creates or destroys (offer operations
     * convert the agent's resources): the write then checks the total is still `expected`, and the
     * tasks must fit in `offered`, the offers' resources after those conversions.
     */
    total?: { expected: readonly Resource[]; next: readonly Resource[]; offered: readonly Resource[] };
  }): Promise<
    Result<
      { agent: AgentRecord; tasks: AllocatedTask[]; unused: Resource[] },
      RegistrarError<
        | 'OFFER_GONE'
        | 'OFFER_NOT_OWNED'
        | 'INVALID_ARGUMENT'
        | 'INVALID_RESOURCES'
        | 'INSUFFICIENT_RESOURCES'
        | 'DUPLICATE_TASK'
      >
    >
  > {
    const { agentId, frameworkId, offers, launches, launchId } = input;
    const now = this.context.now();
    if (offers.length === 0) return failure('INVALID_ARGUMENT', 'No offers to accept');
    if (new Set(offers.map((offer) => offer.offerId)).size !== offers.length) {
      return failure('INVALID_ARGUMENT', 'Duplicate offer ids');
    }
    if (offers.some((offer) => offer.agentId !== agentId)) {
      return failure('INVALID_ARGUMENT', 'Offers from more than one agent');
    }
    if (offers.some((offer) => offer.frameworkId !== frameworkId)) {
      return failure('OFFER_NOT_OWNED', `Offers not made to framework ${frameworkId}`);
    }
    const role = (offers[0] as OfferRecord).role;
    if (offers.some((offer) => offer.role !== role)) {
      return failure('INVALID_ARGUMENT', 'Offers allocated to more than one role');
    }
    const tasks: AllocatedTask[] = [];
    for (const launch of launches) {
      const resources = parseResources(launch.resources);
      if (!resources.ok) return failure('INVALID_RESOURCES', resources.error.message);
      if (typeof launch.taskId !== 'string' || launch.taskId === '') {
        return failure('INVALID_ARGUMENT', 'A task needs an id');
      }
      tasks.push({
        frameworkId,
        taskId: launch.taskId,
        role,
        resources: allocate(resources.value, role),
        launchId,
        launchedAt: now,
      });
    }
    const keys = tasks.map((task) => taskKey(task.frameworkId, task.taskId));
    if (new Set(keys).size !== keys.length) return failure('DUPLICATE_TASK', 'A task id appears twice in one accept');
    const offered = input.total ? input.total.offered : offers.flatMap((offer) => offer.resources);
    const fit = takeInTurn(
      offered,
      tasks.map((task) => task.resources),
    );
    if (!fit.fits) {
      return failure('INSUFFICIENT_RESOURCES', `Task ${tasks[fit.index]?.taskId} asks for more than the offers left`);
    }

    const x = new Expression();
    const conditions: string[] = [];
    const removes: string[] = [];
    for (const offer of offers) {
      const path = x.path('offers', offer.offerId);
      conditions.push(
        `attribute_exists(${path})`,
        `${path}.${x.name('framework_id')} = ${x.value(frameworkId)}`,
        `${path}.${x.name('resources')} = ${x.value(JSON.stringify(offer.resources))}`,
      );
      removes.push(path);
    }
    const sets: string[] = [];
    tasks.forEach((task, i) => {
      const path = x.path('tasks', keys[i] as string);
      conditions.push(`attribute_not_exists(${path})`);
      sets.push(
        `${path} = ${x.value({
          framework_id: task.frameworkId,
          task_id: task.taskId,
          role: task.role,
          resources: JSON.stringify(task.resources),
          launch_id: launchId,
          launched_at: task.launchedAt,
        } satisfies StoredTask)}`,
      );
    });
    const version = x.name('version');
    sets.push(`${version} = ${version} + ${x.value(1)}`);
    if (input.total) {
      const total = x.name('total');
      conditions.push(`${total} = ${x.value(JSON.stringify(input.total.expected))}`);
      sets.push(`${total} = ${x.value(JSON.stringify(input.total.next))}`);
    }
    const outcome = await this.context.update({
      TableName: this.table,
      Key: { agent_id: agentId },
      UpdateExpression: `SET ${sets.join(', ')} REMOVE ${removes.join(', ')}`,
      ConditionExpression: conditions.join(' AND '),
      ...x.attributes(),
    });
    if (outcome.written) return ok({ agent: agentFromItem(outcome.item), tasks, unused: fit.remaining });
    if (!outcome.old) return failure('OFFER_GONE', `Agent ${agentId} is not registered`);
    const old = agentFromItem(outcome.old);
    // A retried request whose first attempt was applied (lost response) finds its own result.
    const applied = keys.length > 0 && keys.every((key) => old.tasks[key]?.launchId === launchId);
    if (applied) return ok({ agent: old, tasks, unused: fit.remaining });
    for (const offer of offers) {
      const current = old.offers[offer.offerId];
      if (!current) return failure('OFFER_GONE', `Offer ${offer.offerId} is no longer valid`);
      if (current.frameworkId !== frameworkId) return failure('OFFER_NOT_OWNED', `Offer ${offer.offerId} is not yours`);
      if (JSON.stringify(current.resources) !== JSON.stringify(offer.resources)) {
        return failure('OFFER_GONE', `Offer ${offer.offerId} is not the offer that was read`);
      }
    }
    const duplicate = keys.find((key) => old.tasks[key]);
    if (duplicate) return failure('DUPLICATE_TASK', `Task ${duplicate} is already on agent ${agentId}`);
    return failure('OFFER_GONE', `The resources of agent ${agentId} changed meanwhile`);
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
    const { agentId, frameworkId } = input;
    const offerIds = [...new Set(input.offerIds)];
    const x = new Expression();
    const paths = offerIds.map((id) => x.path('offers', id));
    const conditions = [`attribute_exists(${x.name('agent_id')})`];
    if (frameworkId !== undefined) {
      const owner = x.value(frameworkId);
      for (const path of paths) {
        conditions.push(`(attribute_not_exists(${path}) OR ${path}.${x.name('framework_id')} = ${owner})`);
      }
    }
    const result = await this.removeEntries(agentId, x, paths, conditions);
    if (!result.ok) return result;
    const { old, written } = result.value;
    if (!written) {
      const foreign = offerIds.find((id) => old.offers[id] && old.offers[id].frameworkId !== frameworkId);
      if (foreign !== undefined) return failure('OFFER_NOT_OWNED', `Offer ${foreign} is not yours`);
      return ok({ removed: [], agent: old });
    }
    const removed = offerIds.flatMap((id) => (old.offers[id] ? [old.offers[id]] : []));
    const offers = Object.fromEntries(Object.entries(old.offers).filter(([id]) => !offerIds.includes(id)));
    return ok({ removed, agent: { ...old, offers, version: old.version + 1 } });
  }

  /** Gives tasks' resources back (terminal tasks). Tasks not in the ledger are ignored: idempotent. */
  async releaseTasks(input: {
    agentId: string;
    tasks: ReadonlyArray<{ frameworkId: string; taskId: string }>;
  }): Promise<Result<{ released: AllocatedTask[]; agent: AgentRecord }, RegistrarError<'UNKNOWN_AGENT'>>> {
    const keys = [...new Set(input.tasks.map((task) => taskKey(task.frameworkId, task.taskId)))];
    const x = new Expression();
    const paths = keys.map((key) => x.path('tasks', key));
    const result = await this.removeEntries(input.agentId, x, paths, [`attribute_exists(${x.name('agent_id')})`]);
    if (!result.ok) return result;
    const { old, written } = result.value;
    if (!written) return ok({ released: [], agent: old });
    const released = keys.flatMap((key) => (old.tasks[key] ? [old.tasks[key]] : []));
    const tasks = Object.fromEntries(Object.entries(old.tasks).filter(([key]) => !keys.includes(key)));
    return ok({ released, agent: { ...old, tasks, version: old.version + 1 } });
  }

  /**
   * Removes ledger entries in one write that happens only if at least one of them is there (no empty
   * version bumps). Returns the item as it was before, and whether anything was removed.
   */
  private async removeEntries(
    agentId: string,
    x: Expression,
    paths: readonly string[],
    conditions: readonly string[],
  ): Promise<Result<{ old: AgentRecord; written: boolean }, RegistrarError<'UNKNOWN_AGENT'>>> {
    if (paths.length === 0) {
      const current = await this.get(agentId);
      return current
        ? ok({ old: current, written: false })
        : failure('UNKNOWN_AGENT', `Agent ${agentId} is not registered`);
    }
    const version = x.name('version');
    const anyThere = `(${paths.map((path) => `attribute_exists(${path})`).join(' OR ')})`;
    const outcome = await this.context.update(
      {
        TableName: this.table,
        Key: { agent_id: agentId },
        UpdateExpression: `REMOVE ${paths.join(', ')} SET ${version} = ${version} + ${x.value(1)}`,
        ConditionExpression: [...conditions, anyThere].join(' AND '),
        ...x.attributes(),
      },
      'ALL_OLD',
    );
    if (outcome.written) return ok({ old: agentFromItem(outcome.item), written: true });
    if (!outcome.old) return failure('UNKNOWN_AGENT', `Agent ${agentId} is not registered`);
    return ok({ old: agentFromItem(outcome.old), written: false });
  }
}
