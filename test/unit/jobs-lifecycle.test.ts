import { describe, expect, it } from 'vitest';
import type { TaskState } from '#shared/tasks/state-machine.js';
import {
  applyTaskUpdate,
  arrayState,
  attemptOutcome,
  childSpec,
  dependencyStatus,
  MAX_FREE_ATTEMPTS,
  moveChild,
  newAttempt,
  newJob,
  readiness,
  scheduledState,
  scheduleSince,
  settleAttempts,
  taskEnvironment,
  tasksToKill,
  timeoutAt,
} from '../../frameworks/jobs/lifecycle.js';
import { emptySummary, parseJobSpec, type Job, type JobState } from '../../frameworks/jobs/model.js';
import { dueTick, parseSchedule } from '../../frameworks/jobs/schedule.js';

const NOW = Date.parse('2026-12-05T20:00:00Z');
const iso = (time: number): string => new Date(time).toISOString();

function job(input: Record<string, unknown> = {}, id = 'j1'): Job {
  const parsed = parseJobSpec({ name: 'train', command: 'train.sh', ...input });
  if (!parsed.ok) throw new Error(parsed.error.message);
  return newJob(parsed.value, { id, now: NOW });
}

const ON = [{ agentId: 'a1', hostname: 'h1' }];

/** The job after one more attempt that ran from `start` and ended `state` at `end` (seconds after NOW). */
function attempt(record: Job, state: TaskState, start: number | null, end: number, exitCode?: number): Job {
  let attempts = [...record.attempts, ...newAttempt(record, ON)];
  const taskId = attempts.at(-1)?.task_id as string;
  if (start !== null) attempts = applyTaskUpdate(attempts, { taskId, state: 'TASK_RUNNING', time: NOW + start * 1000 });
  attempts = applyTaskUpdate(attempts, { taskId, state, time: NOW + end * 1000, exitCode, message: 'exit' });
  const next = { ...record, attempts };
  return { ...next, ...settleAttempts(next) };
}

describe('a new job', () => {
  it('is PENDING, version 0, with nothing run', () => {
    expect(job()).toMatchObject({
      id: 'j1',
      state: 'PENDING',
      created_at: '2026-12-05T20:00:00.000Z',
      pending_reason: null,
      attempts: [],
      parent: null,
      array_index: null,
      children: null,
      version: 0,
    });
  });

  it('an ISO schedule without a start starts at creation, and its first tick is due at once', () => {
    const scheduled = job({ schedule: 'R2//PT1M' });
    expect(scheduled.schedule).toBe('R2/2026-12-05T20:00:00.000Z/PT1M');
    expect(scheduled.next_tick).toBe('2026-12-05T20:00:00.000Z');
    expect(scheduled.children).toEqual(emptySummary());
    const parsed = parseSchedule(scheduled.schedule as string);
    if (!parsed.ok) throw new Error('schedule');
    expect(dueTick(parsed.value, scheduleSince(scheduled), NOW).due).toBe(NOW);
  });

  it('a cron job created mid-minute waits for the next tick', () => {
    const scheduled = newJob(job({ schedule: '* * * * *' }), { id: 'c', now: NOW + 30_000 });
    expect(scheduled.next_tick).toBe('2026-12-05T20:01:00.000Z');
  });

  it('children and runs drop what made their parent a parent', () => {
    const parent = job({ array: 3, depends_on: [{ job: 'x' }] });
    const child = newJob(childSpec(parent, 'array'), { id: 'j1:2', now: NOW, parent: 'j1', arrayIndex: 2 });
    expect(child).toMatchObject({ array: null, depends_on: [], parent: 'j1', array_index: 2, children: null });
    expect(childSpec(job({ schedule: '@daily' }), 'run').schedule).toBeNull();
  });
});

describe('attempts, retries and backoff', () => {
  it('RUNNING while the attempt runs, SUCCEEDED when it finishes', () => {
    let record = job();
    record = { ...record, attempts: newAttempt(record, ON) };
    expect(record.attempts[0]).toMatchObject({ task_id: 'j1-1', agent_id: 'a1', hostname: 'h1', gang_index: null });
    expect(settleAttempts(record).state).toBe('RUNNING');
    expect(attempt(job(), 'TASK_FINISHED', 0, 5, 0).state).toBe('SUCCEEDED');
  });

  it('records start and end times, exit code and message; a terminal task never changes', () => {
    const record = attempt(job(), 'TASK_FAILED', 1, 5, 3);
    expect(record.attempts[0]).toMatchObject({
      state: 'TASK_FAILED',
      started_at: iso(NOW + 1000),
      ended_at: iso(NOW + 5000),
      exit_code: 3,
      message: 'exit',
    });
    const late = applyTaskUpdate(record.attempts, { taskId: 'j1-1', state: 'TASK_RUNNING', time: NOW + 9000 });
    expect(late).toEqual(record.attempts);
  });

  it('retries after the backoff until retries run out, then FAILED keeping every attempt', () => {
    let record = job({ retries: 2, retry_backoff_seconds: 30 });
    record = attempt(record, 'TASK_FAILED', 0, 10, 1);
    expect(record).toMatchObject({ state: 'PENDING', retry_at: iso(NOW + 40_000) });
    expect(readiness(record, { kind: 'met' }, NOW + 39_000)).toEqual({
      kind: 'waiting',
      reason: `retrying after backoff: attempt 2 at ${iso(NOW + 40_000)}`,
    });
    expect(readiness(record, { kind: 'met' }, NOW + 40_000)).toEqual({ kind: 'ready' });
    record = attempt(record, 'TASK_FAILED', 50, 60, 1);
    expect(record.state).toBe('PENDING');
    record = attempt(record, 'TASK_FAILED', 100, 110, 2);
    expect(record.state).toBe('FAILED');
    expect(record.status_reason).toBe('3 attempts failed, the last: j1-3 TASK_FAILED (exit code 2): exit');
    expect(record.attempts.map((each) => each.task_id)).toEqual(['j1-1', 'j1-2', 'j1-3']);
    expect(settleAttempts(attempt(record, 'TASK_FINISHED', 200, 210)).state).toBe('FAILED');
  });

  it('attempts the system never started are free (retried at once), up to a bound', () => {
    let record = attempt(job(), 'TASK_DROPPED', null, 1);
    expect(attemptOutcome(record.attempts)).toBe('free');
    expect(record).toMatchObject({ state: 'PENDING', retry_at: iso(NOW + 1000) });
    for (let i = 1; i < MAX_FREE_ATTEMPTS; i++) record = attempt(record, 'TASK_LOST', null, 1 + i);
    expect(record.state).toBe('PENDING');
    record = attempt(record, 'TASK_DROPPED', null, 20);
    expect(record.state).toBe('FAILED');
    // A task that started and was then lost is the job's attempt.
    expect(attempt(job(), 'TASK_LOST', 1, 2).state).toBe('FAILED');
    // An image that cannot be pulled fails before starting, and counts.
    expect(attempt(job(), 'TASK_FAILED', null, 2).state).toBe('FAILED');
  });

  it('a gang attempt is its members together: active until all end, success only if all finish', () => {
    const gang = job({ gang: 2 });
    const members = newAttempt(gang, [
      { agentId: 'a1', hostname: 'h1' },
      { agentId: 'a2', hostname: 'h2' },
    ]);
    expect(members.map((member) => [member.task_id, member.gang_index])).toEqual([
      ['j1-1.0', 0],
      ['j1-1.1', 1],
    ]);
    let attempts = applyTaskUpdate(members, { taskId: 'j1-1.0', state: 'TASK_RUNNING', time: NOW });
    attempts = applyTaskUpdate(attempts, { taskId: 'j1-1.1', state: 'TASK_RUNNING', time: NOW });
    attempts = applyTaskUpdate(attempts, { taskId: 'j1-1.0', state: 'TASK_FAILED', time: NOW + 1000 });
    const broken = { ...gang, attempts, state: 'RUNNING' as JobState };
    expect(settleAttempts(broken).state).toBe('RUNNING');
    expect(tasksToKill(broken, NOW + 1000)).toEqual({
      taskIds: ['j1-1.1'],
      reason: 'gang member j1-1.0 ended TASK_FAILED',
    });
    attempts = applyTaskUpdate(attempts, { taskId: 'j1-1.1', state: 'TASK_KILLED', time: NOW + 2000 });
    expect(settleAttempts({ ...broken, attempts }).state).toBe('FAILED');
  });
});

describe('timeouts and cancellation', () => {
  it('kills an attempt past its timeout, counted from its start', () => {
    let record = job({ timeout_seconds: 60 });
    record = { ...record, state: 'RUNNING', attempts: newAttempt(record, ON) };
    expect(timeoutAt(record)).toBeUndefined();
    expect(tasksToKill(record, NOW + 3_600_000)).toBeUndefined();
    record = {
      ...record,
      attempts: applyTaskUpdate(record.attempts, { taskId: 'j1-1', state: 'TASK_RUNNING', time: NOW }),
    };
    expect(timeoutAt(record)).toBe(NOW + 60_000);
    expect(tasksToKill(record, NOW + 59_999)).toBeUndefined();
    expect(tasksToKill(record, NOW + 60_000)).toEqual({ taskIds: ['j1-1'], reason: 'timed out after 60 seconds' });
  });

  it('a cancelled job has its running tasks killed and stays CANCELLED', () => {
    let record = job();
    record = { ...record, state: 'CANCELLED', status_reason: 'cancelled by alice', attempts: newAttempt(record, ON) };
    expect(tasksToKill(record, NOW)).toEqual({ taskIds: ['j1-1'], reason: 'the job was cancelled' });
    const ended = {
      ...record,
      attempts: applyTaskUpdate(record.attempts, { taskId: 'j1-1', state: 'TASK_FINISHED', time: NOW }),
    };
    expect(settleAttempts(ended)).toEqual({ state: 'CANCELLED', status_reason: 'cancelled by alice', retry_at: null });
    expect(tasksToKill(ended, NOW)).toBeUndefined();
  });
});

describe('dependencies', () => {
  const states = new Map<string, JobState>([
    ['ok', 'SUCCEEDED'],
    ['bad', 'FAILED'],
    ['gone', 'CANCELLED'],
    ['busy', 'RUNNING'],
    ['new', 'PENDING'],
  ]);

  it('succeeded needs SUCCEEDED; finished takes any end', () => {
    expect(dependencyStatus([{ job: 'ok', condition: 'succeeded' }], states)).toEqual({ kind: 'met' });
    expect(
      dependencyStatus(
        [
          { job: 'bad', condition: 'finished' },
          { job: 'gone', condition: 'finished' },
        ],
        states,
      ),
    ).toEqual({
      kind: 'met',
    });
    expect(dependencyStatus([], states)).toEqual({ kind: 'met' });
  });

  it('waits, naming the first dependency it waits for', () => {
    expect(dependencyStatus([{ job: 'busy', condition: 'succeeded' }], states)).toEqual({
      kind: 'waiting',
      reason: 'waiting for dependency busy to succeed',
    });
    expect(
      dependencyStatus(
        [
          { job: 'new', condition: 'finished' },
          { job: 'busy', condition: 'finished' },
        ],
        states,
      ),
    ).toEqual({
      kind: 'waiting',
      reason: 'waiting for dependency new to finish (and 1 more)',
    });
  });

  it('a dependency that can no longer be met cancels the job, with the reason', () => {
    const never = dependencyStatus(
      [
        { job: 'busy', condition: 'succeeded' },
        { job: 'bad', condition: 'succeeded' },
      ],
      states,
    );
    expect(never).toEqual({ kind: 'never', reason: 'dependency bad ended FAILED, and this job needs it to succeed' });
    expect(readiness(job(), never, NOW)).toEqual({
      kind: 'cancel',
      reason: never.kind === 'never' ? never.reason : '',
    });
    expect(dependencyStatus([{ job: 'nope', condition: 'finished' }], states)).toEqual({
      kind: 'never',
      reason: 'dependency nope does not exist',
    });
  });

  it('readiness: only pending leaf jobs are placed', () => {
    expect(readiness(job(), { kind: 'met' }, NOW)).toEqual({ kind: 'ready' });
    expect(readiness(job({ array: 2 }), { kind: 'met' }, NOW).kind).toBe('waiting');
    expect(readiness(job({ schedule: '@daily' }), { kind: 'met' }, NOW)).toEqual({
      kind: 'waiting',
      reason: 'waiting for its schedule: next run at 2026-12-06T00:00:00.000Z',
    });
    expect(readiness({ ...job(), state: 'RUNNING' }, { kind: 'met' }, NOW).kind).toBe('waiting');
  });
});

describe('parents', () => {
  it('an array job summarises its children as AWS Batch does', () => {
    let summary = emptySummary();
    for (let i = 0; i < 3; i++) summary = moveChild(summary, undefined, 'PENDING');
    expect(arrayState(3, summary)).toEqual({ state: 'PENDING', pending_reason: '3 of 3 array children pending' });
    summary = moveChild(summary, 'PENDING', 'RUNNING');
    expect(arrayState(3, summary).state).toBe('RUNNING');
    summary = moveChild(moveChild(summary, 'RUNNING', 'SUCCEEDED'), 'PENDING', 'SUCCEEDED');
    expect(arrayState(3, summary).state).toBe('RUNNING');
    expect(arrayState(3, moveChild(summary, 'PENDING', 'SUCCEEDED')).state).toBe('SUCCEEDED');
    expect(arrayState(3, moveChild(summary, 'PENDING', 'FAILED')).state).toBe('FAILED');
    // Not every child created yet: not done.
    expect(arrayState(4, moveChild(summary, 'PENDING', 'SUCCEEDED')).state).toBe('RUNNING');
  });

  it('a scheduled job: PENDING between ticks, RUNNING with a run active, its outcome once the schedule ends', () => {
    const next = '2026-12-06T00:00:00.000Z';
    expect(scheduledState(emptySummary(), next)).toEqual({
      state: 'PENDING',
      pending_reason: `waiting for its schedule: next run at ${next}`,
    });
    expect(scheduledState(moveChild(emptySummary(), undefined, 'RUNNING'), next).state).toBe('RUNNING');
    expect(scheduledState(moveChild(emptySummary(), undefined, 'SUCCEEDED'), null).state).toBe('SUCCEEDED');
    expect(scheduledState(moveChild(emptySummary(), undefined, 'FAILED'), null).state).toBe('FAILED');
    expect(scheduledState(moveChild(emptySummary(), undefined, 'PENDING'), null).state).toBe('PENDING');
  });
});

describe('task environment', () => {
  it("the job's variables, then Mantle's and AWS Batch's", () => {
    const child = { ...job({ env: { EPOCHS: '3' } }, 'p:4'), parent: 'p', array_index: 4 };
    expect(taskEnvironment(child, 2)).toEqual({
      EPOCHS: '3',
      MANTLE_JOB_ID: 'p:4',
      MANTLE_JOB_NAME: 'train',
      MANTLE_QUEUE: 'default',
      MANTLE_ATTEMPT: '2',
      AWS_BATCH_JOB_ID: 'p:4',
      AWS_BATCH_JOB_ATTEMPT: '2',
      MANTLE_ARRAY_INDEX: '4',
      AWS_BATCH_JOB_ARRAY_INDEX: '4',
    });
  });

  it('a gang member learns its size, index and every host', () => {
    const env = taskEnvironment(job({ gang: 3 }), 1, { index: 1, hosts: ['h1', 'h2', 'h2'] });
    expect(env).toMatchObject({ MANTLE_GANG_SIZE: '3', MANTLE_GANG_INDEX: '1', MANTLE_GANG_HOSTS: 'h1,h2,h2' });
    expect(env.MANTLE_ARRAY_INDEX).toBeUndefined();
  });
});
