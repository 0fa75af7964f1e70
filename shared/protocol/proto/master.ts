/**
 * mesos.v1.master: the operator API's Call, Response and Event.
 * Mantle's own wire definitions (docs/protocol-and-resources.md, "Protobuf"): the messages and fields
 * Mantle's JSON schemas accept and emit, with Mesos's package, message and field names and Mesos's field
 * numbers and types (the wire contract). Fields Mantle adds are numbered from 1000.
 */
export const MESOS_V1_MASTER_PROTO = `syntax = "proto2";
package mesos.v1.master;

message Call {
  enum Type {
    UNKNOWN = 0;
    GET_HEALTH = 1;
    GET_FLAGS = 2;
    GET_VERSION = 3;
    GET_METRICS = 4;
    GET_LOGGING_LEVEL = 5;
    SET_LOGGING_LEVEL = 6;
    LIST_FILES = 7;
    READ_FILE = 8;
    GET_STATE = 9;
    GET_AGENTS = 10;
    GET_FRAMEWORKS = 11;
    GET_EXECUTORS = 12;
    GET_OPERATIONS = 33;
    GET_TASKS = 13;
    GET_ROLES = 14;
    GET_WEIGHTS = 15;
    UPDATE_WEIGHTS = 16;
    GET_MASTER = 17;
    SUBSCRIBE = 18;
    RESERVE_RESOURCES = 19;
    UNRESERVE_RESOURCES = 20;
    CREATE_VOLUMES = 21;
    DESTROY_VOLUMES = 22;
    GROW_VOLUME = 34;
    SHRINK_VOLUME = 35;
    GET_MAINTENANCE_STATUS = 23;
    GET_MAINTENANCE_SCHEDULE = 24;
    UPDATE_MAINTENANCE_SCHEDULE = 25;
    START_MAINTENANCE = 26;
    STOP_MAINTENANCE = 27;
    DRAIN_AGENT = 37;
    DEACTIVATE_AGENT = 38;
    REACTIVATE_AGENT = 39;
    GET_QUOTA = 28;
    UPDATE_QUOTA = 36;
    SET_QUOTA = 29;
    REMOVE_QUOTA = 30;
    TEARDOWN = 31;
    MARK_AGENT_GONE = 32;
    // Mantle's.
    GET_PENDING_REASONS = 1000;
  }
  message GetMetrics {
    optional mesos.v1.DurationInfo timeout = 1;
  }
  message SetLoggingLevel {
    required uint32 level = 1;
    required mesos.v1.DurationInfo duration = 2;
  }
  message UpdateWeights {
    repeated mesos.v1.WeightInfo weight_infos = 1;
  }
  message ReserveResources {
    required mesos.v1.AgentID agent_id = 1;
    repeated mesos.v1.Resource source = 3;
    repeated mesos.v1.Resource resources = 2;
  }
  message UnreserveResources {
    required mesos.v1.AgentID agent_id = 1;
    repeated mesos.v1.Resource resources = 2;
  }
  message CreateVolumes {
    required mesos.v1.AgentID agent_id = 1;
    repeated mesos.v1.Resource volumes = 2;
  }
  message DestroyVolumes {
    required mesos.v1.AgentID agent_id = 1;
    repeated mesos.v1.Resource volumes = 2;
  }
  message UpdateMaintenanceSchedule {
    required mesos.v1.maintenance.Schedule schedule = 1;
  }
  message StartMaintenance {
    repeated mesos.v1.MachineID machines = 1;
  }
  message StopMaintenance {
    repeated mesos.v1.MachineID machines = 1;
  }
  message DrainAgent {
    required mesos.v1.AgentID agent_id = 1;
    optional google.protobuf.Duration max_grace_period = 2;
    optional bool mark_gone = 3;
  }
  message DeactivateAgent {
    required mesos.v1.AgentID agent_id = 1;
  }
  message ReactivateAgent {
    required mesos.v1.AgentID agent_id = 1;
  }
  message UpdateQuota {
    optional bool force = 1;
    repeated mesos.v1.quota.QuotaConfig quota_configs = 2;
  }
  message Teardown {
    required mesos.v1.FrameworkID framework_id = 1;
  }
  message MarkAgentGone {
    required mesos.v1.AgentID agent_id = 1;
  }
  optional Call.Type type = 1;
  optional Call.GetMetrics get_metrics = 2;
  optional Call.SetLoggingLevel set_logging_level = 3;
  optional Call.UpdateWeights update_weights = 6;
  optional Call.ReserveResources reserve_resources = 7;
  optional Call.UnreserveResources unreserve_resources = 8;
  optional Call.CreateVolumes create_volumes = 9;
  optional Call.DestroyVolumes destroy_volumes = 10;
  optional Call.UpdateMaintenanceSchedule update_maintenance_schedule = 11;
  optional Call.StartMaintenance start_maintenance = 12;
  optional Call.StopMaintenance stop_maintenance = 13;
  optional Call.DrainAgent drain_agent = 21;
  optional Call.DeactivateAgent deactivate_agent = 22;
  optional Call.ReactivateAgent reactivate_agent = 23;
  optional Call.UpdateQuota update_quota = 20;
  optional Call.Teardown teardown = 16;
  optional Call.MarkAgentGone mark_agent_gone = 17;
  // Mantle's.
  optional mantle.v1.TaskPage get_tasks = 1000;
  optional mantle.v1.PendingReasonsFilter get_pending_reasons = 1001;
  optional mantle.v1.Subscribe subscribe = 1002;
}

message Response {
  enum Type {
    UNKNOWN = 0;
    GET_HEALTH = 1;
    GET_FLAGS = 2;
    GET_VERSION = 3;
    GET_METRICS = 4;
    GET_LOGGING_LEVEL = 5;
    LIST_FILES = 6;
    READ_FILE = 7;
    GET_STATE = 8;
    GET_AGENTS = 9;
    GET_FRAMEWORKS = 10;
    GET_EXECUTORS = 11;
    GET_OPERATIONS = 19;
    GET_TASKS = 12;
    GET_ROLES = 13;
    GET_WEIGHTS = 14;
    GET_MASTER = 15;
    GET_MAINTENANCE_STATUS = 16;
    GET_MAINTENANCE_SCHEDULE = 17;
    GET_QUOTA = 18;
    // Mantle's.
    GET_PENDING_REASONS = 1000;
  }
  message GetHealth {
    required bool healthy = 1;
  }
  message GetFlags {
    repeated mesos.v1.Flag flags = 1;
  }
  message GetVersion {
    required mesos.v1.VersionInfo version_info = 1;
  }
  message GetMetrics {
    repeated mesos.v1.Metric metrics = 1;
  }
  message GetLoggingLevel {
    required uint32 level = 1;
  }
  message GetState {
    optional Response.GetTasks get_tasks = 1;
    optional Response.GetExecutors get_executors = 2;
    optional Response.GetFrameworks get_frameworks = 3;
    optional Response.GetAgents get_agents = 4;
  }
  message GetAgents {
    message Agent {
      required mesos.v1.AgentInfo agent_info = 1;
      required bool active = 2;
      optional bool deactivated = 12;
      required string version = 3;
      optional string pid = 4;
      optional mesos.v1.TimeInfo registered_time = 5;
      optional mesos.v1.TimeInfo reregistered_time = 6;
      repeated mesos.v1.Resource total_resources = 7;
      repeated mesos.v1.Resource allocated_resources = 8;
      repeated mesos.v1.Resource offered_resources = 9;
      repeated mesos.v1.AgentInfo.Capability capabilities = 10;
      optional mesos.v1.DrainInfo drain_info = 13;
      optional mesos.v1.TimeInfo estimated_drain_start_time = 14;
      // Mantle's.
      repeated mantle.v1.AgentGpu gpus = 1000;
    }
    repeated Response.GetAgents.Agent agents = 1;
    repeated mesos.v1.AgentInfo recovered_agents = 2;
  }
  message GetFrameworks {
    message Framework {
      required mesos.v1.FrameworkInfo framework_info = 1;
      required bool active = 2;
      required bool connected = 3;
      required bool recovered = 11;
      optional mesos.v1.TimeInfo registered_time = 4;
      optional mesos.v1.TimeInfo reregistered_time = 5;
      optional mesos.v1.TimeInfo unregistered_time = 6;
      repeated mesos.v1.Offer offers = 7;
      repeated mesos.v1.InverseOffer inverse_offers = 8;
      repeated mesos.v1.Resource allocated_resources = 9;
      repeated mesos.v1.Resource offered_resources = 10;
      optional mesos.v1.scheduler.OfferConstraints offer_constraints = 12;
    }
    repeated Response.GetFrameworks.Framework frameworks = 1;
    repeated Response.GetFrameworks.Framework completed_frameworks = 2;
    repeated mesos.v1.FrameworkInfo recovered_frameworks = 3;
  }
  message GetExecutors {
    message Executor {
      required mesos.v1.ExecutorInfo executor_info = 1;
      required mesos.v1.AgentID agent_id = 2;
    }
    repeated Response.GetExecutors.Executor executors = 1;
    repeated Response.GetExecutors.Executor orphan_executors = 2;
  }
  message GetTasks {
    repeated mesos.v1.Task pending_tasks = 1;
    repeated mesos.v1.Task tasks = 2;
    repeated mesos.v1.Task unreachable_tasks = 5;
    repeated mesos.v1.Task completed_tasks = 3;
    repeated mesos.v1.Task orphan_tasks = 4;
    // Mantle's: the next page of a paged GET_TASKS.
    optional string next_cursor = 1000;
  }
  message GetRoles {
    repeated mesos.v1.Role roles = 1;
  }
  message GetWeights {
    repeated mesos.v1.WeightInfo weight_infos = 1;
  }
  message GetMaster {
    optional mesos.v1.MasterInfo master_info = 1;
    optional double start_time = 2;
    optional double elected_time = 3;
  }
  message GetMaintenanceStatus {
    required mesos.v1.maintenance.ClusterStatus status = 1;
  }
  message GetMaintenanceSchedule {
    required mesos.v1.maintenance.Schedule schedule = 1;
  }
  message GetQuota {
    required mesos.v1.quota.QuotaStatus status = 1;
  }
  optional Response.Type type = 1;
  optional Response.GetHealth get_health = 2;
  optional Response.GetFlags get_flags = 3;
  optional Response.GetVersion get_version = 4;
  optional Response.GetMetrics get_metrics = 5;
  optional Response.GetLoggingLevel get_logging_level = 6;
  optional Response.GetState get_state = 9;
  optional Response.GetAgents get_agents = 10;
  optional Response.GetFrameworks get_frameworks = 11;
  optional Response.GetExecutors get_executors = 12;
  optional Response.GetTasks get_tasks = 13;
  optional Response.GetRoles get_roles = 14;
  optional Response.GetWeights get_weights = 15;
  optional Response.GetMaster get_master = 16;
  optional Response.GetMaintenanceStatus get_maintenance_status = 17;
  optional Response.GetMaintenanceSchedule get_maintenance_schedule = 18;
  optional Response.GetQuota get_quota = 19;
  // Mantle's.
  optional mantle.v1.PendingReasons get_pending_reasons = 1000;
}

message Event {
  enum Type {
    UNKNOWN = 0;
    SUBSCRIBED = 1;
    TASK_ADDED = 2;
    TASK_UPDATED = 3;
    AGENT_ADDED = 4;
    AGENT_REMOVED = 5;
    FRAMEWORK_ADDED = 6;
    FRAMEWORK_UPDATED = 7;
    FRAMEWORK_REMOVED = 8;
    HEARTBEAT = 9;
  }
  message Subscribed {
    optional Response.GetState get_state = 1;
    optional double heartbeat_interval_seconds = 2;
  }
  message TaskAdded {
    required mesos.v1.Task task = 1;
  }
  message TaskUpdated {
    required mesos.v1.FrameworkID framework_id = 1;
    required mesos.v1.TaskStatus status = 2;
    required mesos.v1.TaskState state = 3;
  }
  message FrameworkAdded {
    required Response.GetFrameworks.Framework framework = 1;
  }
  message FrameworkUpdated {
    required Response.GetFrameworks.Framework framework = 1;
  }
  message FrameworkRemoved {
    required mesos.v1.FrameworkInfo framework_info = 1;
  }
  message AgentAdded {
    required Response.GetAgents.Agent agent = 1;
  }
  message AgentRemoved {
    required mesos.v1.AgentID agent_id = 1;
  }
  optional Event.Type type = 1;
  optional Event.Subscribed subscribed = 2;
  optional Event.TaskAdded task_added = 3;
  optional Event.TaskUpdated task_updated = 4;
  optional Event.AgentAdded agent_added = 5;
  optional Event.AgentRemoved agent_removed = 6;
  optional Event.FrameworkAdded framework_added = 7;
  optional Event.FrameworkUpdated framework_updated = 8;
  optional Event.FrameworkRemoved framework_removed = 9;
}
`;
