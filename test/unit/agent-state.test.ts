import { describe, expect, it } from 'vitest';
import { emptyAgentState, launchKey, prunedState, upgradedState } from '../../agent/state.js';
import { taskKey } from '#shared/ids.js';

describe('the agent state (meta/state.json)', () => {
  it('keys refusals by the shared task key and launches by launch id and task key', () => {
    expect(taskKey('F1', 't1')).toBe('F1/t1');
    expect(launchKey('L1', 'F1', 't1')).toBe('L1/F1/t1');
    expect(launchKey('L1', 'F1', 't1')).not.toBe(launchKey('L1', 'F1', 't2'));
  });

  it('prunes expired refusals and launches, and keeps the drain', () => {
    const state = {
      draining: { markGone: false },
      refused: { 'F/old': 999, 'F/new': 1001 },
      completedLaunches: { 'L/F/old': 1000, 'L/F/new': 2000 },
    };
    expect(prunedState(state, 1000)).toEqual({
      draining: { markGone: false },
      refused: { 'F/new': 1001 },
      completedLaunches: { 'L/F/new': 2000 },
    });
    expect(prunedState(emptyAgentState(), 0)).toEqual(emptyAgentState());
  });

  it('rewrites the NUL-separated keys an earlier agent checkpointed, and leaves current ones', () => {
    const saved = {
      draining: { maxGracePeriodMs: 5000, markGone: true, drainedSent: false },
      refused: { 'F1\u0000t1': 10, 'F1/t2': 20 },
      completedLaunches: { 'L1\u0000F1\u0000t3': 30, 'L2/F1/t4': 40 },
    };
    expect(upgradedState(saved)).toEqual({
      draining: { maxGracePeriodMs: 5000, markGone: true },
      refused: { [taskKey('F1', 't1')]: 10, [taskKey('F1', 't2')]: 20 },
      completedLaunches: { [launchKey('L1', 'F1', 't3')]: 30, [launchKey('L2', 'F1', 't4')]: 40 },
    });
  });

  it('keeps a drain an earlier agent had not finished, and forgets one it had reported DRAINED', () => {
    const unfinished = { draining: { markGone: true, drainedSent: false }, refused: {}, completedLaunches: {} };
    expect(upgradedState(unfinished)).toEqual({ draining: { markGone: true }, refused: {}, completedLaunches: {} });
    const finished = {
      draining: { maxGracePeriodMs: 0, markGone: false, drainedSent: true },
      refused: {},
      completedLaunches: {},
    };
    expect(upgradedState(finished)).toEqual(emptyAgentState());
  });
});
