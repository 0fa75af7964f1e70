/**
 * An ACCEPT cut in two between its ledger write and its task records (docs/architecture.md, "ACCEPT
 * cut in two"), with the AWS-only faults injected into the master's DynamoDB client: a task-record write
 * throttled past the SDK's retries, and one held up past the launch timeout. The ACCEPT answers an error,
 * a retry of it finds its offers gone, and the sweeper gives back what the ledger held for tasks without
 * a record of their own launch — the executor charge too — telling the framework of their end, while
 * nothing is allocated twice and nothing is launched late.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ExecutorInfo } from '#shared/protocol/mesos.js';
import { sweep } from '../../functions/fleet/sweeper.js';
import { injectFaults } from '../support/faults.js';
import { startTestMaster, type TestMaster } from '../support/master.js';
import {
  commands,
  commandTask,
  FRAMEWORK,
  heartbeat,
  launch,
  ledgerOnlyLaunch,
  offer,
  registerAgent,
  resources,
  sendStatus,
  subscribe,
  uuid,
  type TestAgent,
  type TestFramework,
} from '../support/scheduler.js';

const LAUNCH_TIMEOUT_MS = 60_000;

let tm: TestMaster;
let framework: TestFramework;
beforeAll(async () => {
  tm = await startTestMaster({
    agentPingTimeoutSeconds: 15,
    maxAgentPingTimeouts: 5,
    launchTimeoutSeconds: LAUNCH_TIMEOUT_MS / 1000,
    heartbeatIntervalSeconds: 60,
    reconnectGraceSeconds: 3600,
  });
  framework = await subscribe(tm, { ...FRAMEWORK, failover_timeout: 3600 });
});
afterAll(async () => {
  framework.close();
  await tm.close();
});

function executor(id: string): ExecutorInfo {
  return {
    type: 'CUSTOM',
    executor_id: { value: id },
    command: { value: 'true' },
    resources: resources('cpus:0.5;mem:64'),
  };
}

/** Two tasks under one new custom executor: the ledger then holds both tasks and the executor's charge. */
function executorTasks(agent: TestAgent, prefix: string) {
  const info = executor(`${prefix}-executor`);
  return [1, 2].map((n) => {
    const { command: _command, ...task } = commandTask(`${prefix}-${n}`, agent, 'cpus:0.5;mem:64');
    return { ...task, executor: info };
  });
}

/**
 * The task-record writes of the master, throttled (or held) `times` times after the first `skip`: a launch's rows
 * inserted together (BatchExecuteStatement) and those put one by one where that failed (PutItem).
 */
function taskRecordFault(times: number, fault: Parameters<typeof injectFaults>[1]['fault'], skip = 0) {
  return injectFaults(tm.clients.dynamodb, {
    commands: ['BatchExecuteStatementCommand', 'PutItemCommand'],
    table: tm.master.registrar.context.tables.tasks,
    times,
    skip,
    fault,
  });
}

/** The launch's rows inserted together refused, then each put on its own throttled after the first `skip`. */
function taskRecordsCut(skip: number) {
  const together = injectFaults(tm.clients.dynamodb, {
    commands: ['BatchExecuteStatementCommand'],
    table: tm.master.registrar.context.tables.tasks,
    times: 100,
    fault: { kind: 'reject', name: 'ThrottlingException' },
  });
  const alone = injectFaults(tm.clients.dynamodb, {
    commands: ['PutItemCommand'],
    table: tm.master.registrar.context.tables.tasks,
    times: 10,
    skip,
    fault: { kind: 'reject', name: 'ThrottlingException' },
  });
  return {
    remove() {
      together.remove();
      alone.remove();
    },
  };
}

/** Past the launch timeout, with the agent still heard from, one sweep. */
async function sweepPastLaunchTimeout(...agents: TestAgent[]) {
  tm.advance(LAUNCH_TIMEOUT_MS + 1_000);
  for (const agent of agents) await heartbeat(tm, agent);
  return sweep(tm.master);
}

async function ledger(agent: TestAgent) {
  const record = await tm.master.registrar.agents.get(agent.agentId);
  if (!record) throw new Error('agent not registered');
  return record;
}

/** The updates of this task the framework has had so far, as `state/reason`. */
function updatesOf(taskId: string): string[] {
  return framework.stream.events.flatMap((e) =>
    e.type === 'UPDATE' && e.update?.status.task_id.value === taskId
      ? [`${e.update.status.state}/${e.update.status.reason ?? ''}`]
      : [],
  );
}

/** Waits for an update of this task in this state for this reason. */
async function updateFor(taskId: string, state: string, reason: string) {
  const event = await framework.next(
    (e) =>
      e.type === 'UPDATE' &&
      e.update?.status.task_id.value === taskId &&
      e.update.status.state === state &&
      e.update.status.reason === reason,
  );
  return event.update?.status;
}

/** After a short wait, the framework has had exactly these updates of the task. */
async function onlyUpdates(taskId: string, expected: string[]) {
  await new Promise((resolve) => setTimeout(resolve, 500));
  expect(updatesOf(taskId)).toEqual(expected);
}

describe('an ACCEPT cut in two between the ledger and the task records', () => {
  it('answers an error when the records cannot be written; a retry finds the offer gone; the sweeper gives all back', async () => {
    const agent = await registerAgent(tm, 'cpus:4;mem:1024');
    const made = await offer(tm, framework, agent, 'cpus:2;mem:256');
    const accept = launch([made.offerId], executorTasks(agent, 'throttled'), { refuse_seconds: 0 });
    const fault = taskRecordFault(100, { kind: 'reject', name: 'ThrottlingException' });
    const answered = await framework.call('ACCEPT', accept);
    fault.remove();
    expect(answered.status).toBe(500);
    const held = await ledger(agent);
    expect(Object.keys(held.tasks).sort()).toEqual([
      `${framework.frameworkId}/throttled-1`,
      `${framework.frameworkId}/throttled-2`,
    ]);
    expect(Object.keys(held.executors)).toEqual([`${framework.frameworkId}/throttled-executor`]);

    // The retry of the same ACCEPT is refused as Mesos refuses a stale offer, and takes nothing more.
    expect((await framework.call('ACCEPT', accept)).status).toBe(202);
    const refused = await updateFor('throttled-1', 'TASK_DROPPED', 'REASON_INVALID_OFFERS');
    expect(refused?.message).toMatch(/no longer valid/);
    expect((await ledger(agent)).version).toBe(held.version);
    expect((await commands(tm, agent)).filter((c) => c.type === 'LAUNCH')).toEqual([]);

    const report = await sweepPastLaunchTimeout(agent);
    const after = await ledger(agent);
    expect(after.tasks).toEqual({});
    expect(after.executors).toEqual({});
    for (const taskId of ['throttled-1', 'throttled-2']) {
      // The master now knows the task's end: reconciliation answers it.
      expect((await tm.master.registrar.tasks.get(framework.frameworkId, taskId))?.state).toBe('TASK_DROPPED');
      const dropped = await updateFor(taskId, 'TASK_DROPPED', 'REASON_RECONCILIATION');
      expect(dropped?.source).toBe('SOURCE_MASTER');
    }
    expect(report.orphanedLaunches).toBe(2);
    expect(tm.master.metrics.snapshot()['master/launches_orphaned']).toBeGreaterThanOrEqual(2);
    await framework.call('RECONCILE', { reconcile: { tasks: [{ task_id: { value: 'throttled-2' } }] } });
    // Its answer comes through the framework's event queue: on a loaded machine, later than onlyUpdates' wait.
    await expect
      .poll(() => updatesOf('throttled-2').filter((u) => u === 'TASK_DROPPED/REASON_RECONCILIATION'), {
        timeout: 10_000,
      })
      .toHaveLength(2);
    await onlyUpdates('throttled-2', [
      'TASK_DROPPED/REASON_INVALID_OFFERS',
      'TASK_DROPPED/REASON_RECONCILIATION',
      'TASK_DROPPED/REASON_RECONCILIATION',
    ]);
  });

  it('ends a launch cut after its first record: that task dropped unconfirmed, the next orphaned, the executor given back', async () => {
    const agent = await registerAgent(tm, 'cpus:4;mem:1024');
    const made = await offer(tm, framework, agent, 'cpus:2;mem:256');
    const fault = taskRecordsCut(1);
    const answered = await framework.call('ACCEPT', launch([made.offerId], executorTasks(agent, 'cut')));
    fault.remove();
    expect(answered.status).toBe(500);
    expect((await tm.master.registrar.tasks.get(framework.frameworkId, 'cut-1'))?.state).toBe('TASK_STAGING');
    expect(await tm.master.registrar.tasks.get(framework.frameworkId, 'cut-2')).toBeUndefined();
    expect((await commands(tm, agent)).filter((c) => c.type === 'LAUNCH')).toEqual([]);

    const report = await sweepPastLaunchTimeout(agent);
    const after = await ledger(agent);
    expect(after.tasks).toEqual({});
    expect(after.executors).toEqual({});
    await updateFor('cut-1', 'TASK_DROPPED', 'REASON_AGENT_DISCONNECTED');
    await updateFor('cut-2', 'TASK_DROPPED', 'REASON_RECONCILIATION');
    expect(report).toMatchObject({ droppedLaunches: 1, orphanedLaunches: 1 });
  });

  it('launches nothing when its task record lands after the sweeper dropped the launch', async () => {
    const agent = await registerAgent(tm, 'cpus:4;mem:1024');
    const made = await offer(tm, framework, agent, 'cpus:2;mem:256');
    let resume = () => {};
    const fault = taskRecordFault(1, { kind: 'hold', until: new Promise<void>((done) => (resume = done)) });
    const answered = framework.call(
      'ACCEPT',
      launch([made.offerId], [commandTask('stalled', agent, 'cpus:1;mem:128')], { refuse_seconds: 0 }),
    );
    let report;
    try {
      await expect.poll(() => fault.hits()).toBe(1);
      report = await sweepPastLaunchTimeout(agent);
      await framework.update('stalled', 'TASK_DROPPED');
    } finally {
      resume();
      fault.remove();
    }
    expect((await answered).status).toBe(202);

    // The late record is refused: the task stays dropped, held nowhere, and never launched.
    expect((await tm.master.registrar.tasks.get(framework.frameworkId, 'stalled'))?.state).toBe('TASK_DROPPED');
    expect((await ledger(agent)).tasks).toEqual({});
    const sent = await commands(tm, agent);
    expect(sent.filter((c) => c.type === 'LAUNCH')).toEqual([]);
    expect(sent).toContainEqual({
      type: 'KILL',
      framework_id: { value: framework.frameworkId },
      task_id: { value: 'stalled' },
    });
    await onlyUpdates('stalled', ['TASK_DROPPED/REASON_RECONCILIATION']);
    expect(report.orphanedLaunches).toBe(1);
  });

  it('gives back a ledger entry whose task id another launch took since, without a word to the framework', async () => {
    const first = await registerAgent(tm, 'cpus:4;mem:1024');
    const second = await registerAgent(tm, 'cpus:4;mem:1024');
    // What a master that died right after the ledger write on `first` leaves: an entry, no record.
    const taken = await offer(tm, framework, first, 'cpus:2;mem:256');
    await ledgerOnlyLaunch(tm, framework, first, taken, {
      taskId: 'reused',
      launchId: 'died-after-ledger',
      resources: 'cpus:1;mem:128',
    });
    // The framework, told nothing, launches the same task id on `second`; it runs.
    const made = await offer(tm, framework, second, 'cpus:2;mem:256');
    await framework.call(
      'ACCEPT',
      launch([made.offerId], [commandTask('reused', second, 'cpus:1;mem:128')], { refuse_seconds: 0 }),
    );
    await commands(tm, second);
    await sendStatus(tm, second, framework.frameworkId, {
      task_id: { value: 'reused' },
      state: 'TASK_RUNNING',
      uuid: uuid(),
    });
    await framework.update('reused', 'TASK_RUNNING');

    const report = await sweepPastLaunchTimeout(first, second);
    expect((await ledger(first)).tasks).toEqual({});
    expect(Object.keys((await ledger(second)).tasks)).toEqual([`${framework.frameworkId}/reused`]);
    expect((await tm.master.registrar.tasks.get(framework.frameworkId, 'reused'))?.state).toBe('TASK_RUNNING');
    await onlyUpdates('reused', ['TASK_RUNNING/']);
    expect(report.orphanedLaunches).toBe(1);
  });

  it("gives back what TEARDOWN cannot find: a removed framework's entry with no record", async () => {
    const agent = await registerAgent(tm, 'cpus:4;mem:1024');
    const doomed = await subscribe(tm, { ...FRAMEWORK, name: 'doomed' });
    const made = await offer(tm, doomed, agent, 'cpus:2;mem:256');
    await ledgerOnlyLaunch(tm, doomed, agent, made, {
      taskId: 'left',
      launchId: 'died-before-teardown',
      resources: 'cpus:1;mem:128',
    });
    expect((await doomed.call('TEARDOWN')).status).toBe(202);
    doomed.close();
    // TEARDOWN finds a framework's tasks by their records: this one it cannot.
    expect(Object.keys((await ledger(agent)).tasks)).toEqual([`${doomed.frameworkId}/left`]);

    const report = await sweepPastLaunchTimeout(agent);
    expect((await ledger(agent)).tasks).toEqual({});
    expect(report.orphanedLaunches).toBe(1);
  });

  it('gives back the entry of a task whose record ended when the release that should follow was lost', async () => {
    const agent = await registerAgent(tm, 'cpus:4;mem:1024');
    const made = await offer(tm, framework, agent, 'cpus:2;mem:256');
    await framework.call(
      'ACCEPT',
      launch([made.offerId], [commandTask('ended', agent, 'cpus:1;mem:128')], { refuse_seconds: 0 }),
    );
    await commands(tm, agent);
    // The record's end applied, and the handler that was to release the ledger died.
    const ended = await tm.master.registrar.tasks.updateStatus(framework.frameworkId, {
      task_id: { value: 'ended' },
      state: 'TASK_FINISHED',
      uuid: uuid(),
      source: 'SOURCE_EXECUTOR',
    });
    expect(ended.ok).toBe(true);
    expect(Object.keys((await ledger(agent)).tasks)).toEqual([`${framework.frameworkId}/ended`]);

    const report = await sweepPastLaunchTimeout(agent);
    expect((await ledger(agent)).tasks).toEqual({});
    expect((await tm.master.registrar.tasks.get(framework.frameworkId, 'ended'))?.state).toBe('TASK_FINISHED');
    await onlyUpdates('ended', []);
    expect(report.orphanedLaunches).toBe(0);
  });
});
