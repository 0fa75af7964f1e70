/**
 * Executors in the agent ledger, on DynamoDB Local: an executor's resources are held once per executor
 * and agent, charged with the first task that names it, kept while later tasks come and go, and given
 * back when it ends (a custom executor's EXECUTOR_EXITED, a DEFAULT executor's last task).
 */
import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  freeResources,
  ledgerViolation,
  type AcceptInput,
  type AgentRecord,
  type OfferRecord,
} from '../../functions/registrar/index.js';
import { scalarTotal } from '#shared/resources/resources.js';
import { freshRegistrar, type TestRegistrar } from '../support/registrar.js';
import { resources } from '../support/resources.js';

let t: TestRegistrar;
beforeAll(async () => {
  t = await freshRegistrar();
});
afterAll(async () => {
  await t.close();
});

const FRAMEWORK = 'fw-exec';

async function admitted(): Promise<AgentRecord> {
  const result = await t.registrar.agents.admit({ hostname: 'exec.local', resources: resources('cpus:2;mem:1024') });
  if (!result.ok) throw new Error(result.error.message);
  return result.value;
}

async function agentNow(agentId: string): Promise<AgentRecord> {
  return (await t.registrar.agents.get(agentId)) as AgentRecord;
}

async function offered(agentId: string, text: string): Promise<OfferRecord> {
  const agent = await agentNow(agentId);
  const result = await t.registrar.agents.createOffers(agent, [
    { frameworkId: FRAMEWORK, role: '*', resources: resources(text) },
  ]);
  if (!result.ok) throw new Error(`${result.error.code}: ${result.error.message}`);
  return result.value.offers[0] as OfferRecord;
}

let launches = 0;
type Launch = AcceptInput['launches'][number];

function launch(taskId: string, executorId?: string, charge?: string, infoHash = 'h1', kind = 'CUSTOM'): Launch {
  return {
    taskId,
    resources: resources('cpus:0.25;mem:64'),
    ...(executorId
      ? {
          executor: {
            executorId,
            kind: kind as 'CUSTOM' | 'DEFAULT',
            infoHash,
            ...(charge ? { resources: resources(charge) } : {}),
          },
        }
      : {}),
  };
}

function accept(agentId: string, offers: OfferRecord[], list: Launch[]) {
  return t.registrar.agents.acceptOffers({
    agentId,
    frameworkId: FRAMEWORK,
    offers,
    launches: list,
    launchId: `launch-${++launches}`,
  });
}

const cpus = (agent: AgentRecord) => scalarTotal(freeResources(agent), 'cpus');

describe('an executor in the ledger', () => {
  it('is charged once with its first task; a later task for it charges only itself; its end gives it back', async () => {
    const { agentId } = await admitted();
    const first = await accept(
      agentId,
      [await offered(agentId, 'cpus:1;mem:512')],
      [launch('t1', 'e1', 'cpus:0.5;mem:128'), launch('t2', 'e1')],
    );
    expect(first.ok).toBe(true);
    let agent = await agentNow(agentId);
    expect(Object.keys(agent.executors)).toEqual([`${FRAMEWORK}/e1`]);
    expect(agent.executors[`${FRAMEWORK}/e1`]).toMatchObject({ kind: 'CUSTOM', infoHash: 'h1' });
    expect(agent.tasks[`${FRAMEWORK}/t1`]?.executorId).toBe('e1');
    expect(cpus(agent)).toBe(2 - 0.25 - 0.25 - 0.5);

    // Exactly the task's size is enough: the running executor is not charged again.
    const second = await accept(agentId, [await offered(agentId, 'cpus:0.25;mem:64')], [launch('t3', 'e1')]);
    expect(second.ok).toBe(true);
    agent = await agentNow(agentId);
    expect(cpus(agent)).toBe(0.75);
    expect(ledgerViolation(agent)).toBeUndefined();

    // Its tasks end: a custom executor keeps its charge until it exits.
    await t.registrar.agents.releaseTasks({
      agentId,
      tasks: ['t1', 't2', 't3'].map((taskId) => ({ frameworkId: FRAMEWORK, taskId })),
    });
    agent = await agentNow(agentId);
    expect(cpus(agent)).toBe(1.5);
    const exited = await t.registrar.agents.releaseExecutors({
      agentId,
      executors: [{ frameworkId: FRAMEWORK, executorId: 'e1' }],
    });
    expect(exited.ok && exited.value.released.map((e) => e.executorId)).toEqual(['e1']);
    expect(cpus(await agentNow(agentId))).toBe(2);
    const again = await t.registrar.agents.releaseExecutors({
      agentId,
      executors: [{ frameworkId: FRAMEWORK, executorId: 'e1' }],
    });
    expect(again.ok && again.value.released).toEqual([]);
  });

  it('refuses an accept whose task and new executor do not fit in the offers', async () => {
    const { agentId } = await admitted();
    const offer = await offered(agentId, 'cpus:0.5;mem:128');
    const refused = await accept(agentId, [offer], [launch('big', 'e-big', 'cpus:0.5;mem:64')]);
    expect(refused.ok ? 'ok' : refused.error.code).toBe('INSUFFICIENT_RESOURCES');
    expect(refused.ok ? '' : refused.error.message).toMatch(/Executor e-big/);
    expect(await agentNow(agentId)).toMatchObject({ executors: {}, tasks: {} });
  });

  it('refuses a task for a running executor described otherwise, or a second charge of one already there', async () => {
    const { agentId } = await admitted();
    expect(
      (await accept(agentId, [await offered(agentId, 'cpus:1;mem:128')], [launch('a1', 'e2', 'cpus:0.5')])).ok,
    ).toBe(true);
    const other = await accept(
      agentId,
      [await offered(agentId, 'cpus:0.25;mem:64')],
      [launch('a2', 'e2', undefined, 'h2')],
    );
    expect(other.ok ? '' : other.error.message).toMatch(/differs from that of the running executor/);
    const twice = await accept(agentId, [await offered(agentId, 'cpus:0.75;mem:64')], [launch('a3', 'e2', 'cpus:0.5')]);
    expect(twice.ok ? '' : twice.error.message).toMatch(/launched meanwhile/);
    const gone = await accept(agentId, [await offered(agentId, 'cpus:0.25;mem:64')], [launch('a4', 'e-none')]);
    expect(gone.ok ? '' : gone.error.message).toMatch(/ended meanwhile/);
    expect(Object.keys((await agentNow(agentId)).tasks)).toEqual([`${FRAMEWORK}/a1`]);
  });

  it("gives a DEFAULT executor's resources back with its group's last task", async () => {
    const { agentId } = await admitted();
    const accepted = await accept(
      agentId,
      [await offered(agentId, 'cpus:1;mem:256')],
      [launch('g1', 'pod', 'cpus:0.1;mem:32', 'd1', 'DEFAULT'), launch('g2', 'pod', undefined, 'd1', 'DEFAULT')],
    );
    expect(accepted.ok).toBe(true);
    const one = await t.registrar.agents.releaseTasks({ agentId, tasks: [{ frameworkId: FRAMEWORK, taskId: 'g1' }] });
    expect(one.ok && one.value.executors).toEqual([]);
    expect(Object.keys((await agentNow(agentId)).executors)).toEqual([`${FRAMEWORK}/pod`]);
    const last = await t.registrar.agents.releaseTasks({ agentId, tasks: [{ frameworkId: FRAMEWORK, taskId: 'g2' }] });
    expect(last.ok && last.value.executors.map((e) => e.executorId)).toEqual(['pod']);
    const agent = await agentNow(agentId);
    expect(agent.executors).toEqual({});
    expect(cpus(agent)).toBe(2);
  });

  it('finds the executors of a framework on every agent', async () => {
    const { agentId } = await admitted();
    expect(
      (await accept(agentId, [await offered(agentId, 'cpus:1;mem:128')], [launch('f1', 'e-f', 'cpus:0.5')])).ok,
    ).toBe(true);
    const held = await t.registrar.agents.executorsOf(FRAMEWORK);
    expect(held.get(agentId)).toEqual(['e-f']);
    expect((await t.registrar.agents.executorsOf('nobody')).size).toBe(0);
  });

  it('reads an item written before executors as having none, and charges one after its next offer', async () => {
    const { agentId } = await admitted();
    await t.clients.documents.send(
      new UpdateCommand({
        TableName: t.tables.agents,
        Key: { agent_id: agentId },
        UpdateExpression: 'REMOVE executors',
      }),
    );
    expect((await agentNow(agentId)).executors).toEqual({});
    const accepted = await accept(
      agentId,
      [await offered(agentId, 'cpus:1;mem:256')],
      [launch('o1', 'e-old', 'cpus:0.5')],
    );
    expect(accepted.ok).toBe(true);
    expect(Object.keys((await agentNow(agentId)).executors)).toEqual([`${FRAMEWORK}/e-old`]);
  });
});
