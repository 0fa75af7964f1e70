/**
 * mantle.v1: the messages of Mantle's extensions of the Mesos APIs (GET_PENDING_REASONS on both APIs,
 * paged GET_TASKS, the operator SUBSCRIBE's options, an agent's GPUs; docs/scheduler-api.md,
 * docs/operator.md). Mesos has no such messages, so they live in a package of their own; the Mesos
 * messages that carry them do so in fields numbered from 1000.
 */
export const MANTLE_V1_PROTO = `syntax = "proto2";
package mantle.v1;

message PendingReason {
  message Quota {
    optional string role = 1;
    repeated string resources = 2;
  }
  optional mesos.v1.FrameworkID framework_id = 1;
  optional string role = 2;
  optional string code = 3;
  optional string message = 4;
  map<string, uint32> agents = 5;
  optional mesos.v1.TimeInfo filtered_until = 6;
  optional PendingReason.Quota quota = 7;
  optional mesos.v1.TimeInfo since = 8;
  optional mesos.v1.TimeInfo updated_at = 9;
  optional string job_id = 10;
  optional string job_name = 11;
}

message PendingReasons {
  repeated PendingReason reasons = 1;
}

message PendingReasonsFilter {
  optional mesos.v1.FrameworkID framework_id = 1;
  optional string role = 2;
}

message TaskPage {
  optional uint32 limit = 1;
  optional string cursor = 2;
  optional mesos.v1.FrameworkID framework_id = 3;
}

message AgentGpu {
  optional uint32 index = 1;
  optional string uuid = 2;
  optional string model = 3;
  optional uint32 memory_mib = 4;
  optional string mig_parent_uuid = 5;
  optional string mig_profile = 6;
}

message Subscribe {
  optional bool omit_tasks = 1;
}
`;
