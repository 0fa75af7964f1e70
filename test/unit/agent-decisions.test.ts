/**
 * The agent's pure decisions: the launch plan (redeliveries, refusals, ids still in use, the
 * containerizer a task needs), what a recovered checkpoint calls for, how a drain ends a task, how GPUs
 * are isolated, and the registration request.
 */
import { deviceFilterArgs } from '../../agent/isolation/device-filter.js';
import { describe, expect, it } from 'vitest';
import { gpuIsolation } from '../../agent/containerizers.js';
import { containerizerFor, launchRequest, screenLaunch, type TaskIdUse } from '../../agent/launch-plan.js';
import { taskRecovery } from '../../agent/recovery.js';
import { ADVERTISED_CAPABILITIES, registrationRequest } from '../../agent/registration.js';
import { emptyAgentState, launchKey } from '../../agent/state.js';
import { agentStatus, drainedState } from '../../agent/statuses.js';
import { taskKey } from '#shared/ids.js';
import { RegisterAgentRequestSchema, SAFE_GRANT } from '#shared/protocol/internal.js';
import type { TaskInfo } from '#shared/protocol/mesos.js';
import { commandTask, dockerTask, ROOT_GRANT } from '../support/agent.js';

const info = { user: 'root', name: 'tests', capabilities: [{ type: 'PARTITION_AWARE' as const }] };

function request(tasks: TaskInfo[], launchId = 'L1') {
  return { frameworkId: 'F1', frameworkInfo: info, launchId, tasks, grant: SAFE_GRANT };
}

const unused: TaskIdUse = { launchOf: () => undefined, reporting: () => false };

describe('the launch plan', () => {
  it('launches fresh tasks', () => {
    const tasks = [commandTask('a', 'true'), commandTask('b', 'true')];
    expect(screenLaunch(request(tasks), emptyAgentState(), unused, 0)).toEqual({
      fresh: tasks,
      duplicates: [],
      refused: [],
    });
  });

  it('ignores a redelivered launch, live or finished, and refused task ids until the refusal expires', () => {
    const state = emptyAgentState();
    state.completedLaunches[launchKey('L1', 'F1', 'done')] = 1000;
    state.refused[taskKey('F1', 'killed')] = 500;
    const use: TaskIdUse = { launchOf: (id) => (id === 'live' ? 'L1' : undefined), reporting: (id) => id === 'live' };
    const tasks = ['live', 'done', 'killed'].map((id) => commandTask(id, 'true'));
    expect(screenLaunch(request(tasks), state, use, 499)).toEqual({
      fresh: [],
      duplicates: ['live', 'done'],
      refused: ['killed'],
    });
    expect(screenLaunch(request(tasks), state, use, 500).fresh.map((task) => task.task_id.value)).toEqual(['killed']);
    // Another launch of the same task id is not a redelivery.
    expect(screenLaunch(request([commandTask('done', 'true')], 'L2'), state, use, 0).fresh).toHaveLength(1);
  });

  it('waits while a task id is in use by another launch or its stream is still open', () => {
    const running: TaskIdUse = { launchOf: (id) => (id === 'b' ? 'L0' : undefined), reporting: () => false };
    const closing: TaskIdUse = { launchOf: () => undefined, reporting: (id) => id === 'b' };
    const tasks = [commandTask('a', 'true'), commandTask('b', 'true'), commandTask('c', 'true')];
    for (const use of [running, closing]) {
      expect(screenLaunch(request(tasks), emptyAgentState(), use, 0)).toMatchObject({ busy: 'b' });
    }
  });

  it('reads a LAUNCH and a LAUNCH_GROUP alike', () => {
    const task = commandTask('a', 'true');
    const executor = { executor_id: { value: 'E1' }, type: 'DEFAULT' as const, resources: [] };
    expect(
      launchRequest({ type: 'LAUNCH', framework_id: { value: 'F1' }, framework_info: info, task, launch_id: 'L1' }),
    ).toEqual(request([task]));
    expect(
      launchRequest({
        type: 'LAUNCH_GROUP',
        framework_id: { value: 'F1' },
        framework_info: info,
        executor,
        task_group: { tasks: [task] },
        launch_id: 'L1',
      }),
    ).toEqual({ ...request([task]), groupExecutor: executor });
    const granted = {
      type: 'LAUNCH' as const,
      framework_id: { value: 'F1' },
      framework_info: info,
      task,
      launch_id: 'L1',
    };
    expect(launchRequest({ ...granted, grant: ROOT_GRANT }).grant).toEqual(ROOT_GRANT);
  });

  it('picks Docker for DOCKER containers and MESOS containers with an image, the process containerizer otherwise', () => {
    const both = new Map([
      ['docker', 'D'],
      ['mesos', 'M'],
    ] as const);
    expect(containerizerFor(dockerTask('a', 'true'), undefined, both)).toEqual({ ok: true, value: 'D' });
    const image = commandTask('b', 'true', { container: { type: 'MESOS', mesos: { image: { type: 'DOCKER' } } } });
    expect(containerizerFor(image, undefined, both)).toEqual({ ok: true, value: 'D' });
    expect(containerizerFor(commandTask('c', 'true'), undefined, both)).toEqual({ ok: true, value: 'M' });
  });

  it('refuses custom executors and containerizers the agent does not run', () => {
    const custom = commandTask('a', 'true', {
      executor: { executor_id: { value: 'E' }, type: 'CUSTOM', resources: [] },
    });
    expect(containerizerFor(custom, undefined, new Map([['mesos', 'M']]))).toMatchObject({
      ok: false,
      error: expect.stringMatching(/Custom executors/),
    });
    expect(containerizerFor(dockerTask('b', 'true'), undefined, new Map([['mesos', 'M']]))).toMatchObject({
      ok: false,
      error: expect.stringMatching(/needs the docker containerizer/),
    });
    expect(containerizerFor(commandTask('c', 'true'), undefined, new Map([['docker', 'D']]))).toMatchObject({
      ok: false,
      error: expect.stringMatching(/needs the mesos \(process\) containerizer/),
    });
  });
});

describe('recovery of a checkpointed task', () => {
  const open = { terminated: false, latestState: 'TASK_RUNNING' as const };
  const closed = { terminated: true, latestState: 'TASK_FINISHED' as const };

  it('reattaches a recorded task whose containerizer runs', () => {
    expect(taskRecovery(open, true, true)).toEqual({ kind: 'reattach' });
    expect(taskRecovery(closed, true, true)).toEqual({ kind: 'reattach' });
  });

  it('ends a stream without a record that still needs an end, and leaves the others', () => {
    expect(taskRecovery({ terminated: false, latestState: 'TASK_STARTING' }, false, false)).toEqual({
      kind: 'end-unrecorded',
    });
    expect(taskRecovery({ terminated: false, latestState: undefined }, false, false)).toEqual({ kind: 'none' });
    expect(taskRecovery(closed, false, true)).toEqual({ kind: 'none' });
  });

  it('fails a task whose containerizer is gone, unless its stream already ended', () => {
    expect(taskRecovery(open, true, false)).toEqual({ kind: 'no-containerizer', fail: true });
    expect(taskRecovery(closed, true, false)).toEqual({ kind: 'no-containerizer', fail: false });
  });
});

describe('statuses the agent decides', () => {
  it('ends a drained task KILLED, or when marked gone GONE_BY_OPERATOR (LOST without PARTITION_AWARE)', () => {
    const unaware = { user: 'root', name: 'old' };
    expect(drainedState(info, false)).toBe('TASK_KILLED');
    expect(drainedState(info, true)).toBe('TASK_GONE_BY_OPERATOR');
    expect(drainedState(unaware, true)).toBe('TASK_LOST');
  });

  it('sends its own answers as SOURCE_AGENT', () => {
    expect(agentStatus('t', 'TASK_DROPPED', 'REASON_AGENT_DRAINING', 'draining')).toMatchObject({
      task_id: { value: 't' },
      state: 'TASK_DROPPED',
      source: 'SOURCE_AGENT',
      reason: 'REASON_AGENT_DRAINING',
      message: 'draining',
    });
  });
});

describe('GPU isolation', () => {
  it('is none without GPUs, the devices cgroup where it can be, else visibility with a note', () => {
    expect(gpuIsolation(0, true, undefined)).toEqual({ mode: 'none' });
    expect(gpuIsolation(2, false, undefined)).toEqual({ mode: 'devices-cgroup' });
    expect(gpuIsolation(2, true, 'devices-cgroup')).toEqual({ mode: 'devices-cgroup' });
    expect(gpuIsolation(2, true, 'device-filter', true)).toEqual({ mode: 'device-filter' });
    expect(gpuIsolation(2, true, undefined)).toMatchObject({ mode: 'visibility', note: expect.stringMatching(/CUDA/) });
    expect(gpuIsolation(2, true, undefined, true)).toMatchObject({
      mode: 'visibility',
      note: expect.stringMatching(/are refused \(--gpu_process_isolation=strict\)/),
    });
    expect(gpuIsolation(2, true, 'devices-cgroup', true)).toEqual({ mode: 'devices-cgroup' });
  });

  it("gives the cgroup2 device filter's loader the task's GPU minors, once each, in order", () => {
    expect(deviceFilterArgs('/sys/fs/cgroup/mantle/c1', 195, [3, 1, 3])).toEqual([
      '/sys/fs/cgroup/mantle/c1',
      '195',
      '1',
      '3',
    ]);
    expect(deviceFilterArgs('/cg', 195, [])).toEqual(['/cg', '195']);
  });
});

describe('the registration request', () => {
  const agent = {
    agentId: undefined,
    hostname: 'h1',
    advertiseIp: undefined,
    port: undefined,
    resources: [],
    attributes: [],
    domain: undefined,
    containerizers: ['mesos'] as const,
    isolation: { cgroups: 'none' as const, gpus: 'none' as const, notes: [] },
    gpus: [],
    tasks: [],
    executors: [],
  };

  it('registers anew without an id, and re-registers as itself with its tasks (TASK_STAGING before any update)', () => {
    const first = registrationRequest(agent);
    expect(first).not.toHaveProperty('agent_id');
    expect(first).not.toHaveProperty('ip');
    expect(first).not.toHaveProperty('port');
    expect(first.capabilities).toEqual(ADVERTISED_CAPABILITIES.map((type) => ({ type })));
    const again = registrationRequest({
      ...agent,
      agentId: 'A1',
      advertiseIp: '10.0.0.1',
      port: 5051,
      tasks: [
        { frameworkId: 'F1', taskId: 't1', state: 'TASK_RUNNING' },
        { frameworkId: 'F1', taskId: 't2', state: undefined },
      ],
      executors: [{ frameworkId: 'F1', executorId: 'e1' }],
    });
    expect(again).toMatchObject({ agent_id: { value: 'A1' }, ip: '10.0.0.1', port: 5051 });
    expect(again.executors).toEqual([{ framework_id: { value: 'F1' }, executor_id: { value: 'e1' } }]);
    expect(again.tasks).toEqual([
      { framework_id: { value: 'F1' }, task_id: { value: 't1' }, state: 'TASK_RUNNING' },
      { framework_id: { value: 'F1' }, task_id: { value: 't2' }, state: 'TASK_STAGING' },
    ]);
  });

  it('lists its GPUs by index, model and memory (MIG devices with their GPU and profile); none: no list', () => {
    expect(registrationRequest(agent)).not.toHaveProperty('gpus');
    const request = registrationRequest({
      ...agent,
      gpus: [
        { index: 0, uuid: 'GPU-a', model: 'NVIDIA A10G', memoryMiB: 23_028, pciBusId: '00000000:00:1B.0', minor: 0 },
        {
          index: 1,
          uuid: 'MIG-b',
          model: 'NVIDIA A100-SXM4-40GB',
          memoryMiB: 19_968,
          minor: 1,
          mig: { parentUuid: 'GPU-c', profile: '3g.20gb', device: 0 },
        },
      ],
    });
    expect(request.gpus).toEqual([
      { index: 0, uuid: 'GPU-a', model: 'NVIDIA A10G', memory_mib: 23_028 },
      {
        index: 1,
        uuid: 'MIG-b',
        model: 'NVIDIA A100-SXM4-40GB',
        memory_mib: 19_968,
        mig_parent_uuid: 'GPU-c',
        mig_profile: '3g.20gb',
      },
    ]);
    expect(RegisterAgentRequestSchema.safeParse(request).success).toBe(true);
  });
});
