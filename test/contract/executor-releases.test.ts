/**
 * A custom executor's charge comes back through the master's real paths, on DynamoDB Local and the SQS
 * stand-in: the framework's TEARDOWN, the agent's removal, and a re-registration whose report no longer
 * lists the executor (but not one charged within launchTimeoutSeconds, nor when the agent sends no list).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scalarTotal } from '#shared/resources/resources.js';
import { markAgentGone } from '../../functions/fleet/instances.js';
import { freeResources, type AgentRecord } from '../../functions/registrar/index.js';
import { startTestMaster, type TestMaster } from '../support/master.js';
import {
  commandTask,
  launch,
  offer,
  registerAgent,
  resources,
  subscribe,
  type TestAgent,
  type TestFramework,
} from '../support/scheduler.js';

const TOTAL = 'cpus:4;mem:1024';
const LAUNCH_TIMEOUT_SECONDS = 60;

let tm: TestMaster;
let framework: TestFramework;

beforeAll(async () => {
  tm = await startTestMaster({ launchTimeoutSeconds: LAUNCH_TIMEOUT_SECONDS });
  framework = await subscribe(tm);
});
afterAll(async () => {
  framework?.close();
  await tm?.close();
});

async function ledger(agentId: string): Promise<AgentRecord> {
  const agent = await tm.master.registrar.agents.get(agentId);
  if (!agent) throw new Error(`no agent ${agentId}`);
  return agent;
}

const freeCpus = (agent: AgentRecord) => scalarTotal(freeResources(agent), 'cpus');

/** A task of 0.25 cpus launched by the framework's ACCEPT with the custom executor `executorId` (0.5 cpus). */
async function charge(agent: TestAgent, by: TestFramework, taskId: string, executorId: string): Promise<void> {
  const made = await offer(tm, by, agent, 'cpus:1;mem:256');
  const executor = {
    type: 'CUSTOM',
    executor_id: { value: executorId },
    command: { value: 'run-executor' },
    resources: resources('cpus:0.5;mem:128'),
  };
  const task = commandTask(taskId, agent, 'cpus:0.25;mem:64', { command: undefined, executor });
  const accepted = await by.call('ACCEPT', launch([made.offerId], [task]));
  expect(accepted.status, accepted.body).toBe(202);
  expect(Object.keys((await ledger(agent.agentId)).executors)).toContain(`${by.frameworkId}/${executorId}`);
}

/** The agent restarting and re-registering as itself, reporting `executors` (absent: an older agent). */
async function reregister(agent: TestAgent, executors?: string[]): Promise<void> {
  const response = await fetch(`${tm.url}/internal/v1/agents/register`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({
      agent_id: { value: agent.agentId },
      hostname: 'back.local',
      ip: '127.0.0.1',
      resources: resources(TOTAL),
      containerizers: ['mesos'],
      isolation: { cgroups: 'none', gpus: 'none', notes: [] },
      ...(executors
        ? {
            executors: executors.map((id) => ({
              framework_id: { value: framework.frameworkId },
              executor_id: { value: id },
            })),
          }
        : {}),
      version: 'test',
    }),
  });
  expect(response.status, await response.text()).toBe(200);
}

describe("a custom executor's resources come back", () => {
  it("on its framework's TEARDOWN, and only that framework's", async () => {
    const agent = await registerAgent(tm, TOTAL);
    const doomed = await subscribe(tm);
    await charge(agent, doomed, 'td-1', 'td-exec');
    await charge(agent, framework, 'td-2', 'stays');
    expect(freeCpus(await ledger(agent.agentId))).toBe(4 - 2 * 0.75);

    expect((await doomed.call('TEARDOWN')).status).toBe(202);
    doomed.close();
    const after = await ledger(agent.agentId);
    expect(Object.keys(after.executors)).toEqual([`${framework.frameworkId}/stays`]);
    expect(freeCpus(after)).toBe(4 - 0.75);
  });

  it('when its agent is removed', async () => {
    const agent = await registerAgent(tm, TOTAL);
    await charge(agent, framework, 'gone-1', 'gone-exec');
    expect(await markAgentGone(tm.master, await ledger(agent.agentId), 'the test removes it')).toBe(true);
    const after = await ledger(agent.agentId);
    expect(after.status).toBe('GONE');
    expect(after.executors).toEqual({});
    expect(freeCpus(after)).toBe(4);
  });
});

describe('a re-registering agent', () => {
  it('gives back the custom executors it no longer reports, charged longer than the launch timeout ago', async () => {
    const agent = await registerAgent(tm, TOTAL);
    await charge(agent, framework, 'rr-1', 'ended');
    await charge(agent, framework, 'rr-2', 'runs');
    tm.advance((LAUNCH_TIMEOUT_SECONDS + 1) * 1000);

    await reregister(agent, ['runs']);
    let after = await ledger(agent.agentId);
    expect(Object.keys(after.executors)).toEqual([`${framework.frameworkId}/runs`]);
    // The tasks stay charged (the agent answers for them); only the executor came back.
    expect(freeCpus(after)).toBe(4 - 0.25 - 0.75);

    await reregister(agent, []);
    after = await ledger(agent.agentId);
    expect(after.executors).toEqual({});
    expect(freeCpus(after)).toBe(4 - 2 * 0.25);
  });

  it('keeps an unreported executor charged within the launch timeout: its LAUNCH may still be queued', async () => {
    const agent = await registerAgent(tm, TOTAL);
    await charge(agent, framework, 'young-1', 'young');
    tm.advance((LAUNCH_TIMEOUT_SECONDS - 5) * 1000);
    await reregister(agent, []);
    expect(Object.keys((await ledger(agent.agentId)).executors)).toEqual([`${framework.frameworkId}/young`]);
  });

  it('keeps every charge when it sends no executors list (an older agent)', async () => {
    const agent = await registerAgent(tm, TOTAL);
    await charge(agent, framework, 'old-1', 'unlisted');
    tm.advance((LAUNCH_TIMEOUT_SECONDS + 1) * 1000);
    await reregister(agent);
    const after = await ledger(agent.agentId);
    expect(Object.keys(after.executors)).toEqual([`${framework.frameworkId}/unlisted`]);
    expect(freeCpus(after)).toBe(4 - 0.75);
  });
});
