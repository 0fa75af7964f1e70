import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { validateTaskId } from '#shared/ids.js';
import type { TaskState } from '#shared/tasks/state-machine.js';
import {
  applyTaskUpdate,
  MAX_FREE_ATTEMPTS,
  newAttempt,
  newJob,
  settleAttempts,
} from '../../frameworks/jobs/lifecycle.js';
import { isTerminalJobState, parseJobSpec, type Job } from '../../frameworks/jobs/model.js';

const NOW = Date.parse('2026-12-05T20:00:00Z');
const ENDS: readonly TaskState[] = [
  'TASK_FINISHED',
  'TASK_FAILED',
  'TASK_KILLED',
  'TASK_LOST',
  'TASK_DROPPED',
  'TASK_ERROR',
];
const SYSTEM: ReadonlySet<TaskState> = new Set(['TASK_DROPPED', 'TASK_LOST', 'TASK_GONE', 'TASK_KILLED']);

const member = fc.record({ end: fc.constantFrom(...ENDS), started: fc.boolean() });

const scenario = fc.record({
  retries: fc.integer({ min: 0, max: 5 }),
  backoff: fc.integer({ min: 0, max: 100 }),
  gang: fc.constantFrom(null, 1, 2, 3),
  attempts: fc.array(fc.array(member, { minLength: 3, maxLength: 3 }), { minLength: 1, maxLength: 20 }),
});

type Scenario = typeof scenario extends fc.Arbitrary<infer T> ? T : never;

interface Run {
  readonly job: Job;
  readonly states: Job['state'][];
}

/** Runs attempts one after another (each ending a second apart) while the job is not final. */
function run(input: Scenario): Run {
  const parsed = parseJobSpec({
    name: 'p',
    command: 'x',
    retries: input.retries,
    retry_backoff_seconds: input.backoff,
    gang: input.gang,
  });
  if (!parsed.ok) throw new Error(parsed.error.message);
  let job = newJob(parsed.value, { id: 'job', now: NOW });
  const states: Job['state'][] = [];
  for (const [n, members] of input.attempts.entries()) {
    if (isTerminalJobState(job.state)) break;
    const size = input.gang ?? 1;
    const placements = Array.from({ length: size }, (_, i) => ({ agentId: `a${i}`, hostname: `h${i}` }));
    let attempts = [...job.attempts, ...newAttempt(job, placements)];
    const time = NOW + n * 1000;
    for (const [i, task] of attempts.slice(-size).entries()) {
      const outcome = members[i] ?? { end: 'TASK_FINISHED', started: true };
      if (outcome.started) attempts = applyTaskUpdate(attempts, { taskId: task.task_id, state: 'TASK_RUNNING', time });
      attempts = applyTaskUpdate(attempts, { taskId: task.task_id, state: outcome.end, time });
    }
    job = { ...job, attempts };
    job = { ...job, ...settleAttempts(job) };
    states.push(job.state);
  }
  return { job, states };
}

describe('job lifecycle (property tests)', () => {
  it('FAILED exactly when the counted failures pass the retries; SUCCEEDED when the last attempt finished', () => {
    fc.assert(
      fc.property(scenario, (input) => {
        const { job, states } = run(input);
        const size = input.gang ?? 1;
        const outcomes = input.attempts.slice(0, states.length).map((members) => members.slice(0, size));
        let failed = 0;
        let free = 0;
        for (const [n, members] of outcomes.entries()) {
          const state = states[n];
          if (members.every((each) => each.end === 'TASK_FINISHED')) {
            expect(state).toBe('SUCCEEDED');
            continue;
          }
          if (members.every((each) => !each.started && SYSTEM.has(each.end))) free++;
          else failed++;
          const counted = failed + Math.max(0, free - MAX_FREE_ATTEMPTS);
          expect(state).toBe(counted > input.retries ? 'FAILED' : 'PENDING');
        }
        // Final states are final: the run stops at the first.
        expect(states.slice(0, -1).every((state) => state === 'PENDING')).toBe(true);
        if (job.state === 'PENDING') expect(job.retry_at).not.toBeNull();
      }),
      { numRuns: 500 },
    );
  });

  it('every attempt is kept, with a distinct valid task id per task', () => {
    fc.assert(
      fc.property(scenario, (input) => {
        const { job, states } = run(input);
        const size = input.gang ?? 1;
        expect(job.attempts).toHaveLength(states.length * size);
        const ids = job.attempts.map((attempt) => attempt.task_id);
        expect(new Set(ids).size).toBe(ids.length);
        for (const id of ids) expect(validateTaskId(id)).toBeUndefined();
        expect(job.attempts.every((attempt) => attempt.ended_at !== null)).toBe(true);
      }),
      { numRuns: 300 },
    );
  });
});
