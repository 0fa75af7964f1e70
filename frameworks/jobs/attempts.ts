/**
 * An attempt's life in the store: recorded (with the job's move to RUNNING, one transaction, conditional on the
 * version placement read) BEFORE the ACCEPT that launches its tasks, so that a handler dying at any point
 * leaves either nothing (the job is placed again) or a recorded attempt whose deterministic task ids the master
 * knows or answers for by reconciliation — never a second task for it. Status updates are applied to the
 * attempt's item, then the job settles from its attempts.
 */
import type { TaskState } from '#shared/tasks/state-machine.js';
import type { Attempt } from './model.js';
import { applyTaskUpdate, attemptTasks } from './lifecycle.js';
import type { JobsEngine } from './engine.js';
import type { AttemptRecord, StoredJob } from './store.js';

/** Output kept per task (the agent sends a few KiB; this bounds what a forged status could store). */
const MAX_OUTPUT_CHARS = 16_384;

/** Task ids are `<job id>-<attempt>` and `<job id>-<attempt>.<gang index>` (model.ts attemptTaskId). */
const TASK_ID = /^(.+)-(\d{1,6})(?:\.(\d{1,3}))?$/;

export function parseTaskId(taskId: string): { jobId: string; attempt: number; gangIndex: number | null } | undefined {
  const match = TASK_ID.exec(taskId);
  if (!match) return undefined;
  return {
    jobId: match[1] as string,
    attempt: Number(match[2]),
    gangIndex: match[3] === undefined ? null : Number(match[3]),
  };
}

export interface TaskPlacement {
  readonly agentId: string;
  readonly hostname: string;
  readonly offerId: string;
}

/**
 * Records the next attempt of a job placement read at `seen` (its version): the job RUNNING, waiting for word of
 * its tasks, and the attempt's item, in one transaction. Undefined when the job moved since (placed by another
 * handler, cancelled): its launches must not be sent.
 */
export async function recordAttempt(
  engine: JobsEngine,
  seen: StoredJob,
  placements: readonly TaskPlacement[],
): Promise<{ stored: StoredJob; attempt: AttemptRecord } | undefined> {
  const now = engine.now();
  let record: AttemptRecord | undefined;
  const written = await engine.mutate(
    seen.job.id,
    (current) => {
      if (current.job.version !== seen.job.version || current.job.state !== 'PENDING' || current.wait !== null) {
        return undefined;
      }
      const number = current.attemptCount + 1;
      const tasks = attemptTasks(current.job.id, number, current.job.gang !== null, placements);
      record = {
        jobId: current.job.id,
        attempt: number,
        tasks,
        output: {},
        offerIds: placements.map((p) => p.offerId),
        version: 1,
      };
      return {
        job: { ...current.job, state: 'RUNNING', pending_reason: null, retry_at: null },
        wait: { kind: 'launch', until: now + engine.launchCheckMs },
        attemptCount: number,
      };
    },
    { extra: () => (record ? [{ kind: 'attempt', record, expected: 'absent' }] : []) },
  );
  return written && record ? { stored: written, attempt: record } : undefined;
}

export interface StatusUpdate {
  readonly taskId: string;
  readonly state: TaskState;
  readonly time: number;
  readonly message?: string;
  /** The output tail the agent sent with a terminal status (decoded). */
  readonly output?: string;
  /** The Mesos status reason. */
  readonly reason?: string;
}

/**
 * A status the master made for a launch it refused on invalid offers, about a task the agent already runs:
 * it answers a second ACCEPT of the same task id (a redelivered event), not the task, and must not end it.
 */
function staleRefusal(update: StatusUpdate, current: Attempt | undefined): boolean {
  return update.reason === 'REASON_INVALID_OFFERS' && current !== undefined && current.state !== 'TASK_STAGING';
}

/** The exit code in the agent's message ("Command exited with status 3"), when it says one. */
export function exitCodeOf(message: string | undefined): number | undefined {
  const match = message === undefined ? null : /exited with status (\d+)/.exec(message);
  return match ? Number(match[1]) : undefined;
}

/**
 * Applies a task's status to its attempt (a status for a task that is not one of ours, or an attempt not
 * recorded, is ignored), then settles the job. Idempotent: a redelivered update changes nothing twice.
 */
export async function applyStatus(engine: JobsEngine, update: StatusUpdate): Promise<StoredJob | undefined> {
  const task = parseTaskId(update.taskId);
  if (task === undefined) return undefined;
  for (let round = 0; round < 16; round++) {
    const record = await engine.store.attempt(task.jobId, task.attempt);
    const current = record?.tasks.find((each) => each.task_id === update.taskId);
    if (record === undefined || current === undefined) return undefined;
    if (staleRefusal(update, current)) break;
    const exitCode = exitCodeOf(update.message);
    const tasks = applyTaskUpdate(record.tasks, {
      taskId: update.taskId,
      state: update.state,
      time: update.time,
      ...(update.message !== undefined ? { message: update.message } : {}),
      ...(exitCode !== undefined ? { exitCode } : {}),
    });
    const output =
      update.output === undefined
        ? record.output
        : { ...record.output, [update.taskId]: update.output.slice(-MAX_OUTPUT_CHARS) };
    const changed = JSON.stringify(tasks) !== JSON.stringify(record.tasks) || output !== record.output;
    if (!changed) break;
    const next = { ...record, tasks, output, version: record.version + 1 };
    if (await engine.store.transact([{ kind: 'attempt', record: next, expected: record.version }])) break;
  }
  return engine.settle(task.jobId);
}
