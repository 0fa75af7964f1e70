import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  applyStatusUpdate,
  canTransition,
  isTerminal,
  legalPredecessors,
  REMEMBERED_UUIDS,
  stagingRecord,
  stateForFramework,
  TASK_STATES,
  type TaskState,
  type TaskStateRecord,
} from '#shared/tasks/state-machine.js';

const LIVE: TaskState[] = ['TASK_STAGING', 'TASK_STARTING', 'TASK_RUNNING', 'TASK_KILLING'];
const TERMINAL: TaskState[] = [
  'TASK_FINISHED',
  'TASK_FAILED',
  'TASK_KILLED',
  'TASK_ERROR',
  'TASK_LOST',
  'TASK_DROPPED',
  'TASK_GONE',
  'TASK_GONE_BY_OPERATOR',
];

/** The whole transition table, written out: every (from, to) pair is checked. */
const ALLOWED: Record<TaskState, TaskState[]> = {
  TASK_STAGING: ['TASK_STARTING', 'TASK_RUNNING', 'TASK_KILLING', 'TASK_UNREACHABLE', ...TERMINAL],
  TASK_STARTING: ['TASK_STARTING', 'TASK_RUNNING', 'TASK_KILLING', 'TASK_UNREACHABLE', ...TERMINAL],
  TASK_RUNNING: ['TASK_RUNNING', 'TASK_KILLING', 'TASK_UNREACHABLE', ...TERMINAL],
  TASK_KILLING: ['TASK_UNREACHABLE', ...TERMINAL],
  TASK_UNREACHABLE: [...LIVE, ...TERMINAL],
  TASK_UNKNOWN: [],
  TASK_FINISHED: [],
  TASK_FAILED: [],
  TASK_KILLED: [],
  TASK_ERROR: [],
  TASK_LOST: [],
  TASK_DROPPED: [],
  TASK_GONE: [],
  TASK_GONE_BY_OPERATOR: [],
};

describe('task states', () => {
  it('has every Mesos TaskState and the Mesos terminal set', () => {
    expect(TASK_STATES).toHaveLength(14);
    expect(TASK_STATES.filter(isTerminal).sort()).toEqual([...TERMINAL].sort());
  });

  it('allows exactly the transitions of the table (all 196 pairs)', () => {
    for (const from of TASK_STATES) {
      for (const to of TASK_STATES) {
        expect(canTransition(from, to), `${from} -> ${to}`).toBe(ALLOWED[from].includes(to));
      }
    }
    expect(legalPredecessors('TASK_RUNNING').sort()).toEqual(
      ['TASK_STAGING', 'TASK_STARTING', 'TASK_RUNNING', 'TASK_UNREACHABLE'].sort(),
    );
  });

  it('shows partition-aware states as TASK_LOST to other frameworks', () => {
    for (const state of [
      'TASK_DROPPED',
      'TASK_UNREACHABLE',
      'TASK_GONE',
      'TASK_GONE_BY_OPERATOR',
      'TASK_UNKNOWN',
    ] as const) {
      expect(stateForFramework(state, false)).toBe('TASK_LOST');
      expect(stateForFramework(state, true)).toBe(state);
    }
    expect(stateForFramework('TASK_FINISHED', false)).toBe('TASK_FINISHED');
  });
});

describe('status updates', () => {
  it('applies, detects duplicates by uuid, and refuses regressions and changes after terminal', () => {
    const running = applyStatusUpdate(stagingRecord(), { state: 'TASK_RUNNING', uuid: 'u1' });
    expect(running).toMatchObject({ kind: 'applied', previous: 'TASK_STAGING', becameTerminal: false });
    const record = (running as { record: TaskStateRecord }).record;
    expect(applyStatusUpdate(record, { state: 'TASK_RUNNING', uuid: 'u1' }).kind).toBe('duplicate');
    expect(applyStatusUpdate(record, { state: 'TASK_STARTING', uuid: 'u0' })).toMatchObject({
      kind: 'rejected',
      code: 'ILLEGAL_TRANSITION',
    });
    const finished = applyStatusUpdate(record, { state: 'TASK_FINISHED', uuid: 'u2' });
    expect(finished).toMatchObject({ kind: 'applied', becameTerminal: true });
    const done = (finished as { record: TaskStateRecord }).record;
    expect(applyStatusUpdate(done, { state: 'TASK_FAILED', uuid: 'u3' })).toMatchObject({
      kind: 'rejected',
      message: expect.stringMatching(/already terminal/),
    });
    // A master-generated update has no uuid and is judged by state alone.
    expect(applyStatusUpdate(done, { state: 'TASK_LOST' }).kind).toBe('rejected');
  });

  it('remembers a bounded number of uuids', () => {
    let record: TaskStateRecord = stagingRecord();
    for (let i = 0; i < REMEMBERED_UUIDS + 10; i++) {
      const outcome = applyStatusUpdate(record, { state: 'TASK_RUNNING', uuid: `u${i}` });
      if (outcome.kind !== 'applied') throw new Error(outcome.kind);
      record = outcome.record;
    }
    expect(record.uuids).toHaveLength(REMEMBERED_UUIDS);
    expect(record.uuids.at(-1)).toBe(`u${REMEMBERED_UUIDS + 9}`);
  });

  it('never regresses and ends in at most one terminal state under duplicated, reordered delivery', () => {
    // A task's real update stream as an agent sends it, then delivered with duplicates in any order.
    const streams = fc.constantFrom<TaskState[]>(
      ['TASK_STARTING', 'TASK_RUNNING', 'TASK_FINISHED'],
      ['TASK_STARTING', 'TASK_RUNNING', 'TASK_RUNNING', 'TASK_KILLING', 'TASK_KILLED'],
      ['TASK_STARTING', 'TASK_FAILED'],
      ['TASK_RUNNING', 'TASK_UNREACHABLE', 'TASK_RUNNING', 'TASK_FINISHED'],
    );
    const delivery = streams.chain((stream) =>
      fc
        .array(fc.integer({ min: 0, max: stream.length - 1 }), {
          minLength: stream.length,
          maxLength: stream.length * 3,
        })
        .map((order) => ({ stream, order })),
    );
    // An independent model of the lifecycle order, to judge the sequence of applied states.
    const rank = (state: TaskState): number => (TERMINAL.includes(state) ? 4 : LIVE.indexOf(state));
    fc.assert(
      fc.property(delivery, ({ stream, order }) => {
        let record = stagingRecord();
        const applied: TaskState[] = [];
        for (const index of order) {
          const outcome = applyStatusUpdate(record, { state: stream[index] as TaskState, uuid: `u${index}` });
          if (outcome.kind === 'applied') {
            applied.push(outcome.record.state);
            record = outcome.record;
          }
        }
        // Between partitions the lifecycle only moves forward; nothing follows a terminal state.
        let previous = 0;
        for (const state of applied) {
          if (state === 'TASK_UNREACHABLE') continue;
          expect(rank(state)).toBeGreaterThanOrEqual(previous);
          previous = rank(state);
        }
        expect(applied.filter((state) => TERMINAL.includes(state)).length).toBeLessThanOrEqual(1);
        const terminalAt = applied.findIndex((state) => TERMINAL.includes(state));
        if (terminalAt >= 0) expect(terminalAt).toBe(applied.length - 1);
        // Every distinct update delivered at least once was either applied or refused; none applied twice.
        const uuids = record.uuids;
        expect(new Set(uuids).size).toBe(uuids.length);
        return true;
      }),
      { numRuns: 2000 },
    );
  });
});
