/**
 * The operator API's calls against a master on DynamoDB Local and the SQS stand-in: the views in Mesos's
 * shapes (GET_STATE and its parts), and each call that changes the cluster, with its bad inputs refused
 * and nothing changed by them.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestMaster, type TestMaster } from '../support/master.js';
import { operatorGet, operatorPost } from '../support/operator.js';
import {
  commands,
  commandTask,
  FRAMEWORK,
  launch,
  offer,
  registerAgent,
  sendStatus,
  subscribe,
  uuid,
  type TestAgent,
  type TestFramework,
} from '../support/scheduler.js';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

let tm: TestMaster;
let framework: TestFramework;
let agent: TestAgent;

const PARTITION_AWARE = { ...FRAMEWORK, role: 'analytics', capabilities: [{ type: 'PARTITION_AWARE' as const }] };

async function call(body: Json): Promise<Json> {
  return operatorGet<Json>(tm.url, body);
}

async function agentView(agentId: string): Promise<Json | undefined> {
  const agents = (await call({ type: 'GET_AGENTS' })).get_agents.agents as Json[];
  return agents.find((a) => a.agent_info.id.value === agentId);
}

async function runTask(taskId: string, on: TestAgent, fw = framework): Promise<void> {
  const made = await offer(tm, fw, on, 'cpus:1;mem:128', 'analytics');
  expect((await fw.call('ACCEPT', launch([made.offerId], [commandTask(taskId, on)]))).status).toBe(202);
  await commands(tm, on);
  await sendStatus(tm, on, fw.frameworkId, { task_id: { value: taskId }, state: 'TASK_RUNNING', uuid: uuid() });
  await fw.update(taskId, 'TASK_RUNNING');
}

beforeAll(async () => {
  tm = await startTestMaster();
  agent = await registerAgent(tm, 'cpus:8;mem:8192;disk:1000');
  framework = await subscribe(tm, PARTITION_AWARE);
  await runTask('t-1', agent);
});
afterAll(async () => {
  framework.close();
  await tm.close();
});

describe('the cluster in Mesos shapes', () => {
  it('GET_STATE holds the agents, frameworks, tasks and executors', async () => {
    const state = await call({ type: 'GET_STATE' });
    expect(state.type).toBe('GET_STATE');
    expect(Object.keys(state.get_state).sort()).toEqual(['get_agents', 'get_executors', 'get_frameworks', 'get_tasks']);
    const seen = (state.get_state.get_agents.agents as Json[]).find((a) => a.agent_info.id.value === agent.agentId);
    expect(seen).toMatchObject({ active: true, deactivated: false, version: expect.any(String) });
    expect(seen?.registered_time.nanoseconds).toBeGreaterThan(0);
    expect(seen?.allocated_resources).toContainEqual(
      expect.objectContaining({ name: 'cpus', scalar: { value: 1 }, allocation_info: { role: 'analytics' } }),
    );
    expect(seen?.total_resources).toContainEqual(expect.objectContaining({ name: 'cpus', scalar: { value: 8 } }));
    const fw = (state.get_state.get_frameworks.frameworks as Json[]).find(
      (f) => f.framework_info.id.value === framework.frameworkId,
    );
    expect(fw).toMatchObject({ active: true, connected: true, recovered: false });
    expect(fw?.framework_info).toMatchObject({ name: FRAMEWORK.name, role: 'analytics' });
    const task = (state.get_state.get_tasks.tasks as Json[]).find((t) => t.task_id.value === 't-1');
    expect(task).toMatchObject({
      name: 't-1',
      framework_id: { value: framework.frameworkId },
      agent_id: { value: agent.agentId },
      state: 'TASK_RUNNING',
      status_update_state: 'TASK_RUNNING',
    });
    expect(task?.statuses[0].state).toBe('TASK_RUNNING');
    expect(state.get_state.get_executors.executors).toEqual([]);
  });

  it('GET_FRAMEWORKS shows outstanding offers and GET_TASKS moves acknowledged terminal tasks to completed_tasks', async () => {
    const made = await offer(tm, framework, agent, 'cpus:2;mem:256', 'analytics');
    const fw = ((await call({ type: 'GET_FRAMEWORKS' })).get_frameworks.frameworks as Json[]).find(
      (f) => f.framework_info.id.value === framework.frameworkId,
    );
    expect((fw?.offers as Json[]).map((o) => o.id.value)).toContain(made.offerId);
    expect(fw?.offered_resources).toContainEqual(expect.objectContaining({ name: 'cpus', scalar: { value: 2 } }));
    expect((await framework.call('DECLINE', { decline: { offer_ids: [{ value: made.offerId }] } })).status).toBe(202);

    await runTask('t-done', agent);
    const finished = uuid();
    await sendStatus(tm, agent, framework.frameworkId, {
      task_id: { value: 't-done' },
      state: 'TASK_FINISHED',
      uuid: finished,
    });
    const status = await framework.update('t-done', 'TASK_FINISHED');
    let tasks = (await call({ type: 'GET_TASKS' })).get_tasks;
    expect((tasks.tasks as Json[]).map((t) => t.task_id.value)).toContain('t-done');
    await framework.call('ACKNOWLEDGE', {
      acknowledge: { agent_id: { value: agent.agentId }, task_id: { value: 't-done' }, uuid: status.uuid },
    });
    await expect
      .poll(async () => {
        tasks = (await call({ type: 'GET_TASKS' })).get_tasks;
        return (tasks.completed_tasks as Json[]).map((t) => t.task_id.value);
      })
      .toContain('t-done');
    expect((tasks.tasks as Json[]).map((t) => t.task_id.value)).not.toContain('t-done');
  });
});

describe('weights and quota', () => {
  it('UPDATE_WEIGHTS sets weights that GET_WEIGHTS and GET_ROLES show', async () => {
    const update = { type: 'UPDATE_WEIGHTS', update_weights: { weight_infos: [{ role: 'analytics', weight: 2.5 }] } };
    expect((await operatorPost(tm.url, update)).status).toBe(200);
    expect((await call({ type: 'GET_WEIGHTS' })).get_weights.weight_infos).toContainEqual({
      role: 'analytics',
      weight: 2.5,
    });
    const roles = (await call({ type: 'GET_ROLES' })).get_roles.roles as Json[];
    expect(roles.find((r) => r.name === 'analytics')).toMatchObject({
      weight: 2.5,
      frameworks: [{ value: framework.frameworkId }],
    });
    expect(tm.allocation.triggers.at(-1)?.trigger.reason).toBe('PERIODIC');
  });

  it('UPDATE_WEIGHTS refuses bad weights and roles with 400, writing nothing', async () => {
    const bad: Array<[unknown, RegExp]> = [
      [undefined, /Expecting 'update_weights' to be present/],
      [{ weight_infos: [{ role: 'ok', weight: 0 }] }, /weights must be positive/],
      [{ weight_infos: [{ role: 'ok', weight: -1 }] }, /weights must be positive/],
      [{ weight_infos: [{ role: 'ok', weight: 'heavy' }] }, /update_weights\.weight_infos\[0\]\.weight/],
      [{ weight_infos: [{ role: '-bad', weight: 2 }] }, /Invalid role '-bad'/],
      [
        {
          weight_infos: [
            { role: 'ok', weight: 3 },
            { role: 'a b', weight: 2 },
          ],
        },
        /Invalid role 'a b'/,
      ],
    ];
    for (const [payload, reason] of bad) {
      const response = await operatorPost(tm.url, { type: 'UPDATE_WEIGHTS', update_weights: payload });
      expect(response.status, JSON.stringify(payload)).toBe(400);
      expect(response.body).toMatch(reason);
    }
    expect(await tm.master.registrar.roles.get('ok')).toBeUndefined();
  });

  it('UPDATE_QUOTA sets limits and guarantees, and GET_QUOTA answers QuotaStatus', async () => {
    const update = {
      type: 'UPDATE_QUOTA',
      update_quota: {
        quota_configs: [{ role: 'analytics', guarantees: { cpus: { value: 1 } }, limits: { cpus: { value: 6 } } }],
      },
    };
    expect((await operatorPost(tm.url, update)).status).toBe(200);
    const status = (await call({ type: 'GET_QUOTA' })).get_quota.status;
    expect(status.configs).toContainEqual({
      role: 'analytics',
      guarantees: { cpus: { value: 1 } },
      limits: { cpus: { value: 6 } },
    });
    expect(status.infos).toContainEqual({
      role: 'analytics',
      guarantee: [{ name: 'cpus', type: 'SCALAR', scalar: { value: 1 } }],
    });
  });

  it('UPDATE_QUOTA refuses invalid configs, limits under consumption and guarantees over capacity unless forced', async () => {
    const quota = (configs: unknown[], force?: boolean) => ({
      type: 'UPDATE_QUOTA',
      update_quota: { quota_configs: configs, ...(force !== undefined ? { force } : {}) },
    });
    const bad: Array<[unknown, RegExp]> = [
      [quota([{ role: 'x', guarantees: { cpus: { value: 4 } }, limits: { cpus: { value: 2 } } }]), /exceeds its limit/],
      [quota([{ role: 'eng/web', limits: { cpus: { value: 2 } } }]), /nested role/],
      [quota([{ role: 'x', limits: { ports: { value: 2 } } }]), /scalar resources only/],
      [quota([{ role: 'x', limits: { cpus: { value: -1 } } }]), /non-negative/],
      [quota([{ role: 'x', limits: { cpus: 2 } }]), /update_quota\.quota_configs\[0\]\.limits/],
      [quota([{ limits: {} }]), /quota_configs\[0\]\.role/],
      [quota([{ role: 'x' }, { role: 'x' }]), /Duplicate quota config/],
      // analytics runs a task of 1 cpu.
      [quota([{ role: 'analytics', limits: { cpus: { value: 0.5 } } }]), /already consuming 1 cpus/],
      [quota([{ role: 'big', guarantees: { cpus: { value: 100 } } }]), /exceeds the cluster's capacity/],
    ];
    for (const [body, reason] of bad) {
      const response = await operatorPost(tm.url, body);
      expect(response.status, JSON.stringify(body)).toBe(400);
      expect(response.body).toMatch(reason);
    }
    expect(await tm.master.registrar.roles.get('big')).toBeUndefined();
    expect((await tm.master.registrar.roles.get('analytics'))?.quota.limits).toEqual({ cpus: 6 });
    const forced = await operatorPost(tm.url, quota([{ role: 'big', guarantees: { cpus: { value: 100 } } }], true));
    expect(forced.status).toBe(200);
    expect((await tm.master.registrar.roles.get('big'))?.quota.guarantees).toEqual({ cpus: 100 });
  });
});

describe('agents', () => {
  it('DEACTIVATE_AGENT stops offers and rescinds the outstanding ones; REACTIVATE_AGENT undoes it', async () => {
    const spare = await registerAgent(tm, 'cpus:2;mem:1024');
    const made = await offer(tm, framework, spare, 'cpus:1;mem:128', 'analytics');
    const body = { type: 'DEACTIVATE_AGENT', deactivate_agent: { agent_id: { value: spare.agentId } } };
    expect((await operatorPost(tm.url, body)).status).toBe(200);
    await framework.next((e) => e.type === 'RESCIND' && e.rescind?.offer_id.value === made.offerId);
    expect(await agentView(spare.agentId)).toMatchObject({ active: false, deactivated: true, offered_resources: [] });
    expect((await operatorPost(tm.url, body)).status).toBe(200);

    const reactivate = { type: 'REACTIVATE_AGENT', reactivate_agent: { agent_id: { value: spare.agentId } } };
    expect((await operatorPost(tm.url, reactivate)).status).toBe(200);
    expect(await agentView(spare.agentId)).toMatchObject({ active: true, deactivated: false });
    const again = await operatorPost(tm.url, reactivate);
    expect(again.status).toBe(400);
    expect(again.body).toBe('Agent is not deactivated');
  });

  it('refuses unknown agents and malformed agent ids', async () => {
    for (const type of ['DEACTIVATE_AGENT', 'REACTIVATE_AGENT', 'DRAIN_AGENT']) {
      const field = type.toLowerCase();
      const unknown = await operatorPost(tm.url, { type, [field]: { agent_id: { value: 'no-such-agent' } } });
      expect(unknown.status, type).toBe(400);
      expect(unknown.body).toBe('Unknown agent');
      expect((await operatorPost(tm.url, { type, [field]: {} })).status, type).toBe(400);
      expect((await operatorPost(tm.url, { type, [field]: { agent_id: { value: '' } } })).status, type).toBe(400);
      expect((await operatorPost(tm.url, { type })).body).toMatch(`Expecting '${field}' to be present`);
    }
    const gone = await operatorPost(tm.url, {
      type: 'MARK_AGENT_GONE',
      mark_agent_gone: { agent_id: { value: 'no-such-agent' } },
    });
    expect(gone.status).toBe(404);
    const badGrace = await operatorPost(tm.url, {
      type: 'DRAIN_AGENT',
      drain_agent: { agent_id: { value: agent.agentId }, max_grace_period: { seconds: -5 } },
    });
    expect(badGrace.status).toBe(400);
    expect(await agentView(agent.agentId)).toMatchObject({ active: true });
  });

  it('DRAIN_AGENT deactivates the agent and tells it to kill its tasks; it is DRAINED when they are gone', async () => {
    const busy = await registerAgent(tm, 'cpus:2;mem:1024');
    await runTask('t-drain', busy);
    const drain = {
      type: 'DRAIN_AGENT',
      drain_agent: { agent_id: { value: busy.agentId }, max_grace_period: { seconds: 5 } },
    };
    expect((await operatorPost(tm.url, drain)).status).toBe(200);
    expect(await commands(tm, busy)).toContainEqual({ type: 'DRAIN', max_grace_period_seconds: 5, mark_gone: false });
    expect(await agentView(busy.agentId)).toMatchObject({
      active: false,
      deactivated: true,
      drain_info: { state: 'DRAINING', config: { max_grace_period: { nanoseconds: 5e9 }, mark_gone: false } },
    });
    const early = await operatorPost(tm.url, {
      type: 'REACTIVATE_AGENT',
      reactivate_agent: { agent_id: { value: busy.agentId } },
    });
    expect(early.status).toBe(400);
    expect(early.body).toBe('Agent is still in the DRAINING state');

    await sendStatus(tm, busy, framework.frameworkId, {
      task_id: { value: 't-drain' },
      state: 'TASK_KILLED',
      uuid: uuid(),
    });
    await framework.update('t-drain', 'TASK_KILLED');
    await expect.poll(async () => (await agentView(busy.agentId))?.drain_info?.state).toBe('DRAINED');
    const late = { type: 'REACTIVATE_AGENT', reactivate_agent: { agent_id: { value: busy.agentId } } };
    expect((await operatorPost(tm.url, late)).status).toBe(200);
    expect((await agentView(busy.agentId))?.drain_info).toBeUndefined();
  });

  it('DRAIN_AGENT with mark_gone marks an idle agent gone at once', async () => {
    const idle = await registerAgent(tm, 'cpus:1;mem:512');
    const drain = { type: 'DRAIN_AGENT', drain_agent: { agent_id: { value: idle.agentId }, mark_gone: true } };
    expect((await operatorPost(tm.url, drain)).status).toBe(200);
    expect((await tm.master.registrar.agents.get(idle.agentId))?.status).toBe('GONE');
    expect(await agentView(idle.agentId)).toBeUndefined();
  });

  it('MARK_AGENT_GONE ends its tasks as TASK_GONE_BY_OPERATOR, and is idempotent', async () => {
    const doomed = await registerAgent(tm, 'cpus:2;mem:1024');
    await runTask('t-gone', doomed);
    const body = { type: 'MARK_AGENT_GONE', mark_agent_gone: { agent_id: { value: doomed.agentId } } };
    expect((await operatorPost(tm.url, body)).status).toBe(200);
    const status = await framework.update('t-gone', 'TASK_GONE_BY_OPERATOR');
    expect(status.reason).toBe('REASON_AGENT_REMOVED_BY_OPERATOR');
    expect((await tm.master.registrar.agents.get(doomed.agentId))?.status).toBe('GONE');
    expect((await operatorPost(tm.url, body)).status).toBe(200);
  });
});

describe('frameworks', () => {
  it('TEARDOWN removes a framework and kills its tasks; an unknown framework is a 400', async () => {
    const other = await subscribe(tm, { ...FRAMEWORK, name: 'doomed', role: 'analytics' });
    await runTask('t-teardown', agent, other);
    const body = { type: 'TEARDOWN', teardown: { framework_id: { value: other.frameworkId } } };
    expect((await operatorPost(tm.url, body)).status).toBe(200);
    expect(await commands(tm, agent)).toContainEqual({
      type: 'SHUTDOWN_FRAMEWORK',
      framework_id: { value: other.frameworkId },
    });
    const frameworks = (await call({ type: 'GET_FRAMEWORKS' })).get_frameworks;
    expect((frameworks.completed_frameworks as Json[]).map((f) => f.framework_info.id.value)).toContain(
      other.frameworkId,
    );
    expect((frameworks.frameworks as Json[]).map((f) => f.framework_info.id.value)).not.toContain(other.frameworkId);
    expect((await tm.master.registrar.tasks.get(other.frameworkId, 't-teardown'))?.state).toBe('TASK_KILLED');
    const again = await operatorPost(tm.url, body);
    expect(again.status).toBe(400);
    expect(again.body).toBe('No framework found with specified ID');
    expect((await operatorPost(tm.url, { type: 'TEARDOWN', teardown: {} })).status).toBe(400);
    other.close();
  });
});
