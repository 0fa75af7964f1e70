/**
 * The sweeper's timers against a real master: unreachable agents (and their return, Mesos's rules),
 * launches the agent has not confirmed in time (dropped when never sent, else the agent is asked),
 * expired offers, and the TaskInfo leases of tasks running for days (these move the clock a day, so they come last).
 */
import { DeleteTableCommand } from '@aws-sdk/client-dynamodb';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { sweep } from '../../functions/fleet/sweeper.js';
import { rescindOffers } from '../../functions/master/lifecycle.js';
import { epochSeconds } from '../../functions/registrar/expression.js';
import { rowKey } from '../../functions/registrar/task-items.js';
import { INFO_LEASE_MS, INFO_RENEWAL_MS } from '../../functions/registrar/task-info-leases.js';
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
  type TestFramework,
} from '../support/scheduler.js';

let tm: TestMaster;
let aware: TestFramework;
let legacy: TestFramework;
beforeAll(async () => {
  // The streams' own liveness must not interfere with the agents' clock jumps here.
  tm = await startTestMaster({
    agentPingTimeoutSeconds: 15,
    maxAgentPingTimeouts: 5,
    launchTimeoutSeconds: 60,
    heartbeatIntervalSeconds: 60,
    reconnectGraceSeconds: 3600,
  });
  aware = await subscribe(tm, { ...FRAMEWORK, failover_timeout: 3600 });
  legacy = await subscribe(tm, { user: 'old', name: 'legacy', failover_timeout: 3600 });
});
afterAll(async () => {
  aware.close();
  legacy.close();
  await tm.close();
});

describe('the sweeper', () => {
  it('marks a silent agent unreachable: tasks UNREACHABLE (LOST without PARTITION_AWARE), offers rescinded, FAILURE', async () => {
    const agent = await registerAgent(tm, 'cpus:8;mem:8192');
    const forAware = await offer(tm, aware, agent, 'cpus:2;mem:256');
    await aware.call(
      'ACCEPT',
      launch([forAware.offerId], [commandTask('a-task', agent, 'cpus:1;mem:128')], { refuse_seconds: 0 }),
    );
    const forLegacy = await offer(tm, legacy, agent, 'cpus:2;mem:256');
    await legacy.call(
      'ACCEPT',
      launch([forLegacy.offerId], [commandTask('l-task', agent, 'cpus:1;mem:128')], { refuse_seconds: 0 }),
    );
    await commands(tm, agent);
    for (const [framework, taskId] of [
      [aware, 'a-task'],
      [legacy, 'l-task'],
    ] as const) {
      await sendStatus(tm, agent, framework.frameworkId, {
        task_id: { value: taskId },
        state: 'TASK_RUNNING',
        uuid: uuid(),
      });
      await framework.update(taskId, 'TASK_RUNNING');
    }
    const spare = await offer(tm, aware, agent, 'cpus:1;mem:64');

    // The clock held: the silence the sweeps see is what the test moved it by, not that plus the steps' time.
    tm.hold();
    await heartbeat(tm, agent);
    tm.advance(74_000);
    expect((await sweep(tm.master)).unreachable).toBe(0); // 74 s < 15 s × 5
    tm.advance(2_000);
    expect((await sweep(tm.master)).unreachable).toBe(1);
    tm.resume();
    expect((await tm.master.registrar.agents.get(agent.agentId))?.status).toBe('UNREACHABLE');
    await aware.next((e) => e.type === 'RESCIND' && e.rescind?.offer_id.value === spare.offerId);
    const unreachable = await aware.update('a-task', 'TASK_UNREACHABLE');
    expect(unreachable).toMatchObject({ reason: 'REASON_AGENT_REMOVED', source: 'SOURCE_MASTER' });
    expect(unreachable.unreachable_time?.nanoseconds).toBeGreaterThan(0);
    expect((await legacy.update('l-task', 'TASK_LOST')).reason).toBe('REASON_AGENT_REMOVED');
    await aware.next((e) => e.type === 'FAILURE' && e.failure?.agent_id?.value === agent.agentId);
    expect((await tm.master.registrar.tasks.get(aware.frameworkId, 'a-task'))?.state).toBe('TASK_UNREACHABLE');

    // A heartbeat now gets it asked to re-register; then its tasks take the state it reports.
    expect(await heartbeat(tm, agent)).toMatchObject({ recorded: 0, reregister: 1 });
    expect(await commands(tm, agent)).toContainEqual({
      type: 'REREGISTER',
      reason: 'the master marked this agent UNREACHABLE',
    });
    const back = await fetch(`${tm.url}/internal/v1/agents/register`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({
        agent_id: { value: agent.agentId },
        hostname: 'back.local',
        resources: resources('cpus:8;mem:8192'),
        containerizers: ['mesos'],
        isolation: { cgroups: 'none', gpus: 'none', notes: [] },
        tasks: [
          { framework_id: { value: aware.frameworkId }, task_id: { value: 'a-task' }, state: 'TASK_RUNNING' },
          { framework_id: { value: legacy.frameworkId }, task_id: { value: 'l-task' }, state: 'TASK_RUNNING' },
        ],
        version: 'test',
      }),
    });
    expect(back.status).toBe(200);
    const running = await aware.next(
      (e) =>
        e.type === 'UPDATE' &&
        e.update?.status.task_id.value === 'a-task' &&
        e.update.status.reason === 'REASON_AGENT_REREGISTERED',
    );
    expect(running.update?.status.state).toBe('TASK_RUNNING');
    // Mesos since 1.5: a non-partition-aware framework gets its task back too, after TASK_LOST.
    await legacy.next(
      (e) =>
        e.type === 'UPDATE' && e.update?.status.task_id.value === 'l-task' && e.update.status.state === 'TASK_RUNNING',
    );
    expect((await tm.master.registrar.tasks.get(aware.frameworkId, 'a-task'))?.state).toBe('TASK_RUNNING');
  });

  it('drops a launch the master never sent (it died after the ledger write), giving the resources back', async () => {
    // More of this, with faults injected into the master's writes: test/contract/accept-faults.test.ts.
    const agent = await registerAgent(tm, 'cpus:4;mem:4096');
    const made = await offer(tm, aware, agent, 'cpus:2;mem:256');
    // What a master that crashed right after the ledger write leaves behind: no task row, no command.
    await ledgerOnlyLaunch(tm, aware, agent, made, {
      taskId: 'orphan',
      launchId: 'crashed-launch',
      resources: 'cpus:1;mem:128',
    });
    tm.advance(30_000);
    expect((await heartbeat(tm, agent)).recorded).toBe(1);
    expect((await sweep(tm.master)).orphanedLaunches).toBe(0);
    tm.advance(31_000);
    expect((await heartbeat(tm, agent)).recorded).toBe(1);
    expect((await sweep(tm.master)).orphanedLaunches).toBe(1);
    expect((await aware.update('orphan', 'TASK_DROPPED')).reason).toBe('REASON_RECONCILIATION');
    const ledger = await tm.master.registrar.agents.get(agent.agentId);
    expect(Object.keys(ledger?.tasks ?? {})).toEqual([]);
    expect(await commands(tm, agent)).toContainEqual({
      type: 'KILL',
      framework_id: { value: aware.frameworkId },
      task_id: { value: 'orphan' },
    });
  });

  it('asks the agent about a launch left in TASK_STAGING (not one it confirmed); its TASK_DROPPED gives the resources back', async () => {
    const agent = await registerAgent(tm, 'cpus:4;mem:4096');
    const made = await offer(tm, aware, agent, 'cpus:2;mem:256');
    await aware.call(
      'ACCEPT',
      launch(
        [made.offerId],
        [commandTask('silent', agent, 'cpus:1;mem:64'), commandTask('confirmed', agent, 'cpus:1;mem:64')],
      ),
    );
    await commands(tm, agent);
    await sendStatus(tm, agent, aware.frameworkId, {
      task_id: { value: 'confirmed' },
      state: 'TASK_STARTING',
      uuid: uuid(),
    });
    await aware.update('confirmed', 'TASK_STARTING');
    tm.advance(61_000);
    expect((await heartbeat(tm, agent)).recorded).toBe(1);
    expect(await sweep(tm.master)).toMatchObject({ droppedLaunches: 0, reconciledLaunches: 1 });
    expect(await commands(tm, agent)).toEqual([
      { type: 'RECONCILE', tasks: [{ framework_id: { value: aware.frameworkId }, task_id: { value: 'silent' } }] },
    ]);
    expect((await tm.master.registrar.tasks.get(aware.frameworkId, 'silent'))?.state).toBe('TASK_STAGING');
    // The agent does not have it (agent/command-handler.ts): TASK_DROPPED, and it refuses the launch from now on.
    await sendStatus(tm, agent, aware.frameworkId, {
      task_id: { value: 'silent' },
      state: 'TASK_DROPPED',
      source: 'SOURCE_AGENT',
      reason: 'REASON_RECONCILIATION',
      uuid: uuid(),
    });
    expect((await aware.update('silent', 'TASK_DROPPED')).reason).toBe('REASON_RECONCILIATION');
    expect((await tm.master.registrar.tasks.get(aware.frameworkId, 'confirmed'))?.state).toBe('TASK_STARTING');
    const ledger = await tm.master.registrar.agents.get(agent.agentId);
    expect(Object.keys(ledger?.tasks ?? {})).toEqual([`${aware.frameworkId}/confirmed`]);
  });

  it('keeps a launch whose confirmation is still queued past the launch timeout (a status backlog, not a lost launch)', async () => {
    const agent = await registerAgent(tm, 'cpus:4;mem:4096');
    const made = await offer(tm, aware, agent, 'cpus:2;mem:256');
    await aware.call('ACCEPT', launch([made.offerId], [commandTask('late', agent, 'cpus:1;mem:64')]));
    await commands(tm, agent);
    // The agent started it; its TASK_STARTING waits behind a backlog on the status queue while the sweep runs.
    tm.advance(61_000);
    expect((await heartbeat(tm, agent)).recorded).toBe(1);
    expect(await sweep(tm.master)).toMatchObject({ droppedLaunches: 0, reconciledLaunches: 1 });
    await sendStatus(tm, agent, aware.frameworkId, {
      task_id: { value: 'late' },
      state: 'TASK_STARTING',
      uuid: uuid(),
    });
    expect((await aware.update('late', 'TASK_STARTING')).state).toBe('TASK_STARTING');
    expect((await tm.master.registrar.tasks.get(aware.frameworkId, 'late'))?.state).toBe('TASK_STARTING');
    const ledger = await tm.master.registrar.agents.get(agent.agentId);
    expect(Object.keys(ledger?.tasks ?? {})).toContain(`${aware.frameworkId}/late`);
  });

  it('rescinds offers past their offer timeout', async () => {
    const agent = await registerAgent(tm, 'cpus:4;mem:4096');
    const record = await tm.master.registrar.agents.get(agent.agentId);
    if (!record) throw new Error('agent not registered');
    const created = await tm.master.registrar.agents.createOffers(record, [
      {
        frameworkId: aware.frameworkId,
        role: '*',
        resources: resources('cpus:1;mem:64'),
        expiresAt: tm.master.now() + 30_000,
      },
    ]);
    if (!created.ok) throw new Error(created.error.message);
    const offerId = created.value.offers[0]?.offerId;
    tm.advance(31_000);
    expect((await heartbeat(tm, agent)).recorded).toBe(1);
    expect((await sweep(tm.master)).expiredOffers).toBeGreaterThanOrEqual(1);
    await aware.next((e) => e.type === 'RESCIND' && e.rescind?.offer_id.value === offerId);
  });

  it('takes back offers on many agents with their writes in flight together, not one after another', async () => {
    const agents = await Promise.all(Array.from({ length: 4 }, () => registerAgent(tm, 'cpus:4;mem:4096')));
    const offers = await Promise.all(agents.map((agent) => offer(tm, aware, agent, 'cpus:1;mem:64')));
    // Every agent write is held until all four have been sent: one after another, the first would wait forever.
    let release = () => {};
    const released = new Promise<void>((resolve) => (release = resolve));
    const held = injectFaults(tm.clients.dynamodb, {
      commands: ['UpdateItemCommand'],
      table: tm.master.registrar.context.tables.agents,
      times: 4,
      fault: { kind: 'hold', until: released },
    });
    try {
      const rescinding = rescindOffers(tm.master, offers);
      await vi.waitFor(() => expect(held.hits()).toBe(4), { timeout: 10_000 });
      release();
      const removed = await rescinding;
      expect(removed.map((o) => o.offerId).sort()).toEqual(offers.map((o) => o.offerId).sort());
    } finally {
      release();
      held.remove();
    }
    for (const agent of agents) expect((await tm.master.registrar.agents.get(agent.agentId))?.offers).toEqual({});
    for (const { offerId } of offers) {
      await aware.next((e) => e.type === 'RESCIND' && e.rescind?.offer_id.value === offerId);
    }
  });

  it("renews a running task's TaskInfo lease once a day, and a failed renewal does not fail the sweep", async () => {
    const agent = await registerAgent(tm, 'cpus:4;mem:4096');
    const made = await offer(tm, aware, agent, 'cpus:2;mem:256');
    await aware.call('ACCEPT', launch([made.offerId], [commandTask('long', agent, 'cpus:1;mem:64')]));
    await commands(tm, agent);
    await sendStatus(tm, agent, aware.frameworkId, { task_id: { value: 'long' }, state: 'TASK_RUNNING', uuid: uuid() });
    await aware.update('long', 'TASK_RUNNING');
    const lease = async () =>
      (
        await tm.clients.documents.send(
          new GetCommand({
            TableName: tm.master.registrar.context.tables.taskinfos,
            Key: rowKey(aware.frameworkId, 'long'),
          }),
        )
      ).Item?.expires_at;
    const launched = await lease();
    // Within its first day: not looked at (the earlier tests' tasks, a minute or two older, are renewed).
    tm.advance(INFO_RENEWAL_MS - 60_000);
    expect((await heartbeat(tm, agent)).recorded).toBe(1);
    await sweep(tm.master);
    expect(await lease()).toBe(launched);
    // A day on: renewed to a full lease from now, once (the window's next sweeps find it renewed).
    tm.advance(120_000);
    expect((await heartbeat(tm, agent)).recorded).toBe(1);
    // Held, so that the sweep's "now" and the test's fall in the same second however long the sweep takes.
    tm.hold();
    expect((await sweep(tm.master)).renewedTaskInfos).toBeGreaterThanOrEqual(1);
    expect(await lease()).toBe(epochSeconds(tm.master.now() + INFO_LEASE_MS));
    tm.resume();
    tm.advance(60_000);
    expect((await heartbeat(tm, agent)).recorded).toBe(1);
    expect((await sweep(tm.master)).renewedTaskInfos).toBe(0);

    // The next day's renewal fails (its table gone): counted, and the sweep still ends with its report.
    tm.advance(INFO_RENEWAL_MS - 60_000);
    expect((await heartbeat(tm, agent)).recorded).toBe(1);
    await tm.clients.dynamodb.send(new DeleteTableCommand({ TableName: tm.master.registrar.context.tables.taskinfos }));
    const errors = tm.master.metrics.snapshot()['master/task_info_renewal_errors'] ?? 0;
    expect((await sweep(tm.master)).renewedTaskInfos).toBe(0);
    expect(tm.master.metrics.snapshot()['master/task_info_renewal_errors']).toBe(errors + 1);
  });
});
