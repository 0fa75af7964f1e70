/**
 * Status updates and heartbeats are bound to the agent that sends them. An update applies only to a
 * task on the sending agent (the local cluster's shape: a shared agent principal, no SQS sender), and
 * in AWS only when SQS's SenderId is the whole role session `<role id>:<instance id>` the agent was
 * bound to at registration. Anything else is dropped and counted, and never frees resources.
 */
import type { SQSEvent, SQSRecord } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createStatusHandler } from '../../functions/handlers/status.js';
import type { AgentMessage } from '#shared/protocol/internal.js';
import type { TaskState } from '#shared/protocol/mesos.js';
import { startTestMaster, type TestMaster } from '../support/master.js';
import {
  commands,
  commandTask,
  heartbeat,
  launch,
  offer,
  registerAgent,
  sendStatus,
  subscribe,
  uuid,
  type TestAgent,
  type TestFramework,
} from '../support/scheduler.js';
import { instanceId, postRegistration, registerOnInstance, registrationOn, runTask } from './infra-agents.js';

const ROLE_ID = 'AROATESTAGENTSROLE';

function invalidUpdates(tm: TestMaster): number {
  return tm.master.metrics.snapshot()['master/invalid_status_updates'] ?? 0;
}

async function ledger(tm: TestMaster, agent: TestAgent) {
  const record = await tm.master.registrar.agents.get(agent.agentId);
  return record?.tasks;
}

async function until(check: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('with a shared agent principal and no SQS sender (the local cluster)', () => {
  let tm: TestMaster;
  let framework: TestFramework;
  beforeAll(async () => {
    tm = await startTestMaster({ heartbeatIntervalSeconds: 3600 });
    framework = await subscribe(tm);
  });
  afterAll(async () => {
    framework.close();
    await tm.close();
  });

  it("ignores agent X's TASK_FINISHED for agent V's task: the task runs on, V's ledger is unchanged", async () => {
    const victim = await registerAgent(tm);
    const other = await registerAgent(tm);
    await runTask(tm, framework, victim, 'victim-task');
    const before = await ledger(tm, victim);
    expect(Object.keys(before ?? {})).toHaveLength(1);
    const invalid = invalidUpdates(tm);

    await sendStatus(tm, other, framework.frameworkId, {
      task_id: { value: 'victim-task' },
      state: 'TASK_FINISHED',
      uuid: uuid(),
    });
    await until(() => invalidUpdates(tm) > invalid);

    expect(await ledger(tm, victim)).toEqual(before);
    const task = await tm.master.registrar.tasks.get(framework.frameworkId, 'victim-task');
    expect(task).toMatchObject({ state: 'TASK_RUNNING', agentId: victim.agentId });
    // The agent that sent it is told to stop resending; the framework hears nothing.
    expect(await commands(tm, other)).toEqual([
      expect.objectContaining({ type: 'ACKNOWLEDGE', task_id: { value: 'victim-task' } }),
    ]);
  });
});

describe('in AWS: the SenderId SQS stamps must be the whole role session of the agent', () => {
  let tm: TestMaster;
  let framework: TestFramework;
  const tagged = new Map<string, string>();
  const released: string[] = [];
  beforeAll(async () => {
    const fleet = {
      tagAgentQueue: (url: string, session: string) => {
        tagged.set(url, session);
        return Promise.resolve();
      },
      lifecycle: {
        complete: (instance: string) => {
          released.push(instance);
          return Promise.resolve(true);
        },
      },
    };
    tm = await startTestMaster({ heartbeatIntervalSeconds: 3600, agentRoleId: ROLE_ID }, { fleet });
    framework = await subscribe(tm);
  });
  afterAll(async () => {
    framework.close();
    await tm.close();
  });

  function update(agent: TestAgent, taskId: string, state: TaskState): AgentMessage {
    return {
      type: 'STATUS_UPDATE',
      agent_id: { value: agent.agentId },
      framework_id: { value: framework.frameworkId },
      status: { task_id: { value: taskId }, state, uuid: uuid(), source: 'SOURCE_EXECUTOR', timestamp: 1 },
    };
  }

  /** Delivers one message through the status handler, as Lambda's SQS event source does. */
  async function deliver(message: AgentMessage, senderId?: string): Promise<void> {
    const record = {
      messageId: uuid(),
      body: JSON.stringify(message),
      attributes: senderId === undefined ? {} : { SenderId: senderId },
    } as unknown as SQSRecord;
    const event: SQSEvent = { Records: [record] };
    expect(await createStatusHandler(tm.master)(event, {} as never)).toEqual({ batchItemFailures: [] });
  }

  it('drops forged, partial and missing senders; applies only the agent instance’s own', async () => {
    const instance = instanceId();
    const victim = await registerOnInstance(tm, instance);
    const attacker = instanceId();
    await registerOnInstance(tm, attacker);
    const made = await offer(tm, framework, victim, 'cpus:1;mem:128');
    const accepted = await framework.call(
      'ACCEPT',
      launch([made.offerId], [commandTask('t1', victim, 'cpus:1;mem:128')]),
    );
    expect(accepted.status).toBe(202);
    await deliver(update(victim, 't1', 'TASK_RUNNING'), `${ROLE_ID}:${instance}`);
    await framework.update('t1', 'TASK_RUNNING');
    const before = await ledger(tm, victim);
    expect(Object.keys(before ?? {})).toHaveLength(1);

    const forged = [
      `${ROLE_ID}:${attacker}`, // another instance of the agents' role
      `AROAANOTHERROLE:${instance}`, // the right instance, another role (a suffix match would take it)
      `${ROLE_ID}:${instance.slice(0, -1)}`, // a prefix of the session
      `${ROLE_ID}:${instance}x`,
      undefined, // no stamp at all
    ];
    for (const [i, senderId] of forged.entries()) {
      const invalid = invalidUpdates(tm);
      await deliver(update(victim, 't1', 'TASK_FINISHED'), senderId);
      expect(invalidUpdates(tm), `sender ${String(senderId)} (${i})`).toBe(invalid + 1);
    }
    expect(await ledger(tm, victim)).toEqual(before);
    expect(await tm.master.registrar.tasks.get(framework.frameworkId, 't1')).toMatchObject({ state: 'TASK_RUNNING' });
    // Nothing was acknowledged to the agent a forged message names.
    expect((await commands(tm, victim)).filter((c) => c.type === 'ACKNOWLEDGE')).toEqual([]);

    await deliver(update(victim, 't1', 'TASK_FINISHED'), `${ROLE_ID}:${instance}`);
    await framework.update('t1', 'TASK_FINISHED');
    expect(await ledger(tm, victim)).toEqual({});
  });

  it("lets only the agent's own instance report it DRAINED (which lets the instance terminate)", async () => {
    const instance = instanceId();
    const agent = await registerOnInstance(tm, instance);
    const now = Date.now();
    expect(
      (await tm.master.registrar.agents.setDrain(agent.agentId, { startedAt: now, deadline: now + 60_000 })).ok,
    ).toBe(true);
    const drained: AgentMessage = { type: 'DRAINED', agent_id: { value: agent.agentId } };
    const invalid = invalidUpdates(tm);
    await deliver(drained, `${ROLE_ID}:${instanceId()}`);
    expect(invalidUpdates(tm)).toBe(invalid + 1);
    expect(released).not.toContain(instance);
    await deliver(drained, `${ROLE_ID}:${instance}`);
    expect(released).toContain(instance);
  });

  it("counts an agent's heartbeat only from the whole role session of its instance", async () => {
    const instance = instanceId();
    const agent = await registerOnInstance(tm, instance);
    expect(await heartbeat(tm, agent, `${ROLE_ID}:${instance}`)).toMatchObject({ recorded: 1, dropped: 0 });
    for (const senderId of [`AROAANOTHERROLE:${instance}`, `${ROLE_ID}:i-0someoneelse`, `x${ROLE_ID}:${instance}`]) {
      expect(await heartbeat(tm, agent, senderId)).toMatchObject({ recorded: 0, dropped: 1 });
    }
    expect(await heartbeat(tm, agent)).toMatchObject({ recorded: 0, dropped: 1 });
  });

  it('binds the agent to the reported instance: its queue tagged for that session, no other instance may re-register as it', async () => {
    const instance = instanceId();
    const agent = await registerOnInstance(tm, instance);
    expect((await tm.master.registrar.agents.get(agent.agentId))?.instanceSession).toBe(`${ROLE_ID}:${instance}`);
    expect(tagged.get(agent.commandQueueUrl)).toBe(`${ROLE_ID}:${instance}`);

    const hijack = await postRegistration(tm, registrationOn(instanceId(), { agentId: agent.agentId }));
    expect(hijack.status).toBe(403);
    expect(await hijack.text()).toMatch(new RegExp(`runs on instance ${instance}`));
    expect((await tm.master.registrar.agents.get(agent.agentId))?.instanceSession).toBe(`${ROLE_ID}:${instance}`);
    expect(tm.master.metrics.snapshot()['master/invalid_reregistrations']).toBeGreaterThanOrEqual(1);
    // The agent itself comes back as before.
    expect((await postRegistration(tm, registrationOn(instance, { agentId: agent.agentId }))).status).toBe(200);
  });
});
