/**
 * A task status update applied to an app: the task's state and health recorded, or — when it ended — its item
 * removed (the plan then replaces it). An end the framework did not ask for (a crash, a failed health check,
 * a lost agent) is the app's failure: `lastTaskFailure`, and the launch backoff grows (Marathon's rate
 * limiter), except for ends that are the system's (TASK_LOST, TASK_GONE, TASK_DROPPED, TASK_UNREACHABLE:
 * replaced at once). TASK_UNREACHABLE counts as ended: the task is replaced elsewhere (Marathon's
 * `unreachableStrategy` with `inactiveAfterSeconds: 0`), and if it comes back it is killed as unknown.
 */
import type { TaskStatus } from '#shared/protocol/mesos.js';
import { TERMINAL_STATES } from '#shared/tasks/state-machine.js';
import type { Change, ServicesEngine } from './engine.js';
import { backoffAfterFailure, type AppRecord, type TaskRecord } from './plan.js';
import { appIdOfTask } from './task-info.js';
import { healthEvent, statusEvent } from './views.js';

const SYSTEM_ENDS = new Set(['TASK_LOST', 'TASK_GONE', 'TASK_DROPPED', 'TASK_UNREACHABLE', 'TASK_GONE_BY_OPERATOR']);

export type StatusOutcome = 'recorded' | 'ended' | 'unknown';

function ended(state: string): boolean {
  return TERMINAL_STATES.has(state as never) || state === 'TASK_UNREACHABLE';
}

function healthChange(task: TaskRecord, status: TaskStatus, iso: string): TaskRecord {
  if (status.healthy === undefined) return task;
  return status.healthy
    ? { ...task, healthy: true, consecutiveFailures: 0, lastSuccess: iso }
    : { ...task, healthy: false, consecutiveFailures: task.consecutiveFailures + 1, lastFailure: iso };
}

function endChange(record: AppRecord, task: TaskRecord, status: TaskStatus, now: number): Change {
  const iso = new Date(now).toISOString();
  const message = status.message ?? '';
  const failed = !task.killing && !SYSTEM_ENDS.has(status.state);
  const unexpected = !task.killing && status.state !== 'TASK_FINISHED';
  const next: AppRecord = {
    ...record,
    backoff: failed ? backoffAfterFailure(record.app, record.backoff, now) : record.backoff,
    lastTaskFailure: unexpected
      ? {
          appId: record.app.id,
          host: task.host,
          message: status.healthy === false ? `${message} (health check failed)`.trim() : message,
          state: status.state,
          taskId: task.id,
          timestamp: iso,
          version: task.version,
          slaveId: task.agentId,
        }
      : record.lastTaskFailure,
  };
  return {
    record: next,
    tasks: [{ kind: 'delete-task', appId: task.appId, taskId: task.id }],
    events: [statusEvent(task, status.state, message, now)],
  };
}

/** Applies one status update; 'unknown' for a task no app has (the framework kills it if it lives). */
export async function applyStatus(engine: ServicesEngine, status: TaskStatus): Promise<StatusOutcome> {
  const taskId = status.task_id.value;
  const appId = appIdOfTask(taskId);
  if (appId === undefined) return 'unknown';
  const now = engine.now();
  const iso = new Date(now).toISOString();
  let outcome: StatusOutcome = 'unknown';
  await engine.mutate(appId, (record, tasks) => {
    const task = tasks.find((each) => each.id === taskId);
    outcome = task === undefined ? 'unknown' : ended(status.state) ? 'ended' : 'recorded';
    if (task === undefined) return undefined;
    if (ended(status.state)) return endChange(record, task, status, now);
    const started = task.startedAt ?? (status.state === 'TASK_RUNNING' ? iso : null);
    const next = healthChange({ ...task, state: status.state, startedAt: started }, status, iso);
    const events: Change['events'] & object[] = [];
    if (next.state !== task.state) events.push(statusEvent(next, status.state, status.message ?? '', now));
    if (next.healthy !== task.healthy && next.healthy !== null) events.push(healthEvent(next, next.healthy, now));
    if (JSON.stringify(next) === JSON.stringify(task)) return undefined;
    return { tasks: [{ kind: 'task', task: next, expected: 'any' }], events };
  });
  return outcome;
}
