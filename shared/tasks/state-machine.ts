/**
 * The task state machine (docs/protocol-and-resources.md; Mesos `protobuf::isTerminalState`, `Master::updateTask`,
 * the agent's status update manager). Pure.
 *
 * What the registrar stores is the master's view of a task. Two rules make it safe against
 * duplicated and reordered deliveries (SQS redelivers; the stand-in does not lock FIFO groups):
 * - identity by uuid: an update whose uuid was already applied is a duplicate, a no-op;
 * - no regression: a state never moves backwards in the lifecycle, and a terminal state never changes.
 *
 * TASK_UNREACHABLE is the master's record for a task on a partitioned agent; frameworks without
 * PARTITION_AWARE see TASK_LOST instead (see `stateForFramework`). When the agent comes back the task
 * takes whatever state the agent reports, as Mesos does since 1.5. TASK_UNKNOWN is only an answer to
 * reconciliation and is never stored.
 */
import type { TaskState } from '../protocol/mesos.js';
import { TASK_STATES } from '../protocol/mesos.js';

export { TASK_STATES, type TaskState };

export const TERMINAL_STATES: ReadonlySet<TaskState> = new Set<TaskState>([
  'TASK_FINISHED',
  'TASK_FAILED',
  'TASK_KILLED',
  'TASK_ERROR',
  'TASK_LOST',
  'TASK_DROPPED',
  'TASK_GONE',
  'TASK_GONE_BY_OPERATOR',
]);

export function isTerminal(state: TaskState): boolean {
  return TERMINAL_STATES.has(state);
}

/** The states a live task moves through, in order; terminal states all rank last. */
const LIFECYCLE_RANK: Partial<Record<TaskState, number>> = {
  TASK_STAGING: 0,
  TASK_STARTING: 1,
  TASK_RUNNING: 2,
  TASK_KILLING: 3,
};
const TERMINAL_RANK = 4;

/** Non-terminal states that may repeat: health and check results arrive as further RUNNING updates. */
const REPEATABLE: ReadonlySet<TaskState> = new Set<TaskState>(['TASK_STARTING', 'TASK_RUNNING']);

function rank(state: TaskState): number {
  return isTerminal(state) ? TERMINAL_RANK : (LIFECYCLE_RANK[state] ?? -1);
}

/** Whether a stored task in `from` may take an update to `to`. */
export function canTransition(from: TaskState, to: TaskState): boolean {
  if (from === 'TASK_UNKNOWN' || to === 'TASK_UNKNOWN') return false;
  if (isTerminal(from)) return false;
  if (to === 'TASK_UNREACHABLE') return from !== 'TASK_UNREACHABLE';
  // The agent is back: whatever it reports is the truth.
  if (from === 'TASK_UNREACHABLE') return true;
  if (from === to) return REPEATABLE.has(to);
  return rank(to) > rank(from);
}

/** Every state a task can be in when an update to `to` is legal (for conditional writes and tests). */
export function legalPredecessors(to: TaskState): TaskState[] {
  return TASK_STATES.filter((from) => canTransition(from, to));
}

/** Mesos's translation for frameworks without PARTITION_AWARE: the partition-aware states read as LOST. */
export function stateForFramework(state: TaskState, partitionAware: boolean): TaskState {
  if (partitionAware) return state;
  switch (state) {
    case 'TASK_DROPPED':
    case 'TASK_UNREACHABLE':
    case 'TASK_GONE':
    case 'TASK_GONE_BY_OPERATOR':
    case 'TASK_UNKNOWN':
      return 'TASK_LOST';
    default:
      return state;
  }
}

/** How many recent update uuids a task remembers for duplicate detection. */
export const REMEMBERED_UUIDS = 32;

export interface TaskStateRecord {
  readonly state: TaskState;
  /** uuids of applied updates, oldest first, at most REMEMBERED_UUIDS. */
  readonly uuids: readonly string[];
}

export interface StatusUpdateInput {
  readonly state: TaskState;
  /** Agent/executor updates carry one; master-generated updates do not (functions/master/statuses.ts). */
  readonly uuid?: string | undefined;
}

export type StatusUpdateOutcome =
  | {
      readonly kind: 'applied';
      readonly previous: TaskState;
      readonly record: TaskStateRecord;
      /** This update moved the task into a terminal state (its resources are to be released). */
      readonly becameTerminal: boolean;
    }
  | { readonly kind: 'duplicate'; readonly record: TaskStateRecord }
  | { readonly kind: 'rejected'; readonly code: 'ILLEGAL_TRANSITION'; readonly message: string };

/** Applies one status update to a task's state. Pure; the caller persists `record` on `applied`. */
export function applyStatusUpdate(current: TaskStateRecord, update: StatusUpdateInput): StatusUpdateOutcome {
  if (update.uuid !== undefined && current.uuids.includes(update.uuid)) {
    return { kind: 'duplicate', record: current };
  }
  if (!canTransition(current.state, update.state)) {
    const why = isTerminal(current.state) ? 'the task is already terminal' : 'that would move the task backwards';
    return {
      kind: 'rejected',
      code: 'ILLEGAL_TRANSITION',
      message: `Illegal transition ${current.state} -> ${update.state}: ${why}`,
    };
  }
  const uuids = update.uuid === undefined ? current.uuids : [...current.uuids, update.uuid].slice(-REMEMBERED_UUIDS);
  return {
    kind: 'applied',
    previous: current.state,
    record: { state: update.state, uuids },
    becameTerminal: isTerminal(update.state),
  };
}

/** The record of a task the master has just accepted for launch. */
export function stagingRecord(): TaskStateRecord {
  return { state: 'TASK_STAGING', uuids: [] };
}
