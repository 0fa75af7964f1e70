/**
 * The operator API's SUBSCRIBE stream and maintenance calls against DynamoDB Local and the SQS stand-in:
 * every event type as a Mesos operator client reads it, and maintenance from schedule to inverse offers,
 * the frameworks' answers, machines DOWN and back UP (docs/operator.md).
 */
/* eslint-disable @typescript-eslint/no-explicit-any -- responses are read as the JSON a Mesos client sees */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Allocator } from '../../functions/allocator/allocator.js';
import { allocatorConfig } from '../../functions/allocator/config.js';
import { runAllocationPass } from '../../functions/allocation/run-pass.js';
import type { Event } from '#shared/protocol/scheduler.js';
import { RawSubscription } from '../support/http.js';
import { startTestMaster, type TestMaster } from '../support/master.js';
import { basic, operatorGet, operatorPost, SECRET } from '../support/operator.js';
import {
  commandTask,
  launch,
  offer,
  resources,
  sendStatus,
  subscribe,
  uuid,
  type TestFramework,
} from '../support/scheduler.js';

let tm: TestMaster;
const ops = basic('ops');
const fw = basic('team-a');
beforeAll(async () => {
  tm = await startTestMaster({ authenticate: true });
  const principals = tm.master.registrar.principals;
  await principals.create({ principal: 'ops', secret: SECRET, kind: 'operator', roles: [] });
  await principals.create({ principal: 'team-a', secret: SECRET, kind: 'framework', roles: ['*'] });
  await principals.create({ principal: 'agent-1', secret: SECRET, kind: 'agent', roles: [] });
});
afterAll(async () => {
  await tm.close();
});

type OperatorEvent = Record<string, unknown> & { type: string };

async function operatorStream(headers: Record<string, string> = ops): Promise<RawSubscription> {
  const abort = new AbortController();
  const response = await fetch(`${tm.url}/api/v1`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Accept: 'application/json', ...headers },
    body: JSON.stringify({ type: 'SUBSCRIBE' }),
    signal: abort.signal,
  });
  return new RawSubscription(response, abort);
}

const nextOf = (stream: RawSubscription, test: (e: OperatorEvent) => boolean): Promise<OperatorEvent> =>
  stream.next((e) => test(e as unknown as OperatorEvent), 15_000) as unknown as Promise<OperatorEvent>;

async function registerOn(hostname: string, ip: string): Promise<{ status: number; agentId?: string }> {
  const response = await fetch(`${tm.url}/internal/v1/agents/register`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', ...basic('agent-1') },
    body: JSON.stringify({
      hostname,
      ip,
      resources: resources('cpus:4;mem:4096;disk:1000'),
      containerizers: ['mesos'],
      isolation: { cgroups: 'none', gpus: 'none', notes: [] },
      version: 'test',
    }),
  });
  if (response.status !== 200) return { status: response.status };
  const body = (await response.json()) as { agent_id: { value: string }; command_queue_url: string };
  return { status: 200, agentId: body.agent_id.value };
}

async function runningTask(framework: TestFramework, agentId: string, taskId: string): Promise<void> {
  const agent = { agentId, commandQueueUrl: '' };
  const made = await offer(tm, framework, agent, 'cpus:1;mem:128');
  const accepted = await framework.call(
    'ACCEPT',
    launch([made.offerId], [commandTask(taskId, agent, 'cpus:1;mem:128')]),
  );
  expect(accepted.status).toBe(202);
  await sendStatus(tm, agent, framework.frameworkId, {
    task_id: { value: taskId },
    state: 'TASK_RUNNING',
    uuid: Buffer.from(uuid().replace(/-/g, ''), 'hex').toString('base64'),
  });
}

describe('SUBSCRIBE on the operator API', () => {
  it('is for operators: 403 for a framework principal, 401 without credentials', async () => {
    expect((await operatorPost(tm.url, { type: 'SUBSCRIBE' }, fw)).status).toBe(403);
    expect((await operatorPost(tm.url, { type: 'SUBSCRIBE' })).status).toBe(401);
  });

  it('streams SUBSCRIBED with the state, HEARTBEAT, then every kind of change as it happens', async () => {
    const before = await registerOn('before.example', '127.0.0.2');
    const stream = await operatorStream();
    expect(stream.response.status).toBe(200);
    expect(stream.response.headers.get('content-type')).toMatch(/application\/json/);
    const subscribed = await nextOf(stream, (e) => e.type === 'SUBSCRIBED');
    const state = subscribed.subscribed as { get_state: Record<string, any>; heartbeat_interval_seconds: number };
    expect(state.heartbeat_interval_seconds).toBe(1);
    expect(Object.keys(state.get_state).sort()).toEqual(['get_agents', 'get_executors', 'get_frameworks', 'get_tasks']);
    expect(state.get_state.get_agents.agents.map((a: any) => a.agent_info.id.value)).toContain(before.agentId);
    await nextOf(stream, (e) => e.type === 'HEARTBEAT');

    const added = await registerOn('added.example', '127.0.0.3');
    const agentAdded = await nextOf(stream, (e) => e.type === 'AGENT_ADDED');
    expect(agentAdded.agent_added).toMatchObject({
      agent: { agent_info: { id: { value: added.agentId }, hostname: 'added.example' }, active: true },
    });

    const framework = await subscribe(
      tm,
      { user: 'root', name: 'watched', roles: ['*'], principal: 'team-a', capabilities: [{ type: 'MULTI_ROLE' }] },
      { headers: fw },
    );
    const frameworkAdded = await nextOf(stream, (e) => e.type === 'FRAMEWORK_ADDED');
    expect(frameworkAdded.framework_added).toMatchObject({
      framework: {
        framework_info: { id: { value: framework.frameworkId }, name: 'watched' },
        active: true,
        connected: true,
      },
    });

    await runningTask(framework, added.agentId as string, 'watched-1');
    const taskAdded = await nextOf(stream, (e) => e.type === 'TASK_ADDED');
    expect(taskAdded.task_added).toMatchObject({
      task: {
        task_id: { value: 'watched-1' },
        framework_id: { value: framework.frameworkId },
        agent_id: { value: added.agentId },
        state: 'TASK_STAGING',
        name: 'watched-1',
      },
    });
    const taskUpdated = await nextOf(stream, (e) => e.type === 'TASK_UPDATED');
    expect(taskUpdated.task_updated).toMatchObject({
      framework_id: { value: framework.frameworkId },
      state: 'TASK_RUNNING',
      status: { task_id: { value: 'watched-1' }, state: 'TASK_RUNNING' },
    });
    const types = stream.events.map((e) => e.type as string);
    expect(types.indexOf('TASK_ADDED')).toBeLessThan(types.indexOf('TASK_UPDATED'));

    const fleeting = await subscribe(
      tm,
      { user: 'root', name: 'fleeting', roles: ['*'], principal: 'team-a', capabilities: [{ type: 'MULTI_ROLE' }] },
      { headers: fw },
    );
    const isFleeting = (e: OperatorEvent, type: string, field: string) =>
      e.type === type && (e[field] as any)?.framework?.framework_info?.id?.value === fleeting.frameworkId;
    await nextOf(stream, (e) => isFleeting(e, 'FRAMEWORK_ADDED', 'framework_added'));
    fleeting.close();
    const disconnected = await nextOf(stream, (e) => isFleeting(e, 'FRAMEWORK_UPDATED', 'framework_updated'));
    // Its stream broke: no longer connected, still active through the reconnect grace.
    expect(disconnected.framework_updated).toMatchObject({
      framework: { framework_info: { name: 'fleeting' }, connected: false, active: true },
    });

    expect((await framework.call('TEARDOWN')).status).toBe(202);
    const removed = await nextOf(stream, (e) => e.type === 'FRAMEWORK_REMOVED');
    expect(removed.framework_removed).toMatchObject({ framework_info: { id: { value: framework.frameworkId } } });

    await tm.master.registrar.agents.markGone(added.agentId as string);
    const agentRemoved = await nextOf(stream, (e) => e.type === 'AGENT_REMOVED');
    expect(agentRemoved.agent_removed).toEqual({ agent_id: { value: added.agentId } });
    framework.close();
    stream.close();
  });
});

const schedule = (machines: unknown[], start = Date.now()) => ({
  type: 'UPDATE_MAINTENANCE_SCHEDULE',
  update_maintenance_schedule: {
    schedule: {
      windows: [
        {
          machine_ids: machines,
          unavailability: { start: { nanoseconds: start * 1e6 }, duration: { nanoseconds: 3.6e12 } },
        },
      ],
    },
  },
});

describe('maintenance', () => {
  it('refuses bad schedules and machine lists with Mesos reasons, and framework principals', async () => {
    const cases: Array<[unknown, RegExp]> = [
      [schedule([]), /List of machines in the maintenance window is empty/],
      [schedule([{}]), /Both 'hostname' and 'ip' for a machine are empty/],
      [schedule([{ ip: '300.1.1.1' }]), /Failed to parse IP/],
      [schedule([{ hostname: 'A.example' }, { hostname: 'a.example' }]), /appears more than once/],
      [{ type: 'START_MAINTENANCE', start_maintenance: { machines: [] } }, /List of machines is empty/],
      [
        { type: 'START_MAINTENANCE', start_maintenance: { machines: [{ hostname: 'x' }] } },
        /not part of a maintenance schedule/,
      ],
      [{ type: 'UPDATE_MAINTENANCE_SCHEDULE' }, /Expecting 'update_maintenance_schedule' to be present/],
    ];
    for (const [call, reason] of cases) {
      const response = await operatorPost(tm.url, call, ops);
      expect(response.status, JSON.stringify(call)).toBe(400);
      expect(response.body).toMatch(reason);
    }
    const negative = schedule([{ hostname: 'n' }]);
    (negative.update_maintenance_schedule.schedule.windows[0] as any).unavailability.duration.nanoseconds = -1;
    expect((await operatorPost(tm.url, negative, ops)).body).toMatch(/'duration' is negative/);
    for (const type of ['GET_MAINTENANCE_STATUS', 'GET_MAINTENANCE_SCHEDULE']) {
      expect((await operatorPost(tm.url, { type }, fw)).status).toBe(403);
    }
    expect((await operatorPost(tm.url, schedule([{ hostname: 'x' }]), fw)).status).toBe(403);
    expect((await operatorGet(tm.url, { type: 'GET_MAINTENANCE_SCHEDULE' }, ops)).get_maintenance_schedule).toEqual({
      schedule: { windows: [] },
    });
  });

  it('schedule → inverse offers → answers → START (agent down, refused) → STOP (back)', async () => {
    const hostname = 'drain-me.example';
    const ip = '127.0.0.9';
    const { agentId } = await registerOn(hostname, ip);
    const framework = await subscribe(
      tm,
      {
        user: 'root',
        name: 'tenant',
        roles: ['*'],
        principal: 'team-a',
        capabilities: [{ type: 'MULTI_ROLE' }, { type: 'PARTITION_AWARE' }],
      },
      { headers: fw },
    );
    await runningTask(framework, agentId as string, 'long-1');

    const machine = { hostname: 'DRAIN-ME.example', ip };
    expect((await operatorPost(tm.url, schedule([machine]), ops)).status).toBe(200);
    const got = await operatorGet<any>(tm.url, { type: 'GET_MAINTENANCE_SCHEDULE' }, ops);
    expect(got.get_maintenance_schedule.schedule.windows[0].machine_ids).toEqual([{ hostname, ip }]);

    const pass = () =>
      runAllocationPass({
        registrar: tm.master.registrar,
        events: tm.master.events,
        allocator: new Allocator(allocatorConfig({})),
      });
    const first = await pass();
    const inverse = (await framework.next((e) => e.type === 'INVERSE_OFFERS')) as Event;
    const sent = inverse.inverse_offers?.inverse_offers?.[0];
    expect(sent).toMatchObject({
      framework_id: { value: framework.frameworkId },
      agent_id: { value: agentId },
      resources: [],
    });
    expect(sent?.unavailability.start.nanoseconds).toBeGreaterThan(0);
    let status = await operatorGet<any>(tm.url, { type: 'GET_MAINTENANCE_STATUS' }, ops);
    expect(status.get_maintenance_status.status.draining_machines[0]).toMatchObject({
      id: { hostname, ip },
      statuses: [{ status: 'UNKNOWN', framework_id: { value: framework.frameworkId } }],
    });
    // Offers from the draining machine carry the unavailability.
    const offered = first.offers.filter((o) => o.agentId === agentId);
    if (offered.length > 0) {
      const offers = (await framework.next((e) => e.type === 'OFFERS')) as Event;
      expect(offers.offers?.offers?.find((o) => o.agent_id.value === agentId)?.unavailability).toBeDefined();
    }

    const declined = await framework.call('DECLINE_INVERSE_OFFERS', {
      decline_inverse_offers: { inverse_offer_ids: [sent?.id], filters: { refuse_seconds: 3600 } },
    });
    expect(declined.status).toBe(202);
    status = await operatorGet<any>(tm.url, { type: 'GET_MAINTENANCE_STATUS' }, ops);
    expect(status.get_maintenance_status.status.draining_machines[0].statuses).toEqual([
      expect.objectContaining({ status: 'DECLINE', framework_id: { value: framework.frameworkId } }),
    ]);
    // Filtered for an hour: the next pass sends no new inverse offer.
    await pass();
    const count = () => framework.stream.events.filter((e) => e.type === 'INVERSE_OFFERS').length;
    expect(count()).toBe(1);

    // STOP before START: not DOWN.
    const stopEarly = await operatorPost(
      tm.url,
      { type: 'STOP_MAINTENANCE', stop_maintenance: { machines: [machine] } },
      ops,
    );
    expect(stopEarly.status).toBe(400);
    expect(stopEarly.body).toMatch(/not in DOWN mode/);

    expect(
      (await operatorPost(tm.url, { type: 'START_MAINTENANCE', start_maintenance: { machines: [machine] } }, ops))
        .status,
    ).toBe(200);
    await framework.update('long-1', 'TASK_GONE');
    expect((await tm.master.registrar.agents.get(agentId as string))?.status).toBe('GONE');
    status = await operatorGet<any>(tm.url, { type: 'GET_MAINTENANCE_STATUS' }, ops);
    expect(status.get_maintenance_status.status).toEqual({ draining_machines: [], down_machines: [{ hostname, ip }] });
    expect((await registerOn(hostname, ip)).status).toBe(403);
    // A DOWN machine cannot leave the schedule.
    expect((await operatorPost(tm.url, schedule([{ hostname: 'other' }]), ops)).body).toMatch(
      /cannot be removed from the schedule/,
    );

    expect(
      (await operatorPost(tm.url, { type: 'STOP_MAINTENANCE', stop_maintenance: { machines: [machine] } }, ops)).status,
    ).toBe(200);
    status = await operatorGet<any>(tm.url, { type: 'GET_MAINTENANCE_STATUS' }, ops);
    expect(status.get_maintenance_status.status).toEqual({ draining_machines: [], down_machines: [] });
    expect(
      (await operatorGet<any>(tm.url, { type: 'GET_MAINTENANCE_SCHEDULE' }, ops)).get_maintenance_schedule,
    ).toEqual({
      schedule: { windows: [] },
    });
    const back = await registerOn(hostname, ip);
    expect(back.status).toBe(200);
    framework.close();
  });

  it('rescinds an unanswered inverse offer when its machine leaves the schedule (RESCIND_INVERSE_OFFER)', async () => {
    const { agentId } = await registerOn('rescind-me.example', '127.0.0.10');
    const framework = await subscribe(
      tm,
      { user: 'root', name: 'tenant-2', roles: ['*'], principal: 'team-a', capabilities: [{ type: 'MULTI_ROLE' }] },
      { headers: fw },
    );
    await runningTask(framework, agentId as string, 'long-2');
    const pass = () =>
      runAllocationPass({
        registrar: tm.master.registrar,
        events: tm.master.events,
        allocator: new Allocator(allocatorConfig({})),
      });
    expect((await operatorPost(tm.url, schedule([{ hostname: 'rescind-me.example' }]), ops)).status).toBe(200);
    await pass();
    const inverse = (await framework.next((e) => e.type === 'INVERSE_OFFERS')) as Event;
    const id = inverse.inverse_offers?.inverse_offers?.[0]?.id;
    expect(id?.value).toEqual(expect.any(String));

    const cleared = { type: 'UPDATE_MAINTENANCE_SCHEDULE', update_maintenance_schedule: { schedule: { windows: [] } } };
    expect((await operatorPost(tm.url, cleared, ops)).status).toBe(200);
    await pass();
    const rescinded = (await framework.next((e) => e.type === 'RESCIND_INVERSE_OFFER')) as Event;
    expect(rescinded.rescind_inverse_offer).toEqual({ inverse_offer_id: id });
    const status = await operatorGet<any>(tm.url, { type: 'GET_MAINTENANCE_STATUS' }, ops);
    expect(status.get_maintenance_status.status).toEqual({ draining_machines: [], down_machines: [] });
    // Answering a rescinded inverse offer is ignored (202), as Mesos ignores unknown ids.
    const late = await framework.call('ACCEPT_INVERSE_OFFERS', { accept_inverse_offers: { inverse_offer_ids: [id] } });
    expect(late.status).toBe(202);
    framework.close();
  });
});
