/**
 * What follows a status update once the task state machine has ruled on it (the registrar applied
 * it, found it a duplicate, or refused it): free a terminal task's resources, forward the update to
 * the framework, acknowledge it to the agent ourselves, or neither. Pure; status-updates.ts does it.
 */
import type { AgentMessage } from '#shared/protocol/internal.js';
import type { TaskStatus } from '#shared/protocol/mesos.js';
import type { Result } from '#shared/result.js';
import { isTerminal, stateForFramework } from '#shared/tasks/state-machine.js';
import type { FrameworkRecord, RegistrarError, StatusUpdateResult } from '../registrar/index.js';
import { sentBy } from '../fleet/instance-id.js';
import { isPartitionAware } from './statuses.js';

export type StatusUpdate = Extract<AgentMessage, { type: 'STATUS_UPDATE' }>;

/** What follows an update the state machine ruled on. */
export interface StatusPlan {
  readonly counters: readonly string[];
  /** Why the update was not applied, for the logs. */
  readonly refused?: { readonly code: string; readonly why: string };
  /** The task is terminal: its resources go back now, before any acknowledgement (as in Mesos). */
  readonly release?: { readonly agentId: string; readonly frameworkId: string; readonly taskId: string };
  /** Forward the update to the framework, acknowledge it to the agent ourselves, or neither. */
  readonly reply:
    | { readonly kind: 'forward'; readonly framework: FrameworkRecord; readonly status: TaskStatus }
    | { readonly kind: 'acknowledge' }
    | { readonly kind: 'none' };
}

/**
 * A message whose sender is not the agent it names (SQS's SenderId is not the role session the agent
 * is bound to; "Agent identity" in docs/security.md): dropped and counted, nothing freed, nothing sent
 * to the agent it names. Undefined when the sender may speak for the agent. Pure.
 */
export function planForeignSender(
  agentId: string,
  expected: string | undefined,
  senderId: string | undefined,
): StatusPlan | undefined {
  if (sentBy(expected, senderId)) return undefined;
  return {
    counters: ['master/invalid_status_updates'],
    refused: {
      code: 'FOREIGN_SENDER',
      why: `Sent by ${senderId ?? 'an unknown sender'}, not by agent ${agentId}'s instance (${String(expected)})`,
    },
    reply: { kind: 'none' },
  };
}

/**
 * How long an update forwarded to a queue-delivered framework is not forwarded again when its agent resends it.
 * The first copy is on the framework's queue, where it stays until handled: resending it at every agent retry
 * (from 10 s) only lengthens a backlog the framework is working through, and a backlog of minutes (10,000 jobs
 * queued) made every resend past a shorter window a new copy. Past this, a resent update is forwarded again, for
 * a framework that lost its copy (a dead-letter queue, a purge, a handler that died before acknowledging).
 */
export const QUEUE_RESEND_AFTER_MS = 300_000;

/**
 * The same for a stream framework: under the agent's first retry interval (10 s), so that Mesos's retries reach
 * it as they would, but the agent's immediate resend that carries a task's end (`latest_state`) does not show it
 * the update twice.
 */
export const STREAM_RESEND_AFTER_MS = 5_000;

/** Decides what follows the state machine's ruling on `message`, given the framework as read. Pure. */
export function planStatusUpdate(
  message: StatusUpdate,
  applied: Result<StatusUpdateResult, RegistrarError>,
  framework: FrameworkRecord | undefined,
  now: number,
): StatusPlan {
  const { status } = message;
  if (!applied.ok) {
    return {
      counters: ['master/invalid_status_updates'],
      refused: { code: applied.error.code, why: applied.error.message },
      reply: { kind: 'acknowledge' },
    };
  }
  const { task, outcome } = applied.value;
  const counters = [
    'master/valid_status_updates',
    ...(outcome === 'applied' ? [`master/task_updates/${task.state}`] : []),
  ];
  // As Mesos's master does, the agent's `latest_state` frees a task that ended while an earlier update waits for
  // the framework's acknowledgement: its resources need not wait for the framework (releasing is idempotent).
  const ended = isTerminal(task.state) || (message.latest_state !== undefined && isTerminal(message.latest_state));
  const release = ended
    ? { agentId: task.agentId, frameworkId: message.framework_id.value, taskId: task.taskId }
    : undefined;
  const plan = (reply: StatusPlan['reply']): StatusPlan => ({ counters, ...(release ? { release } : {}), reply });
  if (!framework || framework.status === 'REMOVED' || !framework.eventQueueUrl) return plan({ kind: 'acknowledge' });
  // A redelivered copy of an older update is not shown again: the framework only sees forward moves.
  if (outcome !== 'applied' && task.status?.uuid !== status.uuid) return plan({ kind: 'none' });
  if (outcome === 'duplicate' && task.acknowledged && isTerminal(task.state)) {
    // The framework already acknowledged this terminal update; the agent resent it because the
    // acknowledgement did not reach it. Acknowledge again rather than show the framework a second end.
    return plan({ kind: 'acknowledge' });
  }
  const resendAfter = framework.delivery === 'queue' ? QUEUE_RESEND_AFTER_MS : STREAM_RESEND_AFTER_MS;
  if (outcome === 'duplicate' && now - task.updatedAt < resendAfter) return plan({ kind: 'none' });
  const forwarded: TaskStatus = {
    ...status,
    state: stateForFramework(status.state, isPartitionAware(framework.info)),
    agent_id: { value: message.agent_id.value },
  };
  return plan({ kind: 'forward', framework, status: forwarded });
}
