/**
 * Agents as the registrar keeps them: the records (an agent and its ledger), their DynamoDB items and
 * the mapping between the two, and the validation of what an agent reports when it (re-)registers.
 * Pure. The item shapes are the table's: changing one is a data migration.
 */
import { AGENT_CAPABILITIES, type Attribute, type DomainInfo, type Resource } from '#shared/protocol/mesos.js';
import type { AgentGpu, Isolation } from '#shared/protocol/internal.js';
import { AttributeSchema, DomainInfoSchema } from '#shared/protocol/mesos.js';
import { describeZodError } from '#shared/protocol/errors.js';
import { ok, type Result } from '#shared/result.js';
import { parseResources } from '#shared/resources/parse.js';
import { z } from 'zod';
import { failure, type RegistrarError } from './errors.js';
import type { Item } from './expression.js';
import { resourcesFromStored, storedResources } from './stored-resources.js';
import type { AllocatedExecutor, AllocatedTask, OfferRecord } from './ledger.js';

export type AgentStatus = 'ACTIVE' | 'UNREACHABLE' | 'GONE';

/** An agent being drained (scale-in, Spot interruption): its tasks have until `deadline` to finish. */
export interface AgentDrain {
  readonly startedAt: number;
  /** After this the tasks still running are killed (the agent is sent DRAIN). */
  readonly deadline: number;
  /** When the agent was sent DRAIN. */
  readonly killSentAt?: number;
  /** An operator's DRAIN_AGENT: the kill grace it capped (Mesos `max_grace_period`), in seconds. */
  readonly maxGracePeriodSeconds?: number;
  /** An operator's DRAIN_AGENT with `mark_gone`: once drained, the agent is marked gone. */
  readonly markGone?: boolean;
}

/** An agent as the heartbeat handler sees it. */
export interface AgentStatusView {
  readonly status: AgentStatus;
  readonly commandQueueUrl: string;
  readonly attributes: Attribute[];
  /** The role session its messages must come from (see AgentRecord). */
  readonly instanceSession?: string;
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
  /** The GPUs it reported (Mantle's extension, for operators; allocation counts the `gpus` scalar). */
  readonly gpuDevices?: readonly AgentGpu[];
  /** The principal the agent authenticated as ("" without authentication); only it may act for the agent. */
  readonly principal: string;
  /**
   * On EC2: the role session of the agent's instance, `<role id>:<instance id>` (its `aws:userid`, and
   * the SenderId SQS stamps on its messages). Set at registration, never changed: an agent stays bound
   * to its instance.
   */
  readonly instanceSession?: string;
  readonly attributes: Attribute[];
  readonly domain?: DomainInfo;
  readonly capabilities: string[];
  readonly total: Resource[];
  readonly offers: Readonly<Record<string, OfferRecord>>;
  readonly tasks: Readonly<Record<string, AllocatedTask>>;
  /** Executors' own resources, by taskKey(framework id, executor id); `{}` in items written before them. */
  readonly executors: Readonly<Record<string, AllocatedExecutor>>;
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
  /** Validated where the registration arrives (RegisterAgentRequestSchema). */
  readonly gpuDevices?: readonly AgentGpu[];
  readonly principal?: string;
  readonly instanceSession?: string;
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
  /** Mesos v1 JSON resources of the task alone; validated here. */
  readonly resources: unknown;
  /** The task's executor (custom or DEFAULT): charged with `resources` when given, else it must be running. */
  readonly executor?: {
    readonly executorId: string;
    readonly kind: 'CUSTOM' | 'DEFAULT';
    readonly infoHash: string;
    readonly resources?: unknown;
  };
}

const KNOWN_CAPABILITIES = new Set<string>(AGENT_CAPABILITIES);
const RegistrationDetails = z.object({
  attributes: z.array(AttributeSchema).optional(),
  domain: DomainInfoSchema.optional(),
});

// ------------------------------------------------------------------------------- items <-> records

export interface StoredOffer {
  framework_id: string;
  role: string;
  resources: string;
  created_at: number;
  expires_at?: number;
}

/** Its framework and task ids are those of its key (taskKey); items written before kept them here too. */
export interface StoredTask {
  framework_id?: string;
  task_id?: string;
  role: string;
  resources: string;
  launch_id: string;
  launched_at: number;
  executor_id?: string;
}

export interface StoredExecutor {
  framework_id: string;
  executor_id: string;
  kind: 'CUSTOM' | 'DEFAULT';
  role: string;
  resources: string;
  info_hash: string;
  launch_id: string;
  launched_at: number;
}

export function storedOffer(offer: OfferRecord): StoredOffer {
  return {
    framework_id: offer.frameworkId,
    role: offer.role,
    resources: storedResources(offer.resources),
    created_at: offer.createdAt,
    ...(offer.expiresAt !== undefined ? { expires_at: offer.expiresAt } : {}),
  };
}

export function offerFromItem(agentId: string, offerId: string, stored: StoredOffer): OfferRecord {
  return {
    offerId,
    agentId,
    frameworkId: stored.framework_id,
    role: stored.role,
    resources: resourcesFromStored(stored.resources),
    createdAt: stored.created_at,
    ...(stored.expires_at !== undefined ? { expiresAt: stored.expires_at } : {}),
  };
}

export function storedTask(task: AllocatedTask): StoredTask {
  return {
    role: task.role,
    resources: storedResources(task.resources),
    launch_id: task.launchId,
    launched_at: task.launchedAt,
    ...(task.executorId !== undefined ? { executor_id: task.executorId } : {}),
  };
}

function taskFromItem(key: string, stored: StoredTask): AllocatedTask {
  // Neither id may hold a '/' (validateTaskId).
  const slash = key.indexOf('/');
  return {
    frameworkId: stored.framework_id ?? key.slice(0, slash),
    taskId: stored.task_id ?? key.slice(slash + 1),
    role: stored.role,
    resources: resourcesFromStored(stored.resources),
    launchId: stored.launch_id,
    launchedAt: stored.launched_at,
    ...(stored.executor_id !== undefined ? { executorId: stored.executor_id } : {}),
  };
}

export function storedExecutor(executor: AllocatedExecutor): StoredExecutor {
  return {
    framework_id: executor.frameworkId,
    executor_id: executor.executorId,
    kind: executor.kind,
    role: executor.role,
    resources: storedResources(executor.resources),
    info_hash: executor.infoHash,
    launch_id: executor.launchId,
    launched_at: executor.launchedAt,
  };
}

function executorFromItem(stored: StoredExecutor): AllocatedExecutor {
  return {
    frameworkId: stored.framework_id,
    executorId: stored.executor_id,
    kind: stored.kind,
    role: stored.role,
    resources: resourcesFromStored(stored.resources),
    infoHash: stored.info_hash,
    launchId: stored.launch_id,
    launchedAt: stored.launched_at,
  };
}

export function agentFromItem(item: Item): AgentRecord {
  const agentId = item.agent_id as string;
  const offers = (item.offers ?? {}) as Record<string, StoredOffer>;
  const tasks = (item.tasks ?? {}) as Record<string, StoredTask>;
  const executors = (item.executors ?? {}) as Record<string, StoredExecutor>;
  return {
    agentId,
    hostname: item.hostname as string,
    ip: (item.ip ?? item.hostname) as string,
    port: item.port as number,
    commandQueueUrl: (item.command_queue_url ?? '') as string,
    principal: (item.principal ?? '') as string,
    ...(item.instance_session ? { instanceSession: item.instance_session as string } : {}),
    containerizers: (item.containerizers ?? []) as string[],
    ...(item.isolation ? { isolation: JSON.parse(item.isolation as string) as Isolation } : {}),
    ...(item.gpu_devices ? { gpuDevices: JSON.parse(item.gpu_devices as string) as AgentGpu[] } : {}),
    attributes: JSON.parse(item.attributes as string) as Attribute[],
    ...(item.domain ? { domain: JSON.parse(item.domain as string) as DomainInfo } : {}),
    capabilities: (item.capabilities ?? []) as string[],
    total: resourcesFromStored(item.total as string),
    offers: Object.fromEntries(Object.entries(offers).map(([id, o]) => [id, offerFromItem(agentId, id, o)])),
    tasks: Object.fromEntries(Object.entries(tasks).map(([key, t]) => [key, taskFromItem(key, t)])),
    executors: Object.fromEntries(Object.entries(executors).map(([key, e]) => [key, executorFromItem(e)])),
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

/** What an agent reports of itself, validated: the attributes its (re-)registration writes. */
export type AgentDetails = Pick<
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
  | 'instanceSession'
> & {
  domain?: DomainInfo;
  isolation?: Isolation;
  gpuDevices?: readonly AgentGpu[];
};

export function validateRegistration(
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
    ...(registration.instanceSession ? { instanceSession: registration.instanceSession } : {}),
    ...(registration.isolation ? { isolation: registration.isolation } : {}),
    ...(registration.gpuDevices?.length ? { gpuDevices: registration.gpuDevices } : {}),
    attributes: details.data.attributes ?? [],
    ...(details.data.domain ? { domain: details.data.domain } : {}),
    capabilities,
    total: total.value,
  });
}

export function detailAttributes(details: AgentDetails): Item {
  return {
    hostname: details.hostname,
    ip: details.ip,
    port: details.port,
    command_queue_url: details.commandQueueUrl,
    containerizers: details.containerizers,
    principal: details.principal,
    ...(details.instanceSession ? { instance_session: details.instanceSession } : {}),
    ...(details.isolation ? { isolation: JSON.stringify(details.isolation) } : {}),
    ...(details.gpuDevices ? { gpu_devices: JSON.stringify(details.gpuDevices) } : {}),
    attributes: JSON.stringify(details.attributes),
    ...(details.domain ? { domain: JSON.stringify(details.domain) } : {}),
    capabilities: details.capabilities,
    total: storedResources(details.total),
  };
}
