/**
 * mesos.v1.executor: the Call an executor sends its agent and the Event it receives.
 * Mantle's own wire definitions (docs/protocol-and-resources.md, "Protobuf"), with Mesos's package,
 * message and field names, numbers and types: the wire contract of Mesos's executor libraries.
 */
export const MESOS_V1_EXECUTOR_PROTO = `syntax = "proto2";
package mesos.v1.executor;

message Event {
  enum Type {
    UNKNOWN = 0;
    SUBSCRIBED = 1;
    LAUNCH = 2;
    LAUNCH_GROUP = 8;
    KILL = 3;
    ACKNOWLEDGED = 4;
    MESSAGE = 5;
    ERROR = 6;
    SHUTDOWN = 7;
    HEARTBEAT = 9;
  }
  message Subscribed {
    required mesos.v1.ExecutorInfo executor_info = 1;
    required mesos.v1.FrameworkInfo framework_info = 2;
    required mesos.v1.AgentInfo agent_info = 3;
    optional mesos.v1.ContainerID container_id = 4;
  }
  message Launch {
    required mesos.v1.TaskInfo task = 1;
  }
  message LaunchGroup {
    required mesos.v1.TaskGroupInfo task_group = 1;
  }
  message Kill {
    required mesos.v1.TaskID task_id = 1;
    optional mesos.v1.KillPolicy kill_policy = 2;
  }
  message Acknowledged {
    required mesos.v1.TaskID task_id = 1;
    required bytes uuid = 2;
  }
  message Message {
    required bytes data = 1;
  }
  message Error {
    required string message = 1;
  }
  optional Type type = 1;
  optional Subscribed subscribed = 2;
  optional Acknowledged acknowledged = 3;
  optional Launch launch = 4;
  optional LaunchGroup launch_group = 8;
  optional Kill kill = 5;
  optional Message message = 6;
  optional Error error = 7;
}

message Call {
  enum Type {
    UNKNOWN = 0;
    SUBSCRIBE = 1;
    UPDATE = 2;
    MESSAGE = 3;
  }
  message Subscribe {
    repeated mesos.v1.TaskInfo unacknowledged_tasks = 1;
    repeated Update unacknowledged_updates = 2;
  }
  message Update {
    required mesos.v1.TaskStatus status = 1;
  }
  message Message {
    required bytes data = 2;
  }
  required mesos.v1.ExecutorID executor_id = 1;
  required mesos.v1.FrameworkID framework_id = 2;
  optional Type type = 3;
  optional Subscribe subscribe = 4;
  optional Update update = 5;
  optional Message message = 6;
}
`;
