/**
 * Master-generated task status updates, as Mesos's master makes them (`protobuf::createStatusUpdate`):
 * SOURCE_MASTER, no uuid (never retried, never acknowledged), with the Mesos reason, translated for
 * frameworks without PARTITION_AWARE.
 */
import { hasCapability } from '#shared/protocol/capabilities.js';
import type { FrameworkInfo, TaskState, TaskStatus, TaskStatusReason } from '#shared/protocol/mesos.js';
import type { Event } from '#shared/protocol/scheduler.js';
import { stateForFramework } from '#shared/tasks/state-machine.js';

export function isPartitionAware(info: FrameworkInfo): boolean {
  return hasCapability(info, 'PARTITION_AWARE');
}

export interface MasterStatusInput {
  readonly taskId: string;
  readonly state: TaskState;
  readonly reason: TaskStatusReason;
  readonly message?: string;
  readonly agentId?: string;
  /** For TASK_UNREACHABLE: when the agent became unreachable (ms since the epoch). */
  readonly unreachableSince?: number;
  readonly now: number;
}

export function masterStatus(info: FrameworkInfo, input: MasterStatusInput): TaskStatus {
  const state = stateForFramework(input.state, isPartitionAware(info));
  return {
    task_id: { value: input.taskId },
    state,
    source: 'SOURCE_MASTER',
    reason: input.reason,
    ...(input.message !== undefined ? { message: input.message } : {}),
    ...(input.agentId !== undefined ? { agent_id: { value: input.agentId } } : {}),
    timestamp: input.now / 1000,
    ...(input.unreachableSince !== undefined && state === 'TASK_UNREACHABLE'
      ? { unreachable_time: { nanoseconds: input.unreachableSince * 1e6 } }
      : {}),
  };
}

export function updateEvent(status: TaskStatus): Event {
  return { type: 'UPDATE', update: { status } };
}
