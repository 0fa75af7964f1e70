/**
 * Authentication and the authorization matrix: framework A can neither use roles its principal lacks
 * nor touch framework B's offers and tasks; agents and frameworks use only their own APIs.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearerToken } from '../../functions/master/auth.js';
import { post, subscribeRaw } from '../support/http.js';
import { startTestMaster, type TestMaster } from '../support/master.js';
import {
  commands,
  commandTask,
  FRAMEWORK,
  launch,
  offer,
  registerAgent,
  resources,
  subscribe,
  type TestAgent,
  type TestFramework,
} from '../support/scheduler.js';

const SECRET = 'correct-horse-battery-staple';
const basic = (principal: string, secret = SECRET) => ({
  Authorization: `Basic ${Buffer.from(`${principal}:${secret}`).toString('base64')}`,
});

let tm: TestMaster;
let agent: TestAgent;
let a: TestFramework;
let b: TestFramework;

beforeAll(async () => {
  tm = await startTestMaster({ authenticate: true });
  const principals = tm.master.registrar.principals;
  await principals.create({ principal: 'team-a', secret: SECRET, kind: 'framework', roles: ['a'] });
  await principals.create({ principal: 'team-b', secret: SECRET, kind: 'framework', roles: ['b'] });
  await principals.create({ principal: 'agent-1', secret: SECRET, kind: 'agent', roles: [] });
  await principals.create({ principal: 'agent-2', secret: SECRET, kind: 'agent', roles: [] });
  agent = await registerAgent(tm, 'cpus:8;mem:8192', basic('agent-1'));
  a = await subscribe(tm, { ...FRAMEWORK, role: 'a' }, { headers: basic('team-a') });
  b = await subscribe(tm, { ...FRAMEWORK, role: 'b' }, { headers: basic('team-b') });
});
afterAll(async () => {
  a.close();
  b.close();
  await tm.close();
});

describe('authentication', () => {
  it('answers 401 with a Basic challenge without valid credentials, and accepts Bearer tokens', async () => {
    const body = { type: 'SUBSCRIBE', subscribe: { framework_info: { ...FRAMEWORK, role: 'a' } } };
    const none = await post(tm.url, body);
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toBe('Basic realm="mesos-master-scheduler"');
    expect((await post(tm.url, body, basic('team-a', 'wrong-secret-wrong-secret'))).status).toBe(401);
    expect((await post(tm.url, body, basic('nobody'))).status).toBe(401);
    expect((await post(tm.url, body, { Authorization: 'Digest abc' })).status).toBe(401);
    const bearer = await subscribeRaw(tm.url, body, {
      Authorization: `Bearer ${bearerToken({ principal: 'team-a', secret: SECRET })}`,
    });
    expect(bearer.response.status).toBe(200);
    expect((await bearer.next((e) => e.type === 'SUBSCRIBED' || e.type === 'ERROR')).type).toBe('SUBSCRIBED');
    bearer.close();
  });

  it('keeps agents and frameworks to their own APIs', async () => {
    const asAgent = await post(
      tm.url,
      { type: 'SUBSCRIBE', subscribe: { framework_info: FRAMEWORK } },
      basic('agent-1'),
    );
    expect(asAgent.status).toBe(403);
    await expect(registerAgent(tm, 'cpus:1;mem:64', basic('team-a'))).rejects.toThrow(/403/);
    await expect(registerAgent(tm, 'cpus:1;mem:64')).rejects.toThrow(/401/);
    // An agent principal may re-register only the agents it registered.
    const reregister = (headers: Record<string, string>) =>
      fetch(`${tm.url}/internal/v1/agents/register`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', ...headers },
        body: JSON.stringify({
          agent_id: { value: agent.agentId },
          hostname: 'again.local',
          resources: resources('cpus:8;mem:8192'),
          containerizers: ['mesos'],
          isolation: { cgroups: 'none', gpus: 'none', notes: [] },
          version: 'test',
        }),
      });
    const stolen = await reregister(basic('agent-2'));
    expect(stolen.status).toBe(400);
    expect(await stolen.text()).toMatch(/registered by another principal/);
    expect((await reregister(basic('agent-1'))).status).toBe(200);
  });
});

describe('authorization', () => {
  it('refuses roles the principal may not use, and a FrameworkInfo naming another principal', async () => {
    const stream = await subscribeRaw(
      tm.url,
      { type: 'SUBSCRIBE', subscribe: { framework_info: { ...FRAMEWORK, role: 'b' } } },
      basic('team-a'),
    );
    expect((await stream.next((e) => e.type === 'ERROR')).error?.message).toMatch(/Not authorized to use role 'b'/);
    await stream.untilEnded();
    const named = await post(
      tm.url,
      { type: 'SUBSCRIBE', subscribe: { framework_info: { ...FRAMEWORK, role: 'a', principal: 'team-b' } } },
      basic('team-a'),
    );
    expect(named.status).toBe(400);
    expect(named.body).toMatch(/does not match principal/);
  });

  it('does not let A take over B by subscribing with its id', async () => {
    const hijack = await subscribeRaw(
      tm.url,
      {
        type: 'SUBSCRIBE',
        framework_id: { value: b.frameworkId },
        subscribe: { framework_info: { ...FRAMEWORK, role: 'a', id: { value: b.frameworkId } } },
      },
      basic('team-a'),
    );
    expect((await hijack.next((e) => e.type === 'ERROR')).error?.message).toMatch(/principal/);
    expect((await b.call('REVIVE')).status).toBe(202); // B is still subscribed on its stream
  });

  it('does not let A act for B, even with B s stream id', async () => {
    const asB = await post(
      tm.url,
      { type: 'TEARDOWN', framework_id: { value: b.frameworkId } },
      { ...basic('team-a'), 'Mesos-Stream-Id': b.streamId },
    );
    expect(asB.status).toBe(400);
    expect(asB.body).toMatch(/does not match principal/);
    expect((await tm.master.registrar.frameworks.get(b.frameworkId))?.status).toBe('SUBSCRIBED');
  });

  it('does not let A accept or decline B s offers, or kill, acknowledge or reconcile B s tasks', async () => {
    const bOffer = await offer(tm, b, agent, 'cpus:2;mem:256', 'b');
    await a.call('ACCEPT', launch([bOffer.offerId], [commandTask('stolen', agent, 'cpus:1;mem:64')]));
    expect((await a.update('stolen', 'TASK_DROPPED')).reason).toBe('REASON_INVALID_OFFERS');
    await a.call('DECLINE', { decline: { offer_ids: [{ value: bOffer.offerId }] } });
    expect((await tm.master.registrar.agents.get(agent.agentId))?.offers[bOffer.offerId]).toBeDefined();
    expect(await commands(tm, agent, 0)).toEqual([]);

    await b.call('ACCEPT', launch([bOffer.offerId], [commandTask('b-task', agent, 'cpus:1;mem:64')]));
    await commands(tm, agent);
    await a.call('KILL', { kill: { task_id: { value: 'b-task' }, agent_id: { value: agent.agentId } } });
    expect((await a.update('b-task', 'TASK_GONE')).reason).toBe('REASON_RECONCILIATION');
    await a.call('ACKNOWLEDGE', {
      acknowledge: {
        agent_id: { value: agent.agentId },
        task_id: { value: 'b-task' },
        uuid: Buffer.alloc(16, 1).toString('base64'),
      },
    });
    expect(await commands(tm, agent, 0)).toEqual([]);
    expect((await tm.master.registrar.tasks.get(b.frameworkId, 'b-task'))?.state).toBe('TASK_STAGING');
    await a.call('RECONCILE', { reconcile: { tasks: [{ task_id: { value: 'b-task' } }] } });
    expect((await a.update('b-task', 'TASK_UNKNOWN')).reason).toBe('REASON_RECONCILIATION');
    expect(b.stream.events.some((e) => e.type === 'UPDATE' && e.update?.status.task_id.value === 'stolen')).toBe(false);
  });
});
