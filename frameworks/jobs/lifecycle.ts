/**
 * A job's life, as pure functions of its record (docs/jobs.md "States"): creation, the state its attempts
 * give it (retries with backoff, then FAILED with every attempt kept), an array or scheduled job's state
 * from its children, dependencies, timeouts, and the environment of its tasks.
 *
 * SUCCEEDED, FAILED and CANCELLED are final: a late status update is still recorded in its attempt, but
 * the job's state does not move again.
 */
import { TERMINAL_STATES, type TaskState } from '#shared/tasks/state-machine.js';
import {
  attemptTaskId,
  emptySummary,
  isTerminalJobState,
  type Attempt,
  type ChildSummary,
  type Dependency,
  type Job,
  type JobSpec,
  type JobState,
} from './model.js';
import { nextTick, parseSchedule, withStart } from './schedule.js';

/**
 * Attempts that never started and ended for the system's reasons (dropped before reaching the agent, the
 * agent lost, a gang taken apart) are not the job's failures and do not use up its retries, as AWS Batch
 * does not count a job it could not start. At most this many are free, so a job no agent can start fails.
 */
export const MAX_FREE_ATTEMPTS = 10;

const SYSTEM_ENDS: ReadonlySet<TaskState> = new Set<TaskState>([
  'TASK_DROPPED',
  'TASK_LOST',
  'TASK_GONE',
  'TASK_GONE_BY_OPERATOR',
  'TASK_KILLED',
]);

export interface NewJob {
  readonly id: string;
  readonly now: number;
  readonly parent?: string;
  readonly arrayIndex?: number;
}

/** A fresh record: PENDING, no attempts, version 0; an ISO schedule without a start starts now. */
export function newJob(spec: JobSpec, options: NewJob): Job {
  const created = new Date(options.now).toISOString();
  let schedule = spec.schedule;
  let next: number | undefined;
  const parsed = schedule === null ? undefined : parseSchedule(schedule);
  if (parsed?.ok) {
    schedule = withStart(parsed.value, options.now);
    const anchored = parseSchedule(schedule);
    next = anchored.ok ? nextTick(anchored.value, options.now - 1) : undefined;
  }
  return {
    ...spec,
    schedule,
    id: options.id,
    state: 'PENDING',
    created_at: created,
    pending_reason: null,
    status_reason: null,
    attempts: [],
    parent: options.parent ?? null,
    array_index: options.arrayIndex ?? null,
    children: spec.array !== null || spec.schedule !== null ? emptySummary() : null,
    retry_at: null,
    last_tick: null,
    next_tick: next === undefined ? null : new Date(next).toISOString(),
    version: 0,
  };
}

/**
 * Where a scheduled job's timer looks for due ticks from (exclusive): the last tick that ran, or just
 * before its creation, so that `R5//PT1M` (start: now) runs at once.
 */
export function scheduleSince(job: Pick<Job, 'last_tick' | 'created_at'>): number {
  return job.last_tick === null ? Date.parse(job.created_at) - 1 : Date.parse(job.last_tick);
}

/** The spec of array child `index` (or of a scheduled job's run): the parent's, less what made it a parent. */
export function childSpec(parent: JobSpec, kind: 'array' | 'run'): JobSpec {
  return kind === 'array' ? { ...parent, array: null, depends_on: [] } : { ...parent, schedule: null, depends_on: [] };
}

// ----------------------------------------------------------------------------------------- attempts

export type AttemptOutcome = 'active' | 'succeeded' | 'failed' | 'free';

/** The attempts grouped by number, in order (a gang's members share one number). */
export function attemptGroups(attempts: readonly Attempt[]): Attempt[][] {
  const groups = new Map<number, Attempt[]>();
  for (const attempt of attempts) {
    const group = groups.get(attempt.attempt);
    if (group) group.push(attempt);
    else groups.set(attempt.attempt, [attempt]);
  }
  return [...groups.entries()].sort(([a], [b]) => a - b).map(([, group]) => group);
}

/** An attempt ends when all its tasks have; it succeeds when every one finished. */
export function attemptOutcome(group: readonly Attempt[]): AttemptOutcome {
  if (group.some((task) => !TERMINAL_STATES.has(task.state))) return 'active';
  if (group.every((task) => task.state === 'TASK_FINISHED')) return 'succeeded';
  const free = group.every((task) => task.started_at === null && SYSTEM_ENDS.has(task.state));
  return free ? 'free' : 'failed';
}

/** The next attempt's number (1 for the first). */
export function nextAttemptNumber(job: Pick<Job, 'attempts'>): number {
  return job.attempts.reduce((max, attempt) => Math.max(max, attempt.attempt), 0) + 1;
}

/** The tasks of a new attempt, as recorded before the ACCEPT that launches them (one per gang member). */
export function newAttempt(
  job: Pick<Job, 'id' | 'attempts' | 'gang'>,
  placements: readonly { agentId: string; hostname: string }[],
): Attempt[] {
  return attemptTasks(job.id, nextAttemptNumber(job), job.gang !== null, placements);
}

/** The tasks of attempt `number`, as recorded before their launch (one per gang member), all TASK_STAGING. */
export function attemptTasks(
  jobId: string,
  number: number,
  gang: boolean,
  placements: readonly { agentId: string; hostname: string }[],
): Attempt[] {
  return placements.map((placement, index) => ({
    attempt: number,
    gang_index: gang ? index : null,
    task_id: attemptTaskId(jobId, number, gang ? index : null),
    agent_id: placement.agentId,
    hostname: placement.hostname,
    state: 'TASK_STAGING',
    started_at: null,
    ended_at: null,
    exit_code: null,
    message: null,
  }));
}

export interface TaskUpdate {
  readonly taskId: string;
  readonly state: TaskState;
  readonly time: number;
  readonly message?: string;
  readonly exitCode?: number;
}

/** The attempts with one task's status applied: started_at at TASK_RUNNING, ended_at at a terminal state. */
export function applyTaskUpdate(attempts: readonly Attempt[], update: TaskUpdate): Attempt[] {
  const at = new Date(update.time).toISOString();
  return attempts.map((attempt) => {
    if (attempt.task_id !== update.taskId || TERMINAL_STATES.has(attempt.state)) return attempt;
    const terminal = TERMINAL_STATES.has(update.state);
    return {
      ...attempt,
      state: update.state,
      started_at: attempt.started_at ?? (update.state === 'TASK_RUNNING' ? at : null),
      ended_at: terminal ? at : null,
      exit_code: update.exitCode ?? attempt.exit_code,
      message: update.message ?? attempt.message,
    };
  });
}

export interface Settled {
  readonly state: JobState;
  readonly status_reason: string | null;
  readonly retry_at: string | null;
}

function lastEnd(group: readonly Attempt[]): number {
  return Math.max(0, ...group.map((task) => (task.ended_at === null ? 0 : Date.parse(task.ended_at))));
}

function failureMessage(group: readonly Attempt[]): string {
  const failed = group.find((task) => task.state !== 'TASK_FINISHED') ?? group[0];
  const exit = failed?.exit_code === null || failed?.exit_code === undefined ? '' : ` (exit code ${failed.exit_code})`;
  const detail = failed?.message ? `: ${failed.message}` : '';
  return `${failed?.task_id ?? 'task'} ${failed?.state ?? 'failed'}${exit}${detail}`;
}

/**
 * The state a (leaf) job's attempts give it: RUNNING while an attempt is active, SUCCEEDED when the last
 * one succeeded, PENDING for a retry after the backoff, FAILED when the failures exceed `retries`.
 */
export function settleAttempts(job: Job): Settled {
  if (isTerminalJobState(job.state)) return { state: job.state, status_reason: job.status_reason, retry_at: null };
  const groups = attemptGroups(job.attempts);
  const last = groups.at(-1);
  if (last === undefined) return { state: 'PENDING', status_reason: null, retry_at: null };
  const outcome = attemptOutcome(last);
  if (outcome === 'active') return { state: 'RUNNING', status_reason: null, retry_at: null };
  if (outcome === 'succeeded') return { state: 'SUCCEEDED', status_reason: null, retry_at: null };
  const outcomes = groups.map(attemptOutcome);
  const free = outcomes.filter((each) => each === 'free').length;
  const counted = outcomes.filter((each) => each === 'failed').length + Math.max(0, free - MAX_FREE_ATTEMPTS);
  if (counted > job.retries) {
    const tries = counted === 1 ? '1 attempt' : `${counted} attempts`;
    return { state: 'FAILED', status_reason: `${tries} failed, the last: ${failureMessage(last)}`, retry_at: null };
  }
  // A free attempt is retried at once; a failed one after its backoff.
  const wait = outcome === 'free' ? 0 : job.retry_backoff_seconds * 1000;
  return { state: 'PENDING', status_reason: null, retry_at: new Date(lastEnd(last) + wait).toISOString() };
}

/** The tasks to kill: a gang's surviving members once one has failed, or an attempt past its timeout. */
export function tasksToKill(job: Job, now: number): { taskIds: string[]; reason: string } | undefined {
  const last = attemptGroups(job.attempts).at(-1);
  if (last === undefined) return undefined;
  const alive = last.filter((task) => !TERMINAL_STATES.has(task.state));
  if (alive.length === 0) return undefined;
  const taskIds = alive.map((task) => task.task_id);
  if (job.state === 'CANCELLED') return { taskIds, reason: 'the job was cancelled' };
  const broken = last.find((task) => TERMINAL_STATES.has(task.state) && task.state !== 'TASK_FINISHED');
  if (broken && job.gang !== null) return { taskIds, reason: `gang member ${broken.task_id} ended ${broken.state}` };
  const started = Math.min(...last.map((task) => (task.started_at === null ? Infinity : Date.parse(task.started_at))));
  if (job.timeout_seconds !== null && started + job.timeout_seconds * 1000 <= now) {
    return { taskIds, reason: `timed out after ${job.timeout_seconds} seconds` };
  }
  return undefined;
}

/** When the running attempt times out (ms since the epoch), for the timer; undefined when it does not. */
export function timeoutAt(job: Job): number | undefined {
  if (job.timeout_seconds === null) return undefined;
  const last = attemptGroups(job.attempts).at(-1);
  const starts = (last ?? []).filter((task) => task.started_at !== null && !TERMINAL_STATES.has(task.state));
  if (starts.length === 0) return undefined;
  return Math.min(...starts.map((task) => Date.parse(task.started_at as string))) + job.timeout_seconds * 1000;
}

// ------------------------------------------------------------------------------------ parents

/** One child's state change in its parent's summary (a new child: `from` undefined). */
export function moveChild(summary: ChildSummary, from: JobState | undefined, to: JobState): ChildSummary {
  const next = { ...summary };
  if (from !== undefined) next[from] = Math.max(0, next[from] - 1);
  next[to] += 1;
  return next;
}

function total(summary: ChildSummary): number {
  return summary.PENDING + summary.RUNNING + summary.SUCCEEDED + summary.FAILED + summary.CANCELLED;
}

/**
 * An array job's state, as AWS Batch summarises its children: PENDING until one starts, RUNNING while
 * some have not ended, then SUCCEEDED if all succeeded and FAILED otherwise.
 */
export function arrayState(size: number, summary: ChildSummary): { state: JobState; pending_reason: string | null } {
  const ended = summary.SUCCEEDED + summary.FAILED + summary.CANCELLED;
  if (total(summary) >= size && ended === total(summary)) {
    return { state: summary.SUCCEEDED === size ? 'SUCCEEDED' : 'FAILED', pending_reason: null };
  }
  if (summary.RUNNING > 0 || ended > 0) return { state: 'RUNNING', pending_reason: null };
  return { state: 'PENDING', pending_reason: `${size - ended} of ${size} array children pending` };
}

/**
 * A scheduled job's state: RUNNING while a run is active, PENDING between ticks; once the schedule has no
 * tick left and no run is active, SUCCEEDED when no run failed, FAILED otherwise.
 */
export function scheduledState(
  summary: ChildSummary,
  nextTickAt: string | null,
): { state: JobState; pending_reason: string | null } {
  if (summary.RUNNING > 0) return { state: 'RUNNING', pending_reason: null };
  if (nextTickAt !== null)
    return { state: 'PENDING', pending_reason: `waiting for its schedule: next run at ${nextTickAt}` };
  if (summary.PENDING > 0) return { state: 'PENDING', pending_reason: `${summary.PENDING} runs pending` };
  return { state: summary.FAILED + summary.CANCELLED > 0 ? 'FAILED' : 'SUCCEEDED', pending_reason: null };
}

// ----------------------------------------------------------------------------------- dependencies

export type DependencyStatus =
  | { readonly kind: 'met' }
  | { readonly kind: 'waiting'; readonly reason: string }
  | { readonly kind: 'never'; readonly reason: string };

/**
 * Whether a job's dependencies allow it to run: `succeeded` needs SUCCEEDED, `finished` any end (Slurm's
 * afterok and afterany). A dependency that can no longer be met (failed, cancelled, or gone) cancels the
 * job, with the reason.
 */
export function dependencyStatus(
  dependsOn: readonly Dependency[],
  states: ReadonlyMap<string, JobState>,
): DependencyStatus {
  for (const dependency of dependsOn) {
    const state = states.get(dependency.job);
    if (state === undefined) return { kind: 'never', reason: `dependency ${dependency.job} does not exist` };
    if (dependency.condition === 'succeeded' && (state === 'FAILED' || state === 'CANCELLED')) {
      return { kind: 'never', reason: `dependency ${dependency.job} ended ${state}, and this job needs it to succeed` };
    }
  }
  const waiting = dependsOn.filter((dependency) => {
    const state = states.get(dependency.job) as JobState;
    return dependency.condition === 'succeeded' ? state !== 'SUCCEEDED' : !isTerminalJobState(state);
  });
  const first = waiting[0];
  if (first === undefined) return { kind: 'met' };
  const more = waiting.length > 1 ? ` (and ${waiting.length - 1} more)` : '';
  return {
    kind: 'waiting',
    reason: `waiting for dependency ${first.job} to ${first.condition.replace(/ed$/, '')}${more}`,
  };
}

export type Readiness =
  | { readonly kind: 'ready' }
  | { readonly kind: 'waiting'; readonly reason: string }
  | { readonly kind: 'cancel'; readonly reason: string };

/**
 * Whether a PENDING job may be placed now, or why not (its pending reason), or that it must be cancelled
 * (a dependency that can no longer be met). Array and scheduled jobs are never placed: their children are.
 */
export function readiness(job: Job, dependencies: DependencyStatus, now: number): Readiness {
  if (job.state !== 'PENDING') return { kind: 'waiting', reason: `the job is ${job.state}` };
  if (job.array !== null) return { kind: 'waiting', reason: 'an array job runs as its children' };
  if (job.schedule !== null) {
    return { kind: 'waiting', reason: `waiting for its schedule: next run at ${job.next_tick ?? 'never'}` };
  }
  if (dependencies.kind === 'never') return { kind: 'cancel', reason: dependencies.reason };
  if (dependencies.kind === 'waiting') return dependencies;
  if (job.retry_at !== null && Date.parse(job.retry_at) > now) {
    return { kind: 'waiting', reason: `retrying after backoff: attempt ${nextAttemptNumber(job)} at ${job.retry_at}` };
  }
  return { kind: 'ready' };
}

// ------------------------------------------------------------------------------------ environment

export interface GangPlacement {
  readonly index: number;
  /** Every member's hostname, by gang index. */
  readonly hosts: readonly string[];
}

/** A task's environment: the job's, then Mantle's (which wins), with AWS Batch's names for scripts from Batch. */
export function taskEnvironment(job: Job, attempt: number, gang?: GangPlacement): Record<string, string> {
  const env: Record<string, string> = {
    ...job.env,
    MANTLE_JOB_ID: job.id,
    MANTLE_JOB_NAME: job.name,
    MANTLE_QUEUE: job.queue,
    MANTLE_ATTEMPT: String(attempt),
    AWS_BATCH_JOB_ID: job.id,
    AWS_BATCH_JOB_ATTEMPT: String(attempt),
  };
  if (job.array_index !== null) {
    env.MANTLE_ARRAY_INDEX = String(job.array_index);
    env.AWS_BATCH_JOB_ARRAY_INDEX = String(job.array_index);
  }
  if (gang !== undefined) {
    env.MANTLE_GANG_SIZE = String(gang.hosts.length);
    env.MANTLE_GANG_INDEX = String(gang.index);
    env.MANTLE_GANG_HOSTS = gang.hosts.join(',');
  }
  return env;
}
