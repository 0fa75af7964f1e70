import { describe, expect, it } from 'vitest';
import { agentsLimit, inSharedPod, terminationOutcome } from '../../agent/task-outcome.js';
import { commandTask } from '../support/agent.js';

const task = commandTask('t', 'true');
const own = { ...task, container: { type: 'MESOS' as const, linux_info: { share_cgroups: false } } };
const oom = { exitCode: 137, oomKilled: true };

describe("a task's terminal update from its container's end (task-outcome.ts)", () => {
  it("tells an OOM kill by an executor container's limit (a command task's, a group's pod's) from the agent, a nested task's own from its executor", () => {
    expect(terminationOutcome(task, true, oom, undefined)).toMatchObject({
      state: 'TASK_FAILED',
      reason: 'REASON_CONTAINER_LIMITATION_MEMORY',
      source: 'SOURCE_AGENT',
      limitation: [{ name: 'mem', scalar: { value: 32 } }],
    });
    expect(terminationOutcome(own, true, oom, undefined).source).toBeUndefined();
    expect(terminationOutcome(task, false, oom, undefined)).toMatchObject({
      reason: 'REASON_CONTAINER_LIMITATION_MEMORY',
      source: 'SOURCE_AGENT',
    });
    expect(terminationOutcome(own, false, oom, undefined).source).toBe('SOURCE_AGENT');
    expect([inSharedPod(task, true), inSharedPod(own, true), inSharedPod(task, false)]).toEqual([true, false, false]);
    expect([agentsLimit(task, true), agentsLimit(own, true), agentsLimit(task, false)]).toEqual([true, false, true]);
  });

  it("ends a kill in its state, reason and source, with the container's end in the message", () => {
    const kill = {
      state: 'TASK_FAILED' as const,
      reason: 'REASON_CONTAINER_LIMITATION_MEMORY' as const,
      source: 'SOURCE_AGENT' as const,
      message: 'over',
    };
    expect(terminationOutcome(task, true, { signal: 'Killed', oomKilled: false }, kill)).toEqual({
      state: 'TASK_FAILED',
      reason: 'REASON_CONTAINER_LIMITATION_MEMORY',
      source: 'SOURCE_AGENT',
      message: 'over (Command terminated with signal Killed)',
    });
    expect(
      terminationOutcome(task, false, { exitCode: 0, oomKilled: false }, { message: 'bye', unhealthy: true }),
    ).toEqual({ state: 'TASK_KILLED', message: 'bye (Command exited with status 0)', healthy: false });
  });

  it('reads an exit without a kill: finished on 0, failed otherwise, lost as the executor terminated', () => {
    expect(terminationOutcome(task, false, { exitCode: 0, oomKilled: false }, undefined).state).toBe('TASK_FINISHED');
    expect(terminationOutcome(task, false, { exitCode: 3, oomKilled: false }, undefined)).toEqual({
      state: 'TASK_FAILED',
      message: 'Command exited with status 3',
    });
    expect(terminationOutcome(task, false, { oomKilled: false, lost: 'gone' }, undefined)).toEqual({
      state: 'TASK_FAILED',
      reason: 'REASON_EXECUTOR_TERMINATED',
      message: 'gone',
    });
  });
});
