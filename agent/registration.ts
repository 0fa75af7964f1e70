/**
 * What the agent tells the master when it registers (Mesos `RegisterSlaveMessage`, or
 * `ReregisterSlaveMessage` with its id and the tasks it still runs) and what it keeps of the answer in
 * `meta/agent.json`. Pure; the registration loop is in agent.ts, the HTTP call in master-client.ts.
 */
import packageJson from '../package.json' with { type: 'json' };
import type {
  AgentGpu,
  Isolation,
  RegisterAgentRequest,
  RegisterAgentResponse,
  ReportedTask,
} from '#shared/protocol/internal.js';
import type { AgentCapability, Attribute, DomainInfo, Resource, TaskState } from '#shared/protocol/mesos.js';
import type { ContainerizerKind } from './config.js';
import type { Gpu } from './gpu/gpu.js';

/** The capabilities this agent advertises (Mesos `SlaveInfo.Capability`). */
export const ADVERTISED_CAPABILITIES: readonly AgentCapability[] = [
  'MULTI_ROLE',
  'HIERARCHICAL_ROLE',
  'RESERVATION_REFINEMENT',
  'AGENT_DRAINING',
  'TASK_RESOURCE_LIMITS',
  // Persistent volumes are folders: a resize changes the master's books, nothing on the agent.
  'RESIZE_VOLUME',
];

/** `meta/agent.json`: who the master says this agent is, and its queues. */
export interface AgentRegistration {
  agentId: string;
  commandQueueUrl: string;
  statusQueueUrl: string;
  heartbeatQueueUrl: string;
}

export function agentRegistration(response: RegisterAgentResponse): AgentRegistration {
  return {
    agentId: response.agent_id.value,
    commandQueueUrl: response.command_queue_url,
    statusQueueUrl: response.status_queue_url,
    heartbeatQueueUrl: response.heartbeat_queue_url,
  };
}

export interface AgentDescription {
  /** Known after the first registration: the agent re-registers as itself. */
  readonly agentId: string | undefined;
  readonly hostname: string;
  readonly advertiseIp: string | undefined;
  /** The agent's own HTTP endpoint, if it serves one. */
  readonly port: number | undefined;
  readonly resources: readonly Resource[];
  readonly attributes: readonly Attribute[];
  readonly domain: DomainInfo | undefined;
  readonly containerizers: readonly ContainerizerKind[];
  readonly isolation: Isolation;
  /** The GPUs (and MIG devices) it offers as `gpus`. */
  readonly gpus: readonly Gpu[];
  /** The tasks it runs, with the latest state of each (none yet: TASK_STAGING). */
  readonly tasks: ReadonlyArray<{ frameworkId: string; taskId: string; state: TaskState | undefined }>;
  /** The custom executors it runs (found again after a restart, or started since). */
  readonly executors: ReadonlyArray<{ frameworkId: string; executorId: string }>;
}

export function registrationRequest(agent: AgentDescription): RegisterAgentRequest {
  return {
    ...(agent.agentId !== undefined ? { agent_id: { value: agent.agentId } } : {}),
    hostname: agent.hostname,
    ...(agent.advertiseIp ? { ip: agent.advertiseIp } : {}),
    ...(agent.port !== undefined ? { port: agent.port } : {}),
    resources: [...agent.resources],
    attributes: [...agent.attributes],
    ...(agent.domain ? { domain: agent.domain } : {}),
    capabilities: ADVERTISED_CAPABILITIES.map((type) => ({ type })),
    containerizers: [...agent.containerizers],
    isolation: agent.isolation,
    tasks: agent.tasks.map((task): ReportedTask => ({
      framework_id: { value: task.frameworkId },
      task_id: { value: task.taskId },
      state: task.state ?? 'TASK_STAGING',
    })),
    executors: agent.executors.map(({ frameworkId, executorId }) => ({
      framework_id: { value: frameworkId },
      executor_id: { value: executorId },
    })),
    version: packageJson.version,
    ...(agent.gpus.length > 0 ? { gpus: agent.gpus.map(reportedGpu) } : {}),
  };
}

function reportedGpu(gpu: Gpu): AgentGpu {
  return {
    index: gpu.index,
    uuid: gpu.uuid,
    model: gpu.model,
    memory_mib: Math.round(gpu.memoryMiB),
    ...(gpu.mig ? { mig_parent_uuid: gpu.mig.parentUuid, mig_profile: gpu.mig.profile } : {}),
  };
}
