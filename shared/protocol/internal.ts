/**
 * Mantle's internal protocol between the master (Lambda handlers) and agents. Mesos's own
 * master<->agent protocol is internal too (messages.proto); this one is carried by HTTP for
 * registration, by each agent's SQS command queue for master -> agent, by the status FIFO queue for
 * agent -> master, and by the heartbeat queue for the agents' heartbeats (SQS: no API request, and the
 * master records a whole batch of them in one write). Objects inside are Mesos v1 JSON.
 */
import { z } from 'zod';
import { enumOf, opt, rep } from './dialect.js';
import { DEFAULT_IPC_MODES, DEFAULT_ULIMITS, IPC_MODES } from './docker-parameters.js';
import {
  AgentIDSchema,
  AttributeSchema,
  DiskInfoSchema,
  DOCKER_NETWORKS,
  DomainInfoSchema,
  ExecutorIDSchema,
  ExecutorInfoSchema,
  FrameworkIDSchema,
  FrameworkInfoSchema,
  KillPolicySchema,
  ResourceSchema,
  TaskGroupInfoSchema,
  TaskIDSchema,
  TaskInfoSchema,
  TaskStatusSchema,
  TASK_STATES,
} from './mesos.js';

// ------------------------------------------------------------------------ agent -> master (HTTP)

/** What isolation the agent could set up on its host; reported, never silently missing. */
export const IsolationSchema = z.object({
  /** cgroup version the process containerizer limits with, or "none". */
  cgroups: z.enum(['v1', 'v2', 'none']),
  /** How GPUs are isolated for process tasks (device-filter: cgroup v2's eBPF device filter). */
  gpus: z.enum(['devices-cgroup', 'device-filter', 'visibility', 'none']),
  /** Human-readable notes (what is missing and why). */
  notes: z.array(z.string()).default([]),
});
export type Isolation = z.infer<typeof IsolationSchema>;

/** A task the agent still knows about, reported when it re-registers (Mesos ReregisterSlave). */
export const ReportedTaskSchema = z.object({
  framework_id: FrameworkIDSchema,
  task_id: TaskIDSchema,
  state: enumOf(TASK_STATES),
});
export type ReportedTask = z.infer<typeof ReportedTaskSchema>;

/** At most this many executors in a registration (an agent's ledger holds fewer: DynamoDB's 400 KB). */
export const MAX_REPORTED_EXECUTORS = 10_000;

export const ReportedExecutorSchema = z.object({ framework_id: FrameworkIDSchema, executor_id: ExecutorIDSchema });
export type ReportedExecutor = z.infer<typeof ReportedExecutorSchema>;

/** At most this many GPUs in a registration: 8 GPUs split into 7 MIG devices each fit with room. */
export const MAX_AGENT_GPUS = 128;

/**
 * Mantle's extension: one GPU (or MIG device) the agent offers, as nvidia-smi lists it. For operators
 * to see (the UI, GET_AGENTS); the master never allocates by it: the `gpus` scalar is the resource.
 */
export const AgentGpuSchema = z.object({
  index: z.number().int().min(0).max(1023),
  uuid: z.string().min(1).max(128),
  model: z.string().max(128),
  memory_mib: z
    .number()
    .int()
    .min(0)
    .max(16 * 1024 * 1024),
  /** A MIG device: the UUID of its GPU, and its profile (`3g.20gb`). */
  mig_parent_uuid: z.string().min(1).max(128).optional(),
  mig_profile: z.string().min(1).max(64).optional(),
});
export type AgentGpu = z.infer<typeof AgentGpuSchema>;

export const RegisterAgentRequestSchema = z.object({
  /** Present when a restarted agent re-registers with its checkpointed id. */
  agent_id: opt(AgentIDSchema),
  hostname: z.string().min(1),
  /** The agent's address as frameworks should reach it (Offer.url.address.ip). */
  ip: opt(z.string()),
  port: opt(z.number().int()),
  resources: z.array(ResourceSchema),
  attributes: rep(AttributeSchema),
  domain: opt(DomainInfoSchema),
  capabilities: rep(z.object({ type: z.string() })),
  containerizers: z.array(z.enum(['docker', 'mesos'])).min(1),
  isolation: IsolationSchema,
  tasks: rep(ReportedTaskSchema),
  /**
   * Mantle's extension: the custom executors it runs (Mesos re-registers with its executors). On a
   * re-registration the master gives back what those it no longer runs held; absent (an older agent),
   * it keeps every executor's charge.
   */
  executors: z.array(ReportedExecutorSchema).max(MAX_REPORTED_EXECUTORS).optional(),
  version: z.string(),
  /** Mantle's extension: the GPUs behind the `gpus` resource, by index (absent: none, or an older agent). */
  gpus: z.array(AgentGpuSchema).max(MAX_AGENT_GPUS).optional(),
});
export type RegisterAgentRequest = z.infer<typeof RegisterAgentRequestSchema>;

export const RegisterAgentResponseSchema = z.object({
  agent_id: AgentIDSchema,
  command_queue_url: z.string(),
  status_queue_url: z.string(),
  heartbeat_queue_url: z.string(),
  heartbeat_interval_seconds: z.number().positive(),
  /**
   * Where the agent ships its tasks' stdout and stderr (a CloudWatch Logs group; the endpoint of a local
   * cluster's stand-in). Absent: the agent ships nothing.
   */
  task_logs: z.object({ log_group: z.string().min(1), endpoint: z.string().url().optional() }).optional(),
});
export type RegisterAgentResponse = z.infer<typeof RegisterAgentResponseSchema>;

// ------------------------------------------------------------ agent -> master (heartbeat queue)

export const HeartbeatMessageSchema = z.object({
  agent_id: AgentIDSchema,
  /** When the agent sent it (ms since the epoch), for the heartbeat lag metric. */
  sent_at: z.number().finite(),
});
export type HeartbeatMessage = z.infer<typeof HeartbeatMessageSchema>;

// ------------------------------------------------------------ master -> agent (command queue)

/** The parts of FrameworkInfo an agent needs to run the framework's tasks. */
export const AgentFrameworkInfoSchema = FrameworkInfoSchema.pick({
  user: true,
  name: true,
  checkpoint: true,
  capabilities: true,
});

/**
 * What the master authorized for a launch (from the principal's ACLs), which the agent enforces again
 * and completes with what only it can see (the image's user). A field left out is the safe default, and
 * so is a LAUNCH without a grant (a master from before grants).
 */
export const LaunchGrantSchema = z.object({
  /** Tasks may run as root (uid 0): run_as_users names root. */
  root: z.boolean().default(false),
  /** Docker privileged containers (acl: privileged). */
  privileged: z.boolean().default(false),
  /** Absolute host path prefixes the tasks may mount (acl: host_paths); "/" is any path. */
  host_paths: z.array(z.string()).default([]),
  /** Docker parameter keys allowed beyond label, env, workdir and user (acl: docker_parameters); "*" is any. */
  docker_parameters: z.array(z.string()).default([]),
  /** Docker network modes allowed (acl: network_modes). */
  network_modes: z.array(z.enum(DOCKER_NETWORKS)).default([...DOCKER_NETWORKS]),
  /** Linux capabilities the tasks may add (acl: capabilities); "*" is any. */
  capabilities: z.array(z.string()).default([]),
  /** Docker IPC modes allowed (acl: ipc_modes). */
  ipc_modes: z.array(z.string()).default([...DEFAULT_IPC_MODES]),
  /** Ulimits the tasks may set (acl: ulimits); "*" is any. */
  ulimits: z.array(z.string()).default([...DEFAULT_ULIMITS]),
  /** The largest /dev/shm in MB (acl: max_shm_size_mb); null: no bound but the task's memory. */
  max_shm_size_mb: z.number().nullable().default(null),
  /** S3 buckets the fetcher may read for the tasks with the agent's credentials (acl: s3_buckets); "*" is any. */
  s3_buckets: z.array(z.string()).default([]),
});
export type LaunchGrant = z.output<typeof LaunchGrantSchema>;

/** What a launch without a grant may do: no root, nothing privileged, no host paths, any network mode. */
export const SAFE_GRANT: LaunchGrant = LaunchGrantSchema.parse({});

/** Everything a grant can allow (a single-user cluster; the master's permissive ACLs). */
export const PERMISSIVE_GRANT: LaunchGrant = {
  root: true,
  privileged: true,
  host_paths: ['/'],
  docker_parameters: ['*'],
  network_modes: [...DOCKER_NETWORKS],
  capabilities: ['*'],
  ipc_modes: [...IPC_MODES],
  ulimits: ['*'],
  max_shm_size_mb: null,
  s3_buckets: ['*'],
};

export const AgentCommandSchema = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('LAUNCH'),
    framework_id: FrameworkIDSchema,
    framework_info: AgentFrameworkInfoSchema,
    task: TaskInfoSchema,
    /** The ACCEPT that launched it; a redelivered command carries the same one. */
    launch_id: z.string(),
    grant: opt(LaunchGrantSchema),
  }),
  z.object({
    type: z.literal('LAUNCH_GROUP'),
    framework_id: FrameworkIDSchema,
    framework_info: AgentFrameworkInfoSchema,
    executor: ExecutorInfoSchema,
    task_group: TaskGroupInfoSchema,
    launch_id: z.string(),
    grant: opt(LaunchGrantSchema),
  }),
  z.object({
    type: z.literal('KILL'),
    framework_id: FrameworkIDSchema,
    task_id: TaskIDSchema,
    kill_policy: opt(KillPolicySchema),
  }),
  z.object({
    type: z.literal('ACKNOWLEDGE'),
    framework_id: FrameworkIDSchema,
    task_id: TaskIDSchema,
    /** base64, as in TaskStatus.uuid. */
    uuid: z.string(),
  }),
  z.object({ type: z.literal('SHUTDOWN_FRAMEWORK'), framework_id: FrameworkIDSchema }),
  /** SHUTDOWN: the executor's tasks are killed (a command task's executor id is its task id). */
  z.object({ type: z.literal('SHUTDOWN_EXECUTOR'), framework_id: FrameworkIDSchema, executor_id: ExecutorIDSchema }),
  /** MESSAGE: framework -> executor, best effort. `data` is base64. */
  z.object({
    type: z.literal('FRAMEWORK_MESSAGE'),
    framework_id: FrameworkIDSchema,
    executor_id: ExecutorIDSchema,
    data: z.string(),
  }),
  z.object({
    type: z.literal('DRAIN'),
    /** Cap on each task's kill grace period (Mesos DrainConfig.max_grace_period). */
    max_grace_period_seconds: opt(z.number().nonnegative()),
    mark_gone: opt(z.boolean()),
  }),
  /**
   * The master does not take this agent as active (it was marked unreachable, or the master lost it)
   * although it heartbeats: re-register (Mesos's master asks a disconnected agent to do the same).
   */
  z.object({ type: z.literal('REREGISTER'), reason: z.string() }),
  /**
   * DESTROY of persistent volumes was committed: the agent removes their data (Mesos's agent does so when
   * the volumes leave its checkpointed resources). A volume a live task still uses is left alone.
   */
  z.object({
    type: z.literal('DESTROY_VOLUMES'),
    /** `source`: the PATH or MOUNT disk the volume is on (absent: the work dir's ROOT disk). */
    volumes: z
      .array(z.object({ role: z.string(), persistence_id: z.string(), source: DiskInfoSchema.shape.source }))
      .max(1000),
  }),
  /** The master's view of the agent's tasks; the agent answers for the ones it does not know. */
  z.object({
    type: z.literal('RECONCILE'),
    tasks: z.array(z.object({ framework_id: FrameworkIDSchema, task_id: TaskIDSchema })),
  }),
]);
export type AgentCommand = z.infer<typeof AgentCommandSchema>;

// ---------------------------------------------------------------- agent -> master (status queue)

export const AgentMessageSchema = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('STATUS_UPDATE'),
    agent_id: AgentIDSchema,
    framework_id: FrameworkIDSchema,
    status: TaskStatusSchema,
    /** State of the newest update queued behind this one (Mesos `latest_state`). */
    latest_state: opt(enumOf(TASK_STATES)),
  }),
  z.object({ type: z.literal('DRAINED'), agent_id: AgentIDSchema }),
  /** A custom executor's MESSAGE to its framework (base64 `data`), best effort. */
  z.object({
    type: z.literal('EXECUTOR_MESSAGE'),
    agent_id: AgentIDSchema,
    framework_id: FrameworkIDSchema,
    executor_id: ExecutorIDSchema,
    data: z.base64().max(4 * 1024 * 1024),
  }),
  /** A custom executor ended; `status` is its `waitpid` status (the framework's FAILURE event). */
  z.object({
    type: z.literal('EXECUTOR_EXITED'),
    agent_id: AgentIDSchema,
    framework_id: FrameworkIDSchema,
    executor_id: ExecutorIDSchema,
    status: z.number().int(),
  }),
]);
export type AgentMessage = z.infer<typeof AgentMessageSchema>;

/** A queue message's body checked against its schema; undefined when it is not JSON or not of that shape. */
export function parseMessageBody<S extends z.ZodType>(schema: S, body: string): z.output<S> | undefined {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    return undefined;
  }
  const parsed = schema.safeParse(json);
  return parsed.success ? parsed.data : undefined;
}
