/**
 * An agent re-registering keeps its dynamic reservations and persistent volumes (master on DynamoDB
 * Local and the SQS stand-in): reserved and created through the operator API, they are still in its
 * total after it comes back, offered to their role by a real allocation pass, and a task holding reserved
 * resources survives; an agent that came back smaller loses only what no longer fits, with a warning.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { Resource } from '#shared/protocol/mesos.js';
import { add, contains, equals, pushReservation, unallocate } from '#shared/resources/resources.js';
import { Allocator, allocatorConfig } from '../../functions/allocator/index.js';
import { runAllocationPass } from '../../functions/allocation/index.js';
import { startTestMaster, type TestMaster } from '../support/master.js';
import { operatorPost } from '../support/operator.js';
import {
  commands,
  commandTask,
  FRAMEWORK,
  launch,
  registerAgent,
  resources,
  sendStatus,
  subscribe,
  type TestAgent,
  type TestFramework,
  uuid,
} from '../support/scheduler.js';

let tm: TestMaster;
let framework: TestFramework;

const reserved = (text: string) => pushReservation(resources(text), { role: 'a', principal: 'ops' });

function volume(id: string, mb: number): Resource {
  return {
    ...(reserved(`disk:${mb}`)[0] as Resource),
    disk: { persistence: { id, principal: 'ops' }, volume: { container_path: 'data', mode: 'RW' } },
  };
}

async function total(agent: TestAgent): Promise<Resource[]> {
  return (await tm.master.registrar.agents.get(agent.agentId))?.total ?? [];
}

/** The agent restarting and re-registering as itself with `text` and its running tasks. */
function reregister(agent: TestAgent, text: string, running: string[]) {
  return fetch(`${tm.url}/internal/v1/agents/register`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({
      agent_id: { value: agent.agentId },
      hostname: 'back.local',
      ip: '127.0.0.1',
      resources: resources(text),
      containerizers: ['mesos'],
      isolation: { cgroups: 'none', gpus: 'none', notes: [] },
      tasks: running.map((taskId) => ({
        framework_id: { value: framework.frameworkId },
        task_id: { value: taskId },
        state: 'TASK_RUNNING',
      })),
      version: 'test',
    }),
  });
}

/** A fresh agent with `reserve` dynamically reserved for role `a` and the volume `volumeId` of 100 MB on it. */
async function convertedAgent(reserve: string, volumeId: string): Promise<TestAgent> {
  const agent = await registerAgent(tm, 'cpus:8;mem:8192;disk:1000');
  const agentId = { value: agent.agentId };
  const reserving = {
    type: 'RESERVE_RESOURCES',
    reserve_resources: { agent_id: agentId, resources: reserved(reserve) },
  };
  expect((await operatorPost(tm.url, reserving)).status).toBe(202);
  const creating = { type: 'CREATE_VOLUMES', create_volumes: { agent_id: agentId, volumes: [volume(volumeId, 100)] } };
  expect((await operatorPost(tm.url, creating)).status).toBe(202);
  return agent;
}

/** A task of the framework on `held` (reserved for `a`), launched through ACCEPT and running. */
async function runningOn(agent: TestAgent, taskId: string, held: Resource[]): Promise<void> {
  const record = await tm.master.registrar.agents.get(agent.agentId);
  if (!record) throw new Error('no agent');
  const made = await tm.master.registrar.agents.createOffers(record, [
    { frameworkId: framework.frameworkId, role: 'a', resources: held },
  ]);
  if (!made.ok) throw new Error(made.error.message);
  const task = commandTask(taskId, agent, 'cpus:1', { resources: held });
  const accepted = await framework.call('ACCEPT', launch([made.value.offers[0]?.offerId ?? ''], [task]));
  expect(accepted.status, accepted.body).toBe(202);
  await commands(tm, agent);
  await sendStatus(tm, agent, framework.frameworkId, {
    task_id: { value: taskId },
    state: 'TASK_RUNNING',
    uuid: uuid(),
  });
  await framework.update(taskId, 'TASK_RUNNING');
}

beforeAll(async () => {
  tm = await startTestMaster();
  framework = await subscribe(tm, { ...FRAMEWORK, role: 'a' });
});
afterAll(async () => {
  framework.close();
  await tm.close();
});

describe('re-registration', () => {
  it('keeps reservations and volumes, offers them to their role, and keeps a task on reserved resources', async () => {
    const agent = await convertedAgent('cpus:2;mem:512;disk:300', 'v1');
    const converted = await total(agent);
    await runningOn(agent, 'on-reserved', reserved('cpus:1;mem:64'));

    const back = await reregister(agent, 'cpus:8;mem:8192;disk:1000', ['on-reserved']);
    expect(back.status, await back.text()).toBe(200);
    const after = await tm.master.registrar.agents.get(agent.agentId);
    expect(equals(after?.total ?? [], converted)).toBe(true);
    expect(Object.keys(after?.tasks ?? {})).toEqual([`${framework.frameworkId}/on-reserved`]);
    expect((await tm.master.registrar.tasks.get(framework.frameworkId, 'on-reserved'))?.state).toBe('TASK_RUNNING');

    const pass = await runAllocationPass(
      { registrar: tm.master.registrar, events: tm.master.events, allocator: new Allocator(allocatorConfig()) },
      { agentIds: new Set([agent.agentId]) },
    );
    const offered = unallocate(pass.offers.filter((o) => o.agentId === agent.agentId).flatMap((o) => o.resources));
    expect(contains(offered, add([volume('v1', 100)], reserved('cpus:1;mem:448;disk:200')))).toBe(true);
    expect(pass.offers.every((o) => o.frameworkId === framework.frameworkId && o.role === 'a')).toBe(true);
  });

  it('drops what no longer fits in a smaller agent, with a warning, and keeps the rest and the task', async () => {
    const agent = await convertedAgent('cpus:2;disk:300', 'v2');
    await runningOn(agent, 'holds-reserved', reserved('cpus:2'));

    const warn = vi.spyOn(tm.master.logger, 'warn');
    // Back with 2 cpus (all the task's) and 150 MB of disk: the volume stays, 150 MB of the reservation go.
    const back = await reregister(agent, 'cpus:2;mem:8192;disk:150', ['holds-reserved']);
    expect(back.status, await back.text()).toBe(200);
    const expected = add(add(reserved('cpus:2;disk:50'), [volume('v2', 100)]), resources('mem:8192'));
    expect(equals(await total(agent), expected)).toBe(true);
    expect(Object.keys((await tm.master.registrar.agents.get(agent.agentId))?.tasks ?? {})).toHaveLength(1);
    const warning = warn.mock.calls.find(([message]) => /reservations or volumes/.test(String(message)));
    expect(warning?.[1]).toMatchObject({ agentId: agent.agentId });
    expect(equals((warning?.[1] as { dropped: Resource[] }).dropped, reserved('disk:150'))).toBe(true);
    warn.mockRestore();

    // Smaller than what the task holds: refused, the total untouched.
    const shrunk = await reregister(agent, 'cpus:1;mem:8192;disk:150', ['holds-reserved']);
    expect(shrunk.status).toBe(409);
    expect(equals(await total(agent), expected)).toBe(true);
  });
});
