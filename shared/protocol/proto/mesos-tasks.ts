/**
 * mesos.v1, part 2: offers and their operations, tasks, task statuses, containers and volumes.
 * Mantle's own wire definitions (docs/protocol-and-resources.md, "Protobuf"): the messages and fields
 * Mantle's JSON schemas accept and emit, with Mesos's package, message and field names and Mesos's field
 * numbers and types (the wire contract). Fields Mantle adds are numbered from 1000.
 */
export const MESOS_V1_TASKS_PROTO = `syntax = "proto2";
package mesos.v1;

message InverseOffer {
  required OfferID id = 1;
  optional URL url = 2;
  required FrameworkID framework_id = 3;
  optional AgentID agent_id = 4;
  required Unavailability unavailability = 5;
  repeated Resource resources = 6;
}

message TaskInfo {
  required string name = 1;
  required TaskID task_id = 2;
  required AgentID agent_id = 3;
  repeated Resource resources = 4;
  optional ExecutorInfo executor = 5;
  optional CommandInfo command = 7;
  optional ContainerInfo container = 9;
  optional HealthCheck health_check = 8;
  optional CheckInfo check = 13;
  optional KillPolicy kill_policy = 12;
  optional bytes data = 6;
  optional Labels labels = 10;
  optional DiscoveryInfo discovery = 11;
  optional DurationInfo max_completion_time = 14;
  map<string, Value.Scalar> limits = 15;
}

message TaskGroupInfo {
  repeated TaskInfo tasks = 1;
}

message Task {
  required string name = 1;
  required TaskID task_id = 2;
  required FrameworkID framework_id = 3;
  optional ExecutorID executor_id = 4;
  required AgentID agent_id = 5;
  required TaskState state = 6;
  repeated Resource resources = 7;
  repeated TaskStatus statuses = 8;
  optional TaskState status_update_state = 9;
  optional bytes status_update_uuid = 10;
  optional Labels labels = 11;
  optional DiscoveryInfo discovery = 12;
  optional ContainerInfo container = 13;
  optional HealthCheck health_check = 15;
  optional KillPolicy kill_policy = 16;
  optional string user = 14;
  map<string, Value.Scalar> limits = 17;
  // Mantle's: the task's role, and what its TaskInfo held that Mesos's Task does not carry.
  optional string role = 1000;
  optional CommandInfo command = 1001;
  optional ExecutorInfo executor = 1002;
  optional CheckInfo check = 1003;
  optional DurationInfo max_completion_time = 1004;
}

enum TaskState {
  TASK_STAGING = 6;
  TASK_STARTING = 0;
  TASK_RUNNING = 1;
  TASK_KILLING = 8;
  TASK_FINISHED = 2;
  TASK_FAILED = 3;
  TASK_KILLED = 4;
  TASK_ERROR = 7;
  TASK_LOST = 5;
  TASK_DROPPED = 9;
  TASK_UNREACHABLE = 10;
  TASK_GONE = 11;
  TASK_GONE_BY_OPERATOR = 12;
  TASK_UNKNOWN = 13;
}

message TaskResourceLimitation {
  repeated Resource resources = 1;
}

message UUID {
  required bytes value = 1;
}

enum OperationState {
  OPERATION_UNSUPPORTED = 0;
  OPERATION_PENDING = 1;
  OPERATION_FINISHED = 2;
  OPERATION_FAILED = 3;
  OPERATION_ERROR = 4;
  OPERATION_DROPPED = 5;
  OPERATION_UNREACHABLE = 6;
  OPERATION_GONE_BY_OPERATOR = 7;
  OPERATION_RECOVERING = 8;
  OPERATION_UNKNOWN = 9;
}

message OperationStatus {
  optional OperationID operation_id = 1;
  required OperationState state = 2;
  optional string message = 3;
  repeated Resource converted_resources = 4;
  optional UUID uuid = 5;
  optional AgentID agent_id = 6;
  optional ResourceProviderID resource_provider_id = 7;
}

message CheckStatusInfo {
  message Command {
    optional int32 exit_code = 1;
  }
  message Http {
    optional uint32 status_code = 1;
  }
  message Tcp {
    optional bool succeeded = 1;
  }
  optional CheckInfo.Type type = 1;
  optional CheckStatusInfo.Command command = 2;
  optional CheckStatusInfo.Http http = 3;
  optional CheckStatusInfo.Tcp tcp = 4;
}

message TaskStatus {
  enum Source {
    SOURCE_MASTER = 0;
    SOURCE_AGENT = 1;
    SOURCE_EXECUTOR = 2;
  }
  enum Reason {
    REASON_COMMAND_EXECUTOR_FAILED = 0;
    REASON_CONTAINER_LAUNCH_FAILED = 21;
    REASON_CONTAINER_LIMITATION = 19;
    REASON_CONTAINER_LIMITATION_DISK = 20;
    REASON_CONTAINER_LIMITATION_MEMORY = 8;
    REASON_CONTAINER_PREEMPTED = 17;
    REASON_CONTAINER_UPDATE_FAILED = 22;
    REASON_MAX_COMPLETION_TIME_REACHED = 33;
    REASON_EXECUTOR_REGISTRATION_TIMEOUT = 23;
    REASON_EXECUTOR_REREGISTRATION_TIMEOUT = 24;
    REASON_EXECUTOR_TERMINATED = 1;
    REASON_EXECUTOR_UNREGISTERED = 2;
    REASON_FRAMEWORK_REMOVED = 3;
    REASON_GC_ERROR = 4;
    REASON_INVALID_FRAMEWORKID = 5;
    REASON_INVALID_OFFERS = 6;
    REASON_IO_SWITCHBOARD_EXITED = 27;
    REASON_MASTER_DISCONNECTED = 7;
    REASON_RECONCILIATION = 9;
    REASON_RESOURCES_UNKNOWN = 18;
    REASON_AGENT_DISCONNECTED = 10;
    REASON_AGENT_DRAINING = 34;
    REASON_AGENT_REMOVED = 11;
    REASON_AGENT_REMOVED_BY_OPERATOR = 31;
    REASON_AGENT_REREGISTERED = 32;
    REASON_AGENT_RESTARTED = 12;
    REASON_AGENT_UNKNOWN = 13;
    REASON_TASK_KILLED_DURING_LAUNCH = 30;
    REASON_TASK_CHECK_STATUS_UPDATED = 28;
    REASON_TASK_HEALTH_CHECK_STATUS_UPDATED = 29;
    REASON_TASK_GROUP_INVALID = 25;
    REASON_TASK_GROUP_UNAUTHORIZED = 26;
    REASON_TASK_INVALID = 14;
    REASON_TASK_UNAUTHORIZED = 15;
    REASON_TASK_UNKNOWN = 16;
  }
  required TaskID task_id = 1;
  required TaskState state = 2;
  optional string message = 4;
  optional TaskStatus.Source source = 9;
  optional TaskStatus.Reason reason = 10;
  optional bytes data = 3;
  optional AgentID agent_id = 5;
  optional ExecutorID executor_id = 7;
  optional double timestamp = 6;
  optional bytes uuid = 11;
  optional bool healthy = 8;
  optional CheckStatusInfo check_status = 15;
  optional Labels labels = 12;
  optional ContainerStatus container_status = 13;
  optional TimeInfo unreachable_time = 14;
  optional TaskResourceLimitation limitation = 16;
}

message Filters {
  optional double refuse_seconds = 1;
}

message Environment {
  message Variable {
    enum Type {
      UNKNOWN = 0;
      VALUE = 1;
      SECRET = 2;
    }
    required string name = 1;
    optional Environment.Variable.Type type = 3;
    optional string value = 2;
    optional Secret secret = 4;
  }
  repeated Environment.Variable variables = 1;
}

message Parameter {
  required string key = 1;
  required string value = 2;
}

message Parameters {
  repeated Parameter parameter = 1;
}

message Secret {
}

message Image {
  enum Type {
    APPC = 1;
    DOCKER = 2;
  }
  message Appc {
    required string name = 1;
    optional string id = 2;
    optional Labels labels = 3;
  }
  message Docker {
    required string name = 1;
    optional Secret config = 3;
  }
  required Image.Type type = 1;
  optional Image.Appc appc = 2;
  optional Image.Docker docker = 3;
  optional bool cached = 4;
}

message Volume {
  enum Mode {
    RW = 1;
    RO = 2;
  }
  message Source {
    enum Type {
      UNKNOWN = 0;
      DOCKER_VOLUME = 1;
      HOST_PATH = 4;
      SANDBOX_PATH = 2;
      SECRET = 3;
      CSI_VOLUME = 5;
    }
    message DockerVolume {
      optional string driver = 1;
      required string name = 2;
      optional Parameters driver_options = 3;
    }
    message HostPath {
      required string path = 1;
    }
    message SandboxPath {
      enum Type {
        UNKNOWN = 0;
        SELF = 1;
        PARENT = 2;
      }
      optional Volume.Source.SandboxPath.Type type = 1;
      required string path = 2;
    }
    message CSIVolume {
    }
    optional Volume.Source.Type type = 1;
    optional Volume.Source.DockerVolume docker_volume = 2;
    optional Volume.Source.HostPath host_path = 5;
    optional Volume.Source.SandboxPath sandbox_path = 3;
    optional Secret secret = 4;
    optional Volume.Source.CSIVolume csi_volume = 6;
  }
  required Volume.Mode mode = 3;
  required string container_path = 1;
  optional string host_path = 2;
  optional Image image = 4;
  optional Volume.Source source = 5;
}

message NetworkInfo {
  enum Protocol {
    IPv4 = 1;
    IPv6 = 2;
  }
  message IPAddress {
    optional NetworkInfo.Protocol protocol = 1;
    optional string ip_address = 2;
  }
  message PortMapping {
    required uint32 host_port = 1;
    required uint32 container_port = 2;
    optional string protocol = 3;
  }
  repeated NetworkInfo.IPAddress ip_addresses = 5;
  optional string name = 6;
  repeated string groups = 3;
  optional Labels labels = 4;
  repeated NetworkInfo.PortMapping port_mappings = 7;
}

message LinuxInfo {
  optional bool share_cgroups = 8;
}

message RLimitInfo {
}

message TTYInfo {
}

message ContainerInfo {
  enum Type {
    DOCKER = 1;
    MESOS = 2;
  }
  message DockerInfo {
    enum Network {
      HOST = 1;
      BRIDGE = 2;
      NONE = 3;
      USER = 4;
    }
    message PortMapping {
      required uint32 host_port = 1;
      required uint32 container_port = 2;
      optional string protocol = 3;
    }
    required string image = 1;
    optional ContainerInfo.DockerInfo.Network network = 2;
    repeated ContainerInfo.DockerInfo.PortMapping port_mappings = 3;
    optional bool privileged = 4;
    repeated Parameter parameters = 5;
    optional bool force_pull_image = 6;
  }
  message MesosInfo {
    optional Image image = 1;
  }
  required ContainerInfo.Type type = 1;
  repeated Volume volumes = 2;
  optional string hostname = 4;
  optional ContainerInfo.DockerInfo docker = 3;
  optional ContainerInfo.MesosInfo mesos = 5;
  repeated NetworkInfo network_infos = 7;
  optional LinuxInfo linux_info = 8;
  optional RLimitInfo rlimit_info = 9;
  optional TTYInfo tty_info = 10;
}

message ContainerStatus {
  optional ContainerID container_id = 4;
  repeated NetworkInfo network_infos = 1;
  optional CgroupInfo cgroup_info = 2;
  optional uint32 executor_pid = 3;
}

message CgroupInfo {
}

message Labels {
  repeated Label labels = 1;
}

message Label {
  required string key = 1;
  optional string value = 2;
}

message Port {
  required uint32 number = 1;
  optional string name = 2;
  optional string protocol = 3;
  optional DiscoveryInfo.Visibility visibility = 4;
  optional Labels labels = 5;
}

message Ports {
  repeated Port ports = 1;
}

message DiscoveryInfo {
  enum Visibility {
    FRAMEWORK = 0;
    CLUSTER = 1;
    EXTERNAL = 2;
  }
  required DiscoveryInfo.Visibility visibility = 1;
  optional string name = 2;
  optional string environment = 3;
  optional string location = 4;
  optional string version = 5;
  optional Ports ports = 6;
  optional Labels labels = 7;
}

message WeightInfo {
  required double weight = 1;
  optional string role = 2;
}

message VersionInfo {
  required string version = 1;
  optional string build_date = 2;
  optional double build_time = 3;
  optional string build_user = 4;
  optional string git_sha = 5;
  optional string git_branch = 6;
  optional string git_tag = 7;
}

message Flag {
  required string name = 1;
  optional string value = 2;
}

message Role {
  required string name = 1;
  required double weight = 2;
  repeated FrameworkID frameworks = 3;
  repeated Resource resources = 4;
}

message Metric {
  required string name = 1;
  optional double value = 2;
}

enum DrainState {
  UNKNOWN = 0;
  DRAINING = 1;
  DRAINED = 2;
}

message DrainConfig {
  optional DurationInfo max_grace_period = 1;
  optional bool mark_gone = 2;
}

message DrainInfo {
  required DrainState state = 1;
  required DrainConfig config = 2;
}
`;
