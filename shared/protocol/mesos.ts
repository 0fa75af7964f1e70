/**
 * The objects of mesos.v1 (include/mesos/v1/mesos.proto) that the scheduler API, the agent and the
 * registrar use, as zod schemas in the Mesos JSON dialect. Each schema is the one definition of its
 * object: it validates the wire form and its inferred type is the TypeScript type.
 * Semantic rules (resource arithmetic, task validation) live beside the code that applies them.
 */
import { z } from 'zod';
import { bool, bytes, double, enumOf, IdSchema, int, map, opt, optEnum, rep, uint } from './dialect.js';

// ---------------------------------------------------------------------------------------------- enums

export const TASK_STATES = [
  'TASK_STAGING',
  'TASK_STARTING',
  'TASK_RUNNING',
  'TASK_KILLING',
  'TASK_FINISHED',
  'TASK_FAILED',
  'TASK_KILLED',
  'TASK_ERROR',
  'TASK_LOST',
  'TASK_DROPPED',
  'TASK_UNREACHABLE',
  'TASK_GONE',
  'TASK_GONE_BY_OPERATOR',
  'TASK_UNKNOWN',
] as const;
export type TaskState = (typeof TASK_STATES)[number];

export const TASK_STATUS_SOURCES = ['SOURCE_MASTER', 'SOURCE_AGENT', 'SOURCE_EXECUTOR'] as const;
export type TaskStatusSource = (typeof TASK_STATUS_SOURCES)[number];

export const TASK_STATUS_REASONS = [
  'REASON_COMMAND_EXECUTOR_FAILED',
  'REASON_CONTAINER_LAUNCH_FAILED',
  'REASON_CONTAINER_LIMITATION',
  'REASON_CONTAINER_LIMITATION_DISK',
  'REASON_CONTAINER_LIMITATION_MEMORY',
  'REASON_CONTAINER_PREEMPTED',
  'REASON_CONTAINER_UPDATE_FAILED',
  'REASON_MAX_COMPLETION_TIME_REACHED',
  'REASON_EXECUTOR_REGISTRATION_TIMEOUT',
  'REASON_EXECUTOR_REREGISTRATION_TIMEOUT',
  'REASON_EXECUTOR_TERMINATED',
  'REASON_EXECUTOR_UNREGISTERED',
  'REASON_FRAMEWORK_REMOVED',
  'REASON_GC_ERROR',
  'REASON_INVALID_FRAMEWORKID',
  'REASON_INVALID_OFFERS',
  'REASON_IO_SWITCHBOARD_EXITED',
  'REASON_MASTER_DISCONNECTED',
  'REASON_RECONCILIATION',
  'REASON_RESOURCES_UNKNOWN',
  'REASON_AGENT_DISCONNECTED',
  'REASON_AGENT_DRAINING',
  'REASON_AGENT_REMOVED',
  'REASON_AGENT_REMOVED_BY_OPERATOR',
  'REASON_AGENT_REREGISTERED',
  'REASON_AGENT_RESTARTED',
  'REASON_AGENT_UNKNOWN',
  'REASON_TASK_KILLED_DURING_LAUNCH',
  'REASON_TASK_CHECK_STATUS_UPDATED',
  'REASON_TASK_HEALTH_CHECK_STATUS_UPDATED',
  'REASON_TASK_GROUP_INVALID',
  'REASON_TASK_GROUP_UNAUTHORIZED',
  'REASON_TASK_INVALID',
  'REASON_TASK_UNAUTHORIZED',
  'REASON_TASK_UNKNOWN',
] as const;
export type TaskStatusReason = (typeof TASK_STATUS_REASONS)[number];

export const FRAMEWORK_CAPABILITIES = [
  'UNKNOWN',
  'REVOCABLE_RESOURCES',
  'TASK_KILLING_STATE',
  'GPU_RESOURCES',
  'SHARED_RESOURCES',
  'PARTITION_AWARE',
  'MULTI_ROLE',
  'RESERVATION_REFINEMENT',
  'REGION_AWARE',
] as const;
export type FrameworkCapability = (typeof FRAMEWORK_CAPABILITIES)[number];

export const AGENT_CAPABILITIES = [
  'UNKNOWN',
  'MULTI_ROLE',
  'HIERARCHICAL_ROLE',
  'RESERVATION_REFINEMENT',
  'RESOURCE_PROVIDER',
  'RESIZE_VOLUME',
  'AGENT_OPERATION_FEEDBACK',
  'AGENT_DRAINING',
  'TASK_RESOURCE_LIMITS',
] as const;
export type AgentCapability = (typeof AGENT_CAPABILITIES)[number];

export const VALUE_TYPES = ['SCALAR', 'RANGES', 'SET', 'TEXT'] as const;
export type ValueType = (typeof VALUE_TYPES)[number];

export const OPERATION_TYPES = [
  'UNKNOWN',
  'LAUNCH',
  'LAUNCH_GROUP',
  'RESERVE',
  'UNRESERVE',
  'CREATE',
  'DESTROY',
  'GROW_VOLUME',
  'SHRINK_VOLUME',
  'CREATE_DISK',
  'DESTROY_DISK',
] as const;
export type OperationType = (typeof OPERATION_TYPES)[number];

export const OPERATION_STATES = [
  'OPERATION_UNSUPPORTED',
  'OPERATION_PENDING',
  'OPERATION_FINISHED',
  'OPERATION_FAILED',
  'OPERATION_ERROR',
  'OPERATION_DROPPED',
  'OPERATION_UNREACHABLE',
  'OPERATION_GONE_BY_OPERATOR',
  'OPERATION_RECOVERING',
  'OPERATION_UNKNOWN',
] as const;
export type OperationState = (typeof OPERATION_STATES)[number];

// ------------------------------------------------------------------------------------------------ ids

export const FrameworkIDSchema = IdSchema;
export const AgentIDSchema = IdSchema;
export const OfferIDSchema = IdSchema;
export const TaskIDSchema = IdSchema;
export const ExecutorIDSchema = IdSchema;
export const OperationIDSchema = IdSchema;
export const ResourceProviderIDSchema = IdSchema;

export interface ContainerID {
  value: string;
  parent?: ContainerID | undefined;
}

/** How deep a ContainerID may nest (Mesos nests a task group's containers one level, debug containers two). */
export const MAX_CONTAINER_ID_DEPTH = 8;

/**
 * The levels of a ContainerID-shaped value, counted without recursion (stopping past the bound), so that
 * a hostile nesting of thousands of levels is refused instead of overflowing the parser's stack.
 */
function containerIdDepth(value: unknown): number {
  let depth = 0;
  for (let level = value; level !== null && level !== undefined; level = (level as { parent?: unknown }).parent) {
    if (typeof level !== 'object' || ++depth > MAX_CONTAINER_ID_DEPTH) break;
  }
  return depth;
}

/** Mesos's ContainerID rules (`validateContainerId`): an id's rules, and no '.' (the separator of nested ids) or space. */
const ContainerIdValueSchema = z
  .string()
  .min(1, { error: 'ContainerID.value must not be empty' })
  .max(255, { error: 'ContainerID.value must not be longer than 255 characters' })
  .refine((value) => !/[./\s\p{Cc}]/u.test(value), {
    error: "ContainerID.value must not contain '.', '/', spaces or control characters",
  });

export const ContainerIDSchema: z.ZodType<ContainerID> = z
  .custom<unknown>((value) => containerIdDepth(value) <= MAX_CONTAINER_ID_DEPTH, {
    error: `ContainerID nests deeper than ${MAX_CONTAINER_ID_DEPTH} levels`,
  })
  .pipe(z.lazy(() => z.object({ value: ContainerIdValueSchema, parent: opt(ContainerIDSchema) })));

// ------------------------------------------------------------------------------------------- basics

export const TimeInfoSchema = z.object({ nanoseconds: int });
export const DurationInfoSchema = z.object({ nanoseconds: int });
export type DurationInfo = z.infer<typeof DurationInfoSchema>;

export const LabelSchema = z.object({ key: z.string(), value: opt(z.string()) });
export const LabelsSchema = z.object({ labels: rep(LabelSchema) });
export type Labels = z.infer<typeof LabelsSchema>;

export const ParameterSchema = z.object({ key: z.string(), value: z.string() });
export const ParametersSchema = z.object({ parameter: rep(ParameterSchema) });

export const AddressSchema = z.object({ hostname: opt(z.string()), ip: opt(z.string()), port: int });
export const URLSchema = z.object({
  scheme: z.string(),
  address: AddressSchema,
  path: opt(z.string()),
  query: rep(ParameterSchema),
  fragment: opt(z.string()),
});

export const UnavailabilitySchema = z.object({ start: TimeInfoSchema, duration: opt(DurationInfoSchema) });

export const DomainInfoSchema = z.object({
  fault_domain: opt(
    z.object({
      region: z.object({ name: z.string() }),
      zone: z.object({ name: z.string() }),
    }),
  ),
});
export type DomainInfo = z.infer<typeof DomainInfoSchema>;

// ------------------------------------------------------------------------------------------- values

export const ScalarSchema = z.object({ value: double });
export const RangeSchema = z.object({ begin: uint, end: uint });
export const RangesSchema = z.object({ range: rep(RangeSchema) });
export const SetSchema = z.object({ item: rep(z.string()) });
export const TextSchema = z.object({ value: z.string() });
export type Range = z.infer<typeof RangeSchema>;

export const AttributeSchema = z.object({
  name: z.string(),
  type: enumOf(VALUE_TYPES),
  scalar: opt(ScalarSchema),
  ranges: opt(RangesSchema),
  set: opt(SetSchema),
  text: opt(TextSchema),
});
export type Attribute = z.infer<typeof AttributeSchema>;

// --------------------------------------------------------------------------------------- resources

export const RESERVATION_TYPES = ['UNKNOWN', 'STATIC', 'DYNAMIC'] as const;
export const ReservationInfoSchema = z.object({
  type: optEnum(RESERVATION_TYPES),
  role: opt(z.string()),
  principal: opt(z.string()),
  labels: opt(LabelsSchema),
});
export type ReservationInfo = z.infer<typeof ReservationInfoSchema>;

export const IMAGE_TYPES = ['APPC', 'DOCKER'] as const;
export const ImageSchema = z.object({
  type: enumOf(IMAGE_TYPES),
  appc: opt(z.object({ name: z.string(), id: opt(z.string()), labels: opt(LabelsSchema) })),
  // `config` is a Secret (docker config.json); kept as given, interpreted by the agent.
  docker: opt(z.object({ name: z.string(), config: opt(z.looseObject({})) })),
  cached: opt(bool),
});
export type Image = z.infer<typeof ImageSchema>;

export const VOLUME_MODES = ['RW', 'RO'] as const;
export const VOLUME_SOURCE_TYPES = [
  'UNKNOWN',
  'DOCKER_VOLUME',
  'HOST_PATH',
  'SANDBOX_PATH',
  'SECRET',
  'CSI_VOLUME',
] as const;
export const VolumeSchema = z.object({
  mode: enumOf(VOLUME_MODES),
  container_path: z.string(),
  host_path: opt(z.string()),
  image: opt(ImageSchema),
  source: opt(
    z.object({
      type: optEnum(VOLUME_SOURCE_TYPES),
      docker_volume: opt(
        z.object({ driver: opt(z.string()), name: z.string(), driver_options: opt(ParametersSchema) }),
      ),
      host_path: opt(z.object({ path: z.string() })),
      sandbox_path: opt(z.object({ type: optEnum(['UNKNOWN', 'SELF', 'PARENT']), path: z.string() })),
      // Secrets and CSI volumes are kept verbatim; the agent refuses what it does not support.
      secret: opt(z.looseObject({})),
      csi_volume: opt(z.looseObject({})),
    }),
  ),
});
export type Volume = z.infer<typeof VolumeSchema>;

export const DISK_SOURCE_TYPES = ['UNKNOWN', 'PATH', 'MOUNT', 'BLOCK', 'RAW'] as const;
export const DiskInfoSchema = z.object({
  persistence: opt(z.object({ id: z.string(), principal: opt(z.string()) })),
  volume: opt(VolumeSchema),
  source: opt(
    z.object({
      type: enumOf(DISK_SOURCE_TYPES),
      path: opt(z.object({ root: opt(z.string()) })),
      mount: opt(z.object({ root: opt(z.string()) })),
      vendor: opt(z.string()),
      id: opt(z.string()),
      metadata: opt(LabelsSchema),
      profile: opt(z.string()),
    }),
  ),
});
export type DiskInfo = z.infer<typeof DiskInfoSchema>;

export const ResourceSchema = z.object({
  provider_id: opt(ResourceProviderIDSchema),
  name: z.string(),
  type: enumOf(VALUE_TYPES),
  scalar: opt(ScalarSchema),
  ranges: opt(RangesSchema),
  set: opt(SetSchema),
  /** Pre-refinement format (deprecated, default "*"); upgraded to `reservations` on the way in. */
  role: opt(z.string()),
  allocation_info: opt(z.object({ role: opt(z.string()) })),
  /** Pre-refinement format: the dynamic reservation of `role`. */
  reservation: opt(ReservationInfoSchema),
  /** Post-refinement format: the reservation stack, bottom first; empty = unreserved. */
  reservations: rep(ReservationInfoSchema),
  disk: opt(DiskInfoSchema),
  revocable: opt(z.object({})),
  shared: opt(z.object({})),
});
export type Resource = z.infer<typeof ResourceSchema>;

export const ResourcesSchema = z.array(ResourceSchema);

// ------------------------------------------------------------------------------------ frameworks

export const OfferFiltersSchema = z.object({
  min_allocatable_resources: opt(
    z.object({
      quantities: rep(z.object({ quantities: map(ScalarSchema) })),
    }),
  ),
});

export const FrameworkInfoSchema = z.object({
  user: z.string(),
  name: z.string(),
  id: opt(FrameworkIDSchema),
  failover_timeout: opt(double),
  checkpoint: opt(bool),
  role: opt(z.string()),
  roles: rep(z.string()),
  hostname: opt(z.string()),
  principal: opt(z.string()),
  webui_url: opt(z.string()),
  capabilities: rep(z.object({ type: optEnum(FRAMEWORK_CAPABILITIES) })),
  labels: opt(LabelsSchema),
  offer_filters: map(OfferFiltersSchema),
});
export type FrameworkInfo = z.infer<typeof FrameworkInfoSchema>;

// ------------------------------------------------------------------------------ masters and agents

export const MasterInfoSchema = z.object({
  id: z.string(),
  ip: uint,
  port: uint,
  pid: opt(z.string()),
  hostname: opt(z.string()),
  version: opt(z.string()),
  address: opt(AddressSchema),
  domain: opt(DomainInfoSchema),
  capabilities: rep(z.object({ type: optEnum(['UNKNOWN', 'AGENT_UPDATE', 'AGENT_DRAINING', 'QUOTA_V2']) })),
});
export type MasterInfo = z.infer<typeof MasterInfoSchema>;

export const AgentInfoSchema = z.object({
  hostname: z.string(),
  port: opt(int),
  resources: rep(ResourceSchema),
  attributes: rep(AttributeSchema),
  id: opt(AgentIDSchema),
  domain: opt(DomainInfoSchema),
});
export type AgentInfo = z.infer<typeof AgentInfoSchema>;

// ---------------------------------------------------------------------------------------- commands

export const ENVIRONMENT_VARIABLE_TYPES = ['UNKNOWN', 'VALUE', 'SECRET'] as const;
export const EnvironmentSchema = z.object({
  variables: rep(
    z.object({
      name: z.string(),
      type: optEnum(ENVIRONMENT_VARIABLE_TYPES),
      value: opt(z.string()),
      secret: opt(z.looseObject({})),
    }),
  ),
});
export type Environment = z.infer<typeof EnvironmentSchema>;

export const CommandInfoSchema = z.object({
  uris: rep(
    z.object({
      value: z.string(),
      executable: opt(bool),
      extract: opt(bool),
      cache: opt(bool),
      output_file: opt(z.string()),
    }),
  ),
  environment: opt(EnvironmentSchema),
  shell: opt(bool),
  value: opt(z.string()),
  arguments: rep(z.string()),
  user: opt(z.string()),
});
export type CommandInfo = z.infer<typeof CommandInfoSchema>;

export const NETWORK_PROTOCOLS = ['IPv4', 'IPv6'] as const;
export const PortMappingSchema = z.object({ host_port: uint, container_port: uint, protocol: opt(z.string()) });

export const NetworkInfoSchema = z.object({
  ip_addresses: rep(z.object({ protocol: optEnum(NETWORK_PROTOCOLS), ip_address: opt(z.string()) })),
  name: opt(z.string()),
  groups: rep(z.string()),
  labels: opt(LabelsSchema),
  port_mappings: rep(PortMappingSchema),
});

export const CONTAINER_TYPES = ['DOCKER', 'MESOS'] as const;
export const DOCKER_NETWORKS = ['HOST', 'BRIDGE', 'NONE', 'USER'] as const;
export const ContainerInfoSchema = z.object({
  type: enumOf(CONTAINER_TYPES),
  volumes: rep(VolumeSchema),
  hostname: opt(z.string()),
  docker: opt(
    z.object({
      image: z.string(),
      network: optEnum(DOCKER_NETWORKS),
      port_mappings: rep(PortMappingSchema),
      privileged: opt(bool),
      parameters: rep(ParameterSchema),
      force_pull_image: opt(bool),
    }),
  ),
  mesos: opt(z.object({ image: opt(ImageSchema) })),
  network_infos: rep(NetworkInfoSchema),
  // Linux specifics (capabilities, seccomp, share_cgroups...), rlimits and TTY are kept verbatim.
  linux_info: opt(z.looseObject({ share_cgroups: opt(bool) })),
  rlimit_info: opt(z.looseObject({})),
  tty_info: opt(z.looseObject({})),
});
export type ContainerInfo = z.infer<typeof ContainerInfoSchema>;

export const CHECK_TYPES = ['UNKNOWN', 'COMMAND', 'HTTP', 'TCP'] as const;

export const HealthCheckSchema = z.object({
  delay_seconds: opt(double),
  interval_seconds: opt(double),
  timeout_seconds: opt(double),
  consecutive_failures: opt(uint),
  grace_period_seconds: opt(double),
  type: optEnum(CHECK_TYPES),
  command: opt(CommandInfoSchema),
  http: opt(
    z.object({
      protocol: optEnum(NETWORK_PROTOCOLS),
      scheme: opt(z.string()),
      port: uint,
      path: opt(z.string()),
      statuses: rep(uint),
    }),
  ),
  tcp: opt(z.object({ protocol: optEnum(NETWORK_PROTOCOLS), port: uint })),
});
export type HealthCheck = z.infer<typeof HealthCheckSchema>;

export const CheckInfoSchema = z.object({
  type: optEnum(CHECK_TYPES),
  command: opt(z.object({ command: CommandInfoSchema })),
  http: opt(z.object({ port: uint, path: opt(z.string()) })),
  tcp: opt(z.object({ port: uint })),
  delay_seconds: opt(double),
  interval_seconds: opt(double),
  timeout_seconds: opt(double),
});
export type CheckInfo = z.infer<typeof CheckInfoSchema>;

export const KillPolicySchema = z.object({ grace_period: opt(DurationInfoSchema) });
export type KillPolicy = z.infer<typeof KillPolicySchema>;

export const DiscoveryInfoSchema = z.object({
  visibility: enumOf(['FRAMEWORK', 'CLUSTER', 'EXTERNAL']),
  name: opt(z.string()),
  environment: opt(z.string()),
  location: opt(z.string()),
  version: opt(z.string()),
  ports: opt(
    z.object({
      ports: rep(
        z.object({
          number: uint,
          name: opt(z.string()),
          protocol: opt(z.string()),
          visibility: optEnum(['FRAMEWORK', 'CLUSTER', 'EXTERNAL']),
          labels: opt(LabelsSchema),
        }),
      ),
    }),
  ),
  labels: opt(LabelsSchema),
});

export const EXECUTOR_TYPES = ['UNKNOWN', 'DEFAULT', 'CUSTOM'] as const;
export const ExecutorInfoSchema = z.object({
  type: optEnum(EXECUTOR_TYPES),
  executor_id: ExecutorIDSchema,
  framework_id: opt(FrameworkIDSchema),
  command: opt(CommandInfoSchema),
  container: opt(ContainerInfoSchema),
  resources: rep(ResourceSchema),
  name: opt(z.string()),
  data: opt(bytes),
  discovery: opt(DiscoveryInfoSchema),
  shutdown_grace_period: opt(DurationInfoSchema),
  labels: opt(LabelsSchema),
});
export type ExecutorInfo = z.infer<typeof ExecutorInfoSchema>;

// ------------------------------------------------------------------------------------------- tasks

export const TaskInfoSchema = z.object({
  name: z.string(),
  task_id: TaskIDSchema,
  agent_id: AgentIDSchema,
  resources: rep(ResourceSchema),
  executor: opt(ExecutorInfoSchema),
  command: opt(CommandInfoSchema),
  container: opt(ContainerInfoSchema),
  health_check: opt(HealthCheckSchema),
  check: opt(CheckInfoSchema),
  kill_policy: opt(KillPolicySchema),
  data: opt(bytes),
  labels: opt(LabelsSchema),
  discovery: opt(DiscoveryInfoSchema),
  max_completion_time: opt(DurationInfoSchema),
  limits: map(ScalarSchema),
});
export type TaskInfo = z.infer<typeof TaskInfoSchema>;

export const TaskGroupInfoSchema = z.object({ tasks: rep(TaskInfoSchema) });
export type TaskGroupInfo = z.infer<typeof TaskGroupInfoSchema>;

export const CheckStatusInfoSchema = z.object({
  type: optEnum(CHECK_TYPES),
  command: opt(z.object({ exit_code: opt(int) })),
  http: opt(z.object({ status_code: opt(uint) })),
  tcp: opt(z.object({ succeeded: opt(bool) })),
});

export const ContainerStatusSchema = z.object({
  container_id: opt(ContainerIDSchema),
  network_infos: rep(NetworkInfoSchema),
  cgroup_info: opt(z.looseObject({})),
  executor_pid: opt(uint),
});

export const TaskStatusSchema = z.object({
  task_id: TaskIDSchema,
  state: enumOf(TASK_STATES),
  message: opt(z.string()),
  source: optEnum(TASK_STATUS_SOURCES),
  reason: optEnum(TASK_STATUS_REASONS),
  data: opt(bytes),
  agent_id: opt(AgentIDSchema),
  executor_id: opt(ExecutorIDSchema),
  timestamp: opt(double),
  uuid: opt(bytes),
  healthy: opt(bool),
  check_status: opt(CheckStatusInfoSchema),
  labels: opt(LabelsSchema),
  container_status: opt(ContainerStatusSchema),
  unreachable_time: opt(TimeInfoSchema),
  limitation: opt(z.object({ resources: rep(ResourceSchema) })),
});
export type TaskStatus = z.infer<typeof TaskStatusSchema>;

export const FiltersSchema = z.object({ refuse_seconds: opt(double) });
export type Filters = z.infer<typeof FiltersSchema>;

// ------------------------------------------------------------------------------------------ offers

export const OperationSchema = z.object({
  type: optEnum(OPERATION_TYPES),
  id: opt(OperationIDSchema),
  launch: opt(z.object({ task_infos: rep(TaskInfoSchema) })),
  launch_group: opt(z.object({ executor: ExecutorInfoSchema, task_group: TaskGroupInfoSchema })),
  reserve: opt(z.object({ source: rep(ResourceSchema), resources: rep(ResourceSchema) })),
  unreserve: opt(z.object({ resources: rep(ResourceSchema) })),
  create: opt(z.object({ volumes: rep(ResourceSchema) })),
  destroy: opt(z.object({ volumes: rep(ResourceSchema) })),
  grow_volume: opt(z.object({ volume: ResourceSchema, addition: ResourceSchema })),
  shrink_volume: opt(z.object({ volume: ResourceSchema, subtract: ScalarSchema })),
  create_disk: opt(
    z.object({ source: ResourceSchema, target_type: enumOf(DISK_SOURCE_TYPES), target_profile: opt(z.string()) }),
  ),
  destroy_disk: opt(z.object({ source: ResourceSchema })),
});
export type Operation = z.infer<typeof OperationSchema>;

export const OfferSchema = z.object({
  id: OfferIDSchema,
  framework_id: FrameworkIDSchema,
  agent_id: AgentIDSchema,
  hostname: z.string(),
  url: opt(URLSchema),
  domain: opt(DomainInfoSchema),
  resources: rep(ResourceSchema),
  attributes: rep(AttributeSchema),
  executor_ids: rep(ExecutorIDSchema),
  unavailability: opt(UnavailabilitySchema),
  allocation_info: opt(z.object({ role: opt(z.string()) })),
});
export type Offer = z.infer<typeof OfferSchema>;

export const InverseOfferSchema = z.object({
  id: OfferIDSchema,
  url: opt(URLSchema),
  framework_id: FrameworkIDSchema,
  agent_id: opt(AgentIDSchema),
  unavailability: UnavailabilitySchema,
  resources: rep(ResourceSchema),
});

/** `count` is Mantle's extension: how many tasks of these resources wait (1 when absent; docs/scheduler-api.md). */
export const RequestSchema = z.object({
  agent_id: opt(AgentIDSchema),
  resources: rep(ResourceSchema),
  count: opt(uint),
});
export type Request = z.infer<typeof RequestSchema>;

export const OperationStatusSchema = z.object({
  operation_id: opt(OperationIDSchema),
  state: enumOf(OPERATION_STATES),
  message: opt(z.string()),
  converted_resources: rep(ResourceSchema),
  uuid: opt(z.object({ value: bytes })),
  agent_id: opt(AgentIDSchema),
  resource_provider_id: opt(ResourceProviderIDSchema),
});
export type OperationStatus = z.infer<typeof OperationStatusSchema>;

export const WeightInfoSchema = z.object({ weight: double, role: opt(z.string()) });
