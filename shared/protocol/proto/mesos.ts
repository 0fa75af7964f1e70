/**
 * mesos.v1, part 1: ids, FrameworkInfo, checks, commands, executors, agents and masters, resources,
 * offer filters and requests.
 * Mantle's own wire definitions (docs/protocol-and-resources.md, "Protobuf"): the messages and fields
 * Mantle's JSON schemas accept and emit, with Mesos's package, message and field names and Mesos's field
 * numbers and types (the wire contract). Fields Mantle adds are numbered from 1000.
 */
export const MESOS_V1_PROTO = `syntax = "proto2";
package mesos.v1;

message FrameworkID {
  required string value = 1;
}

message OfferID {
  required string value = 1;
}

message AgentID {
  required string value = 1;
}

message TaskID {
  required string value = 1;
}

message ExecutorID {
  required string value = 1;
}

message ContainerID {
  required string value = 1;
  optional ContainerID parent = 2;
}

message ResourceProviderID {
  required string value = 1;
}

message OperationID {
  required string value = 1;
}

message TimeInfo {
  required int64 nanoseconds = 1;
}

message DurationInfo {
  required int64 nanoseconds = 1;
}

message Address {
  optional string hostname = 1;
  optional string ip = 2;
  required int32 port = 3;
}

message URL {
  required string scheme = 1;
  required Address address = 2;
  optional string path = 3;
  repeated Parameter query = 4;
  optional string fragment = 5;
}

message Unavailability {
  required TimeInfo start = 1;
  optional DurationInfo duration = 2;
}

message MachineID {
  optional string hostname = 1;
  optional string ip = 2;
}

message FrameworkInfo {
  message Capability {
    enum Type {
      UNKNOWN = 0;
      REVOCABLE_RESOURCES = 1;
      TASK_KILLING_STATE = 2;
      GPU_RESOURCES = 3;
      SHARED_RESOURCES = 4;
      PARTITION_AWARE = 5;
      MULTI_ROLE = 6;
      RESERVATION_REFINEMENT = 7;
      REGION_AWARE = 8;
    }
    optional FrameworkInfo.Capability.Type type = 1;
  }
  required string user = 1;
  required string name = 2;
  optional FrameworkID id = 3;
  optional double failover_timeout = 4;
  optional bool checkpoint = 5;
  optional string role = 6;
  repeated string roles = 12;
  optional string hostname = 7;
  optional string principal = 8;
  optional string webui_url = 9;
  repeated FrameworkInfo.Capability capabilities = 10;
  optional Labels labels = 11;
  map<string, OfferFilters> offer_filters = 13;
}

message CheckInfo {
  enum Type {
    UNKNOWN = 0;
    COMMAND = 1;
    HTTP = 2;
    TCP = 3;
  }
  message Command {
    required CommandInfo command = 1;
  }
  message Http {
    required uint32 port = 1;
    optional string path = 2;
  }
  message Tcp {
    required uint32 port = 1;
  }
  optional CheckInfo.Type type = 1;
  optional CheckInfo.Command command = 2;
  optional CheckInfo.Http http = 3;
  optional CheckInfo.Tcp tcp = 7;
  optional double delay_seconds = 4;
  optional double interval_seconds = 5;
  optional double timeout_seconds = 6;
}

message HealthCheck {
  enum Type {
    UNKNOWN = 0;
    COMMAND = 1;
    HTTP = 2;
    TCP = 3;
  }
  message HTTPCheckInfo {
    optional NetworkInfo.Protocol protocol = 5;
    optional string scheme = 3;
    required uint32 port = 1;
    optional string path = 2;
    repeated uint32 statuses = 4;
  }
  message TCPCheckInfo {
    optional NetworkInfo.Protocol protocol = 2;
    required uint32 port = 1;
  }
  optional double delay_seconds = 2;
  optional double interval_seconds = 3;
  optional double timeout_seconds = 4;
  optional uint32 consecutive_failures = 5;
  optional double grace_period_seconds = 6;
  optional HealthCheck.Type type = 8;
  optional CommandInfo command = 7;
  optional HealthCheck.HTTPCheckInfo http = 1;
  optional HealthCheck.TCPCheckInfo tcp = 9;
}

message KillPolicy {
  optional DurationInfo grace_period = 1;
}

message CommandInfo {
  message URI {
    required string value = 1;
    optional bool executable = 2;
    optional bool extract = 3;
    optional bool cache = 4;
    optional string output_file = 5;
  }
  repeated CommandInfo.URI uris = 1;
  optional Environment environment = 2;
  optional bool shell = 6;
  optional string value = 3;
  repeated string arguments = 7;
  optional string user = 5;
}

message ExecutorInfo {
  enum Type {
    UNKNOWN = 0;
    DEFAULT = 1;
    CUSTOM = 2;
  }
  optional ExecutorInfo.Type type = 15;
  required ExecutorID executor_id = 1;
  optional FrameworkID framework_id = 8;
  optional CommandInfo command = 7;
  optional ContainerInfo container = 11;
  repeated Resource resources = 5;
  optional string name = 9;
  optional bytes data = 4;
  optional DiscoveryInfo discovery = 12;
  optional DurationInfo shutdown_grace_period = 13;
  optional Labels labels = 14;
}

message DomainInfo {
  message FaultDomain {
    message RegionInfo {
      required string name = 1;
    }
    message ZoneInfo {
      required string name = 1;
    }
    required DomainInfo.FaultDomain.RegionInfo region = 1;
    required DomainInfo.FaultDomain.ZoneInfo zone = 2;
  }
  optional DomainInfo.FaultDomain fault_domain = 1;
}

message MasterInfo {
  message Capability {
    enum Type {
      UNKNOWN = 0;
      AGENT_UPDATE = 1;
      AGENT_DRAINING = 2;
      QUOTA_V2 = 3;
    }
    optional MasterInfo.Capability.Type type = 1;
  }
  required string id = 1;
  required uint32 ip = 2;
  required uint32 port = 3;
  optional string pid = 4;
  optional string hostname = 5;
  optional string version = 6;
  optional Address address = 7;
  optional DomainInfo domain = 8;
  repeated MasterInfo.Capability capabilities = 9;
}

message AgentInfo {
  message Capability {
    enum Type {
      UNKNOWN = 0;
      MULTI_ROLE = 1;
      HIERARCHICAL_ROLE = 2;
      RESERVATION_REFINEMENT = 3;
      RESOURCE_PROVIDER = 4;
      RESIZE_VOLUME = 5;
      AGENT_OPERATION_FEEDBACK = 6;
      AGENT_DRAINING = 7;
      TASK_RESOURCE_LIMITS = 8;
    }
    optional AgentInfo.Capability.Type type = 1;
  }
  required string hostname = 1;
  optional int32 port = 8;
  repeated Resource resources = 3;
  repeated Attribute attributes = 5;
  optional AgentID id = 6;
  optional DomainInfo domain = 10;
}

message Value {
  enum Type {
    SCALAR = 0;
    RANGES = 1;
    SET = 2;
    TEXT = 3;
  }
  message Scalar {
    required double value = 1;
  }
  message Range {
    required uint64 begin = 1;
    required uint64 end = 2;
  }
  message Ranges {
    repeated Value.Range range = 1;
  }
  message Set {
    repeated string item = 1;
  }
  message Text {
    required string value = 1;
  }
}

message Attribute {
  required string name = 1;
  required Value.Type type = 2;
  optional Value.Scalar scalar = 3;
  optional Value.Ranges ranges = 4;
  optional Value.Set set = 6;
  optional Value.Text text = 5;
}

message Resource {
  message AllocationInfo {
    optional string role = 1;
  }
  message ReservationInfo {
    enum Type {
      UNKNOWN = 0;
      STATIC = 1;
      DYNAMIC = 2;
    }
    optional Resource.ReservationInfo.Type type = 4;
    optional string role = 3;
    optional string principal = 1;
    optional Labels labels = 2;
  }
  message DiskInfo {
    message Persistence {
      required string id = 1;
      optional string principal = 2;
    }
    message Source {
      enum Type {
        UNKNOWN = 0;
        PATH = 1;
        MOUNT = 2;
        BLOCK = 3;
        RAW = 4;
      }
      message Path {
        optional string root = 1;
      }
      message Mount {
        optional string root = 1;
      }
      required Resource.DiskInfo.Source.Type type = 1;
      optional Resource.DiskInfo.Source.Path path = 2;
      optional Resource.DiskInfo.Source.Mount mount = 3;
      optional string vendor = 7;
      optional string id = 4;
      optional Labels metadata = 5;
      optional string profile = 6;
    }
    optional Resource.DiskInfo.Persistence persistence = 1;
    optional Volume volume = 2;
    optional Resource.DiskInfo.Source source = 3;
  }
  message RevocableInfo {
  }
  message SharedInfo {
  }
  optional ResourceProviderID provider_id = 12;
  required string name = 1;
  required Value.Type type = 2;
  optional Value.Scalar scalar = 3;
  optional Value.Ranges ranges = 4;
  optional Value.Set set = 5;
  optional string role = 6;
  optional Resource.AllocationInfo allocation_info = 11;
  optional Resource.ReservationInfo reservation = 8;
  repeated Resource.ReservationInfo reservations = 13;
  optional Resource.DiskInfo disk = 7;
  optional Resource.RevocableInfo revocable = 9;
  optional Resource.SharedInfo shared = 10;
}

message OfferFilters {
  message ResourceQuantities {
    map<string, Value.Scalar> quantities = 1;
  }
  message MinAllocatableResources {
    repeated OfferFilters.ResourceQuantities quantities = 1;
  }
  optional OfferFilters.MinAllocatableResources min_allocatable_resources = 1;
}

message Request {
  optional AgentID agent_id = 1;
  repeated Resource resources = 2;
  // Mantle: how many tasks of these resources wait.
  optional uint32 count = 1000;
}

message Offer {
  message Operation {
    enum Type {
      UNKNOWN = 0;
      LAUNCH = 1;
      LAUNCH_GROUP = 6;
      RESERVE = 2;
      UNRESERVE = 3;
      CREATE = 4;
      DESTROY = 5;
      GROW_VOLUME = 11;
      SHRINK_VOLUME = 12;
      CREATE_DISK = 13;
      DESTROY_DISK = 14;
    }
    message Launch {
      repeated TaskInfo task_infos = 1;
    }
    message LaunchGroup {
      required ExecutorInfo executor = 1;
      required TaskGroupInfo task_group = 2;
    }
    message Reserve {
      repeated Resource source = 2;
      repeated Resource resources = 1;
    }
    message Unreserve {
      repeated Resource resources = 1;
    }
    message Create {
      repeated Resource volumes = 1;
    }
    message Destroy {
      repeated Resource volumes = 1;
    }
    message GrowVolume {
      required Resource volume = 1;
      required Resource addition = 2;
    }
    message ShrinkVolume {
      required Resource volume = 1;
      required Value.Scalar subtract = 2;
    }
    message CreateDisk {
      required Resource source = 1;
      required Resource.DiskInfo.Source.Type target_type = 2;
      optional string target_profile = 3;
    }
    message DestroyDisk {
      required Resource source = 1;
    }
    optional Offer.Operation.Type type = 1;
    optional OperationID id = 12;
    optional Offer.Operation.Launch launch = 2;
    optional Offer.Operation.LaunchGroup launch_group = 7;
    optional Offer.Operation.Reserve reserve = 3;
    optional Offer.Operation.Unreserve unreserve = 4;
    optional Offer.Operation.Create create = 5;
    optional Offer.Operation.Destroy destroy = 6;
    optional Offer.Operation.GrowVolume grow_volume = 13;
    optional Offer.Operation.ShrinkVolume shrink_volume = 14;
    optional Offer.Operation.CreateDisk create_disk = 15;
    optional Offer.Operation.DestroyDisk destroy_disk = 16;
  }
  required OfferID id = 1;
  required FrameworkID framework_id = 2;
  required AgentID agent_id = 3;
  required string hostname = 4;
  optional URL url = 8;
  optional DomainInfo domain = 11;
  repeated Resource resources = 5;
  repeated Attribute attributes = 7;
  repeated ExecutorID executor_ids = 6;
  optional Unavailability unavailability = 9;
  optional Resource.AllocationInfo allocation_info = 10;
}
`;
