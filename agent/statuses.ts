/**
 * Status updates the agent and its executors generate (Mesos `TaskStatus`, include/mesos/v1/mesos.proto):
 * a fresh uuid (16 random bytes, base64) per update, `timestamp` in seconds, SOURCE_EXECUTOR for what
 * the task did and SOURCE_AGENT for what the agent decided (a task it does not know, a launch it
 * refused, a drain).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { hasCapability } from '#shared/protocol/capabilities.js';
import type { AgentFrameworkInfoSchema } from '#shared/protocol/internal.js';
import type { OutgoingMessage } from '#shared/queues/queues.js';
import type { Resource, TaskState, TaskStatus, TaskStatusReason, TaskStatusSource } from '#shared/protocol/mesos.js';
import type { z } from 'zod';

export type AgentFrameworkInfo = z.infer<typeof AgentFrameworkInfoSchema>;

export function newUuid(): string {
  return randomBytes(16).toString('base64');
}

/** The agent's DRAINED message to the master (Mesos DrainInfo), on the status queue in the agent's own group. */
export function drainedMessage(agentId: string): OutgoingMessage {
  return {
    body: { type: 'DRAINED', agent_id: { value: agentId } },
    groupId: `agent/${agentId}`,
    deduplicationId: `drained-${randomUUID()}`,
    context: { agent_id: agentId },
  };
}

export interface StatusInput {
  readonly taskId: string;
  readonly state: TaskState;
  readonly source?: TaskStatusSource;
  readonly reason?: TaskStatusReason;
  readonly message?: string;
  readonly executorId?: string;
  readonly containerId?: string;
  readonly healthy?: boolean;
  /** The task's last check result (every executor update of a task with a check carries one, as in Mesos). */
  readonly checkStatus?: TaskStatus['check_status'];
  /** Resources whose limit the container hit (REASON_CONTAINER_LIMITATION_*). */
  readonly limitation?: readonly Resource[];
  /** Base64 (`TaskStatus.data`): the output's tail on terminal updates, see output-tail.ts. */
  readonly data?: string;
}

export function taskStatus(input: StatusInput, now: number = Date.now()): TaskStatus {
  return {
    task_id: { value: input.taskId },
    state: input.state,
    source: input.source ?? 'SOURCE_EXECUTOR',
    ...(input.reason ? { reason: input.reason } : {}),
    ...(input.message !== undefined ? { message: input.message } : {}),
    ...(input.executorId !== undefined ? { executor_id: { value: input.executorId } } : {}),
    ...(input.healthy !== undefined ? { healthy: input.healthy } : {}),
    ...(input.checkStatus !== undefined ? { check_status: input.checkStatus } : {}),
    ...(input.containerId !== undefined ? { container_status: { container_id: { value: input.containerId } } } : {}),
    ...(input.limitation ? { limitation: { resources: [...input.limitation] } } : {}),
    ...(input.data !== undefined ? { data: input.data } : {}),
    timestamp: now / 1000,
    uuid: newUuid(),
  };
}

/** A status the agent decides for a task it does not run (a launch it refused, a task it does not know). */
export function agentStatus(taskId: string, state: TaskState, reason: TaskStatusReason, message: string): TaskStatus {
  return taskStatus({ taskId, state, source: 'SOURCE_AGENT', reason, message });
}

/** TASK_DROPPED for partition-aware frameworks (and when the framework is unknown: the master translates). */
export function droppedState(info: AgentFrameworkInfo | undefined): TaskState {
  return info && !hasCapability(info, 'PARTITION_AWARE') ? 'TASK_LOST' : 'TASK_DROPPED';
}

/**
 * How a drain ends a task (Mesos `DrainConfig.mark_gone`): TASK_KILLED, or when the operator marks the
 * agent gone, TASK_GONE_BY_OPERATOR (TASK_LOST for frameworks without PARTITION_AWARE).
 */
export function drainedState(info: AgentFrameworkInfo, markGone: boolean): TaskState {
  if (!markGone) return 'TASK_KILLED';
  return hasCapability(info, 'PARTITION_AWARE') ? 'TASK_GONE_BY_OPERATOR' : 'TASK_LOST';
}

/** The uuid as hex, for SQS deduplication ids (which allow base64's characters, but hex reads better). */
export function uuidHex(uuid: string): string {
  return Buffer.from(uuid, 'base64').toString('hex');
}
