/**
 * The smaller packages the operator API uses: mesos.v1.quota, mesos.v1.maintenance, mesos.v1.allocator,
 * and google.protobuf.Duration (DRAIN_AGENT's grace period).
 * Mantle's own wire definitions (docs/protocol-and-resources.md, "Protobuf"): the messages and fields
 * Mantle's JSON schemas accept and emit, with Mesos's package, message and field names and Mesos's field
 * numbers and types (the wire contract). Fields Mantle adds are numbered from 1000.
 */
export const MESOS_V1_QUOTA_PROTO = `syntax = "proto2";
package mesos.v1.quota;

message QuotaInfo {
  optional string role = 1;
  optional string principal = 2;
  repeated mesos.v1.Resource guarantee = 3;
}

message QuotaConfig {
  required string role = 1;
  map<string, mesos.v1.Value.Scalar> guarantees = 2;
  map<string, mesos.v1.Value.Scalar> limits = 3;
}

message QuotaStatus {
  repeated QuotaInfo infos = 1;
  repeated QuotaConfig configs = 2;
}
`;

export const MESOS_V1_MAINTENANCE_PROTO = `syntax = "proto2";
package mesos.v1.maintenance;

message Window {
  repeated mesos.v1.MachineID machine_ids = 1;
  required mesos.v1.Unavailability unavailability = 2;
}

message Schedule {
  repeated Window windows = 1;
}

message ClusterStatus {
  message DrainingMachine {
    required mesos.v1.MachineID id = 1;
    repeated mesos.v1.allocator.InverseOfferStatus statuses = 2;
  }
  repeated ClusterStatus.DrainingMachine draining_machines = 1;
  repeated mesos.v1.MachineID down_machines = 2;
}
`;

export const MESOS_V1_ALLOCATOR_PROTO = `syntax = "proto2";
package mesos.v1.allocator;

message InverseOfferStatus {
  enum Status {
    UNKNOWN = 1;
    ACCEPT = 2;
    DECLINE = 3;
  }
  required InverseOfferStatus.Status status = 1;
  required mesos.v1.FrameworkID framework_id = 2;
  required mesos.v1.TimeInfo timestamp = 3;
}
`;

export const DURATION_PROTO = `syntax = "proto2";
package google.protobuf;

message Duration {
  optional int64 seconds = 1;
  optional int32 nanos = 2;
}
`;
