/**
 * The legacy read endpoints (Mesos v0 JSON) and the master's own operator calls (GET_FLAGS, GET_MASTER,
 * GET_METRICS, the logging level), against a master with authentication on: operators read them,
 * frameworks are refused.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestMaster, type TestMaster } from '../support/master.js';
import { basic, legacyGet, operatorGet, operatorPost, SECRET } from '../support/operator.js';
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
const ops = basic('ops');

beforeAll(async () => {
  tm = await startTestMaster({ authenticate: true });
  const principals = tm.master.registrar.principals;
  await principals.create({ principal: 'ops', secret: SECRET, kind: 'operator', roles: [] });
  await principals.create({ principal: 'team-a', secret: SECRET, kind: 'framework', roles: ['a'] });
  await principals.create({ principal: 'agent-1', secret: SECRET, kind: 'agent', roles: [] });
  agent = await registerAgent(tm, 'cpus:4;mem:4096;ports:[31000-31009]', basic('agent-1'));
  framework = await subscribe(tm, { ...FRAMEWORK, role: 'a', principal: 'team-a' }, { headers: basic('team-a') });
  const made = await offer(tm, framework, agent, 'cpus:1;mem:128', 'a');
  expect((await framework.call('ACCEPT', launch([made.offerId], [commandTask('web-1', agent)]))).status).toBe(202);
  await commands(tm, agent);
  await sendStatus(tm, agent, framework.frameworkId, {
    task_id: { value: 'web-1' },
    state: 'TASK_RUNNING',
    uuid: uuid(),
  });
  await framework.update('web-1', 'TASK_RUNNING');
});
afterAll(async () => {
  framework.close();
  await tm.close();
});

const PATHS = [
  '/master/state',
  '/state',
  '/master/state-summary',
  '/master/frameworks',
  '/frameworks',
  '/master/slaves',
  '/slaves',
  '/master/tasks',
  '/tasks',
  '/master/roles',
  '/roles',
  '/flags',
  '/master/flags',
  '/version',
  '/metrics/snapshot',
];

describe('the legacy endpoints', () => {
  it('are for operators: 401 without credentials, 403 for a framework', async () => {
    for (const path of PATHS) {
      expect((await legacyGet(tm.url, path)).status, path).toBe(401);
      expect((await legacyGet(tm.url, path, basic('team-a'))).status, path).toBe(403);
      const read = await legacyGet(tm.url, path, ops);
      expect(read.status, path).toBe(200);
      expect(read.headers.get('content-type'), path).toMatch(/^application\/json/);
    }
    expect((await legacyGet(tm.url, '/master/health')).status).toBe(200);
  });

  it('/master/state has Mesos v0 field names', async () => {
    const state = (await legacyGet(tm.url, '/master/state', ops)).json as Json;
    expect(state).toMatchObject({
      activated_slaves: 1,
      deactivated_slaves: 0,
      unreachable_slaves: 0,
      orphan_tasks: [],
    });
    expect(state.version).toEqual(expect.any(String));
    expect(state.flags.authenticate_http_frameworks).toBe('true');
    const slave = state.slaves[0];
    expect(slave).toMatchObject({ id: agent.agentId, active: true, deactivated: false });
    expect(slave.resources).toMatchObject({ cpus: 4, mem: 4096, ports: '[31000-31009]' });
    expect(slave.used_resources).toMatchObject({ cpus: 1, mem: 128 });
    const fw = state.frameworks[0];
    expect(fw).toMatchObject({
      id: framework.frameworkId,
      name: FRAMEWORK.name,
      active: true,
      role: 'a',
      principal: 'team-a',
    });
    expect(fw.tasks[0]).toMatchObject({
      id: 'web-1',
      framework_id: framework.frameworkId,
      slave_id: agent.agentId,
      state: 'TASK_RUNNING',
      resources: { cpus: 1, mem: 128 },
      role: 'a',
    });
    expect(fw.tasks[0].statuses[0].state).toBe('TASK_RUNNING');
    expect(state.completed_frameworks).toEqual([]);
  });

  it('/master/state-summary counts tasks per agent and framework', async () => {
    const summary = (await legacyGet(tm.url, '/master/state-summary', ops)).json as Json;
    expect(summary).toMatchObject({ hostname: tm.master.config.cluster, cluster: tm.master.config.cluster });
    expect(summary.slaves[0]).toMatchObject({
      id: agent.agentId,
      TASK_RUNNING: 1,
      framework_ids: [framework.frameworkId],
    });
    expect(summary.frameworks[0]).toMatchObject({
      id: framework.frameworkId,
      TASK_RUNNING: 1,
      slave_ids: [agent.agentId],
    });
  });

  it('/master/tasks pages and filters, and refuses a bad query', async () => {
    const all = (await legacyGet(tm.url, '/master/tasks', ops)).json as Json;
    expect(all.tasks.map((t: Json) => t.id)).toEqual(['web-1']);
    expect(((await legacyGet(tm.url, '/master/tasks?offset=1', ops)).json as Json).tasks).toEqual([]);
    expect(((await legacyGet(tm.url, '/master/tasks?framework_id=other', ops)).json as Json).tasks).toEqual([]);
    const own = (await legacyGet(tm.url, `/master/tasks?framework_id=${framework.frameworkId}`, ops)).json as Json;
    expect(own.tasks.map((t: Json) => [t.id, t.framework_id, t.slave_id])).toEqual([
      ['web-1', framework.frameworkId, agent.agentId],
    ]);
    expect((await legacyGet(tm.url, '/master/tasks?limit=-1', ops)).status).toBe(400);
    expect((await legacyGet(tm.url, '/master/tasks?order=sideways', ops)).status).toBe(400);
    for (const order of ['asc', 'des', 'desc']) {
      const ordered = (await legacyGet(tm.url, `/master/tasks?order=${order}`, ops)).json as Json;
      expect(
        ordered.tasks.map((t: Json) => t.id),
        order,
      ).toEqual(['web-1']);
    }
  });

  it('/master/slaves, /master/frameworks, /master/roles, /flags and /version', async () => {
    const slaves = (await legacyGet(tm.url, '/master/slaves', ops)).json as Json;
    expect(slaves.slaves.map((s: Json) => s.id)).toEqual([agent.agentId]);
    expect(slaves.recovered_slaves).toEqual([]);
    const frameworks = (await legacyGet(tm.url, '/master/frameworks', ops)).json as Json;
    expect(frameworks.frameworks.map((f: Json) => f.id)).toEqual([framework.frameworkId]);
    const roles = (await legacyGet(tm.url, '/master/roles', ops)).json as Json;
    expect(roles.roles).toContainEqual(
      expect.objectContaining({ name: 'a', weight: 1, frameworks: [framework.frameworkId] }),
    );
    const flags = (await legacyGet(tm.url, '/flags', ops)).json as Json;
    expect(flags.flags.offer_timeout).toBe('120secs');
    expect(((await legacyGet(tm.url, '/version', ops)).json as Json).version).toEqual(expect.any(String));
  });

  it("filters /master/slaves by slave_id and /master/frameworks by framework_id, as Mesos's query parameters do", async () => {
    const one = (await legacyGet(tm.url, `/master/slaves?slave_id=${agent.agentId}`, ops)).json as Json;
    expect(one.slaves.map((s: Json) => s.id)).toEqual([agent.agentId]);
    expect(((await legacyGet(tm.url, '/slaves?slave_id=no-such-agent', ops)).json as Json).slaves).toEqual([]);
    const mine = (await legacyGet(tm.url, `/master/frameworks?framework_id=${framework.frameworkId}`, ops))
      .json as Json;
    expect(mine.frameworks.map((f: Json) => f.id)).toEqual([framework.frameworkId]);
    const none = (await legacyGet(tm.url, '/frameworks?framework_id=no-such-framework', ops)).json as Json;
    expect(none).toEqual({ frameworks: [], completed_frameworks: [], unregistered_frameworks: [] });
  });
});

describe("the master's own calls", () => {
  it('GET_FLAGS, GET_MASTER and GET_METRICS answer Mesos shapes', async () => {
    const flags = (await operatorGet<Json>(tm.url, { type: 'GET_FLAGS' }, ops)).get_flags.flags as Json[];
    expect(flags).toContainEqual({ name: 'authenticate_http_frameworks', value: 'true' });
    const masterInfo = (await operatorGet<Json>(tm.url, { type: 'GET_MASTER' }, ops)).get_master;
    expect(masterInfo.master_info).toMatchObject({ id: expect.any(String), port: 5050 });
    expect(masterInfo.start_time).toBeGreaterThan(0);
    const metrics = await operatorGet<Json>(tm.url, { type: 'GET_METRICS', get_metrics: {} }, ops);
    expect(metrics.get_metrics.metrics.length).toBeGreaterThan(0);
    for (const metric of metrics.get_metrics.metrics as Json[]) {
      expect(Object.keys(metric).sort()).toEqual(['name', 'value']);
      expect(typeof metric.value).toBe('number');
    }
    const snapshot = (await legacyGet(tm.url, '/metrics/snapshot', ops)).json as Json;
    for (const metric of metrics.get_metrics.metrics as Json[]) expect(snapshot).toHaveProperty([metric.name]);
    expect((await operatorPost(tm.url, { type: 'GET_METRICS' }, ops)).body).toMatch(/'get_metrics' to be present/);
  });

  it('SET_LOGGING_LEVEL is stored in the registrar and lapses after its duration', async () => {
    expect((await operatorGet<Json>(tm.url, { type: 'GET_LOGGING_LEVEL' }, ops)).get_logging_level).toEqual({
      level: 0,
    });
    const set = { type: 'SET_LOGGING_LEVEL', set_logging_level: { level: 1, duration: { nanoseconds: 60e9 } } };
    expect((await operatorPost(tm.url, set, ops)).status).toBe(200);
    expect((await operatorGet<Json>(tm.url, { type: 'GET_LOGGING_LEVEL' }, ops)).get_logging_level).toEqual({
      level: 1,
    });
    expect((await tm.master.registrar.settings.loggingLevel())?.level).toBe(1);
    tm.advance(61_000);
    expect((await operatorGet<Json>(tm.url, { type: 'GET_LOGGING_LEVEL' }, ops)).get_logging_level).toEqual({
      level: 0,
    });
    for (const bad of [
      { level: -1, duration: { nanoseconds: 1e9 } },
      { level: 1 },
      { level: 1, duration: { nanoseconds: 0 } },
      { level: 'loud', duration: { nanoseconds: 1e9 } },
    ]) {
      const response = await operatorPost(tm.url, { type: 'SET_LOGGING_LEVEL', set_logging_level: bad }, ops);
      expect(response.status, JSON.stringify(bad)).toBe(400);
    }
    expect((await operatorPost(tm.url, set, basic('team-a'))).status).toBe(403);
  });
});
