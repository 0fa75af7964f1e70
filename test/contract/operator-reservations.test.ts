/**
 * RESERVE_RESOURCES, UNRESERVE_RESOURCES, CREATE_VOLUMES and DESTROY_VOLUMES against a master on DynamoDB
 * Local and the SQS stand-in, with authentication on: Mesos's answers (202; 400 for bad input and an
 * unknown agent; 409 when the agent does not have the resources unallocated; 403 for a principal that is
 * not an operator), outstanding offers rescinded to free what a conversion takes, the views in Mesos's
 * field names, and no refused call (nor a race of many) leaving the agent's total wrong.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Resource } from '#shared/protocol/mesos.js';
import { add, contains, equals, pushReservation, subtract } from '#shared/resources/resources.js';
import type { AgentRecord } from '../../functions/registrar/index.js';
import { startTestMaster, type TestMaster } from '../support/master.js';
import { basic, legacyGet, operatorGet, operatorPost, SECRET } from '../support/operator.js';
import {
  commands,
  FRAMEWORK,
  offer,
  registerAgent,
  resources,
  subscribe,
  type TestAgent,
  type TestFramework,
} from '../support/scheduler.js';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

let tm: TestMaster;
let framework: TestFramework;
const ops = basic('ops');

/** `text` dynamically reserved for `role` by `principal` (the operator's, unless told; null: none). */
function reserved(text: string, role = 'a', principal: string | null = 'ops'): Resource[] {
  return pushReservation(resources(text), { role, ...(principal ? { principal } : {}) });
}

/** A persistent volume of `mb` MB of disk reserved for `role`, created by `principal` (null: none). */
function volume(id: string, mb: number, role = 'a', principal: string | null = 'ops'): Resource {
  const [disk] = reserved(`disk:${mb}`, role, 'ops');
  return {
    ...(disk as Resource),
    disk: { persistence: { id, ...(principal ? { principal } : {}) }, volume: { container_path: 'data', mode: 'RW' } },
  };
}

function post(type: string, field: string, payload: Json, headers = ops) {
  return operatorPost(tm.url, { type, [field]: payload }, headers);
}

const reserve = (agent: TestAgent, resources: Resource[], headers = ops) =>
  post('RESERVE_RESOURCES', 'reserve_resources', { agent_id: { value: agent.agentId }, resources }, headers);
const unreserve = (agent: TestAgent, resources: Resource[], headers = ops) =>
  post('UNRESERVE_RESOURCES', 'unreserve_resources', { agent_id: { value: agent.agentId }, resources }, headers);
const create = (agent: TestAgent, volumes: Resource[], headers = ops) =>
  post('CREATE_VOLUMES', 'create_volumes', { agent_id: { value: agent.agentId }, volumes }, headers);
const destroy = (agent: TestAgent, volumes: Resource[], headers = ops) =>
  post('DESTROY_VOLUMES', 'destroy_volumes', { agent_id: { value: agent.agentId }, volumes }, headers);

async function total(agent: TestAgent): Promise<Resource[]> {
  return (await tm.master.registrar.agents.get(agent.agentId))?.total ?? [];
}

async function recordOf(agent: TestAgent): Promise<AgentRecord> {
  const record = await tm.master.registrar.agents.get(agent.agentId);
  if (!record) throw new Error(`no agent ${agent.agentId}`);
  return record;
}

async function newAgent(text = 'cpus:8;mem:8192;disk:1000'): Promise<TestAgent> {
  return registerAgent(tm, text, basic('agents'));
}

beforeAll(async () => {
  tm = await startTestMaster({ authenticate: true });
  const principals = tm.master.registrar.principals;
  await principals.create({ principal: 'ops', secret: SECRET, kind: 'operator', roles: [] });
  await principals.create({ principal: 'team-a', secret: SECRET, kind: 'framework', roles: ['a'] });
  await principals.create({ principal: 'agents', secret: SECRET, kind: 'agent', roles: [] });
  framework = await subscribe(tm, { ...FRAMEWORK, role: 'a', principal: 'team-a' }, { headers: basic('team-a') });
});
afterAll(async () => {
  framework.close();
  await tm.close();
});

describe('RESERVE_RESOURCES and UNRESERVE_RESOURCES', () => {
  it('reserve for a role (202), shown in GET_AGENTS and /master/slaves, then unreserve back to the pool', async () => {
    const agent = await newAgent();
    const before = tm.allocation.triggers.length;
    const response = await reserve(agent, reserved('cpus:2;mem:512'));
    expect(response.status, response.body).toBe(202);
    expect(response.body).toBe('');
    expect(contains(await total(agent), reserved('cpus:2;mem:512'))).toBe(true);
    expect(tm.allocation.triggers.slice(before).map((t) => t.trigger.agentIds)).toContainEqual([agent.agentId]);

    const agents = (await operatorGet<Json>(tm.url, { type: 'GET_AGENTS' }, ops)).get_agents.agents as Json[];
    const view = agents.find((a) => a.agent_info.id.value === agent.agentId);
    expect(view?.total_resources).toContainEqual(
      expect.objectContaining({
        name: 'cpus',
        scalar: { value: 2 },
        reservations: [{ type: 'DYNAMIC', role: 'a', principal: 'ops' }],
      }),
    );
    const slaves = (await legacyGet(tm.url, '/master/slaves', ops)).json as Json;
    const slave = (slaves.slaves as Json[]).find((s) => s.id === agent.agentId);
    expect(slave?.reserved_resources.a).toMatchObject({ cpus: 2, mem: 512 });
    expect(slave?.unreserved_resources).toMatchObject({ cpus: 6, mem: 7680 });

    expect((await unreserve(agent, reserved('cpus:2;mem:512'))).status).toBe(202);
    expect(equals(await total(agent), resources('cpus:8;mem:8192;disk:1000'))).toBe(true);
  });

  it('refines and moves a reservation with `source` (Mesos reservation update)', async () => {
    const agent = await newAgent();
    expect((await reserve(agent, reserved('cpus:2'))).status).toBe(202);
    const moved = await post('RESERVE_RESOURCES', 'reserve_resources', {
      agent_id: { value: agent.agentId },
      source: reserved('cpus:2'),
      resources: reserved('cpus:2', 'b'),
    });
    expect(moved.status, moved.body).toBe(202);
    expect(contains(await total(agent), reserved('cpus:2', 'b'))).toBe(true);
    expect(contains(await total(agent), reserved('cpus:1', 'a'))).toBe(false);
  });

  it('answers 400 to bad input and an unknown agent, and changes nothing', async () => {
    const agent = await newAgent();
    const cases: Array<[Promise<{ status: number; body: string }>, RegExp]> = [
      [reserve(agent, [{ name: 'cpus', type: 'SCALAR', scalar: { value: -1 } }]), /Invalid resources/],
      [reserve(agent, resources('cpus:1')), /dynamic reservation/],
      [reserve(agent, []), /none given/],
      [reserve(agent, reserved('cpus:1', 'a', null)), /no principal set/],
      [reserve(agent, reserved('cpus:1', 'a', 'someone-else')), /does not match/],
      [
        reserve(agent, [{ ...(reserved('cpus:1')[0] as Resource), allocation_info: { role: 'a' } }]),
        /allocated resource/,
      ],
      [unreserve(agent, resources('cpus:1')), /Only dynamically reserved/],
      [post('RESERVE_RESOURCES', 'reserve_resources', { resources: reserved('cpus:1') }), /agent_id/],
      [reserve({ agentId: 'no-such-agent', commandQueueUrl: '' }, reserved('cpus:1')), /No agent found/],
      [unreserve({ agentId: 'no-such-agent', commandQueueUrl: '' }, reserved('cpus:1')), /No agent found/],
    ];
    for (const [call, why] of cases) {
      const response = await call;
      expect(response.status, `${why}: ${response.body}`).toBe(400);
      expect(response.body).toMatch(why);
    }
    expect(equals(await total(agent), resources('cpus:8;mem:8192;disk:1000'))).toBe(true);
  });

  it('answers 409 when the agent does not have the resources unreserved or unallocated', async () => {
    const agent = await newAgent();
    const more = await reserve(agent, reserved('cpus:9'));
    expect(more.status).toBe(409);
    expect(more.body).toMatch(/does not have the resources/);
    expect((await unreserve(agent, reserved('cpus:1'))).status).toBe(409);
    // Tasks hold 6 cpus: 2 are left to reserve; offers, unlike tasks, would have been rescinded.
    const made = await tm.master.registrar.agents.createOffers(await recordOf(agent), [
      { frameworkId: framework.frameworkId, role: 'a', resources: resources('cpus:6;mem:64') },
    ]);
    if (!made.ok) throw new Error(made.error.message);
    const accepted = await tm.master.registrar.agents.acceptOffers({
      agentId: agent.agentId,
      frameworkId: framework.frameworkId,
      offers: made.value.offers,
      launches: [{ taskId: 'holds-6', resources: resources('cpus:6;mem:64') }],
      launchId: 'l-1',
    });
    expect(accepted.ok).toBe(true);
    const held = await reserve(agent, reserved('cpus:3'));
    expect(held.status).toBe(409);
    expect(held.body).toMatch(/tasks hold them/);
    expect((await reserve(agent, reserved('cpus:2'))).status).toBe(202);
  });

  it('rescinds only the outstanding offers that hold what the reservation needs', async () => {
    const agent = await newAgent('cpus:4;mem:4096');
    const cpus = await offer(tm, framework, agent, 'cpus:4', 'a');
    const mem = await offer(tm, framework, agent, 'mem:1024', 'a');
    const response = await reserve(agent, reserved('cpus:1'));
    expect(response.status, response.body).toBe(202);
    const rescind = await framework.next((e) => e.type === 'RESCIND');
    expect(rescind.rescind?.offer_id.value).toBe(cpus.offerId);
    const record = await tm.master.registrar.agents.get(agent.agentId);
    expect(Object.keys(record?.offers ?? {})).toEqual([mem.offerId]);
    expect(contains(record?.total ?? [], add(reserved('cpus:1'), resources('cpus:3;mem:4096')))).toBe(true);
  });

  it('refuses principals that are not operators (403) and anonymous callers (401)', async () => {
    const agent = await newAgent();
    expect((await reserve(agent, reserved('cpus:1', 'a', 'team-a'), basic('team-a'))).status).toBe(403);
    expect((await reserve(agent, reserved('cpus:1', 'a', 'agents'), basic('agents'))).status).toBe(403);
    expect((await create(agent, [volume('v', 10)], basic('team-a'))).status).toBe(403);
    expect((await reserve(agent, reserved('cpus:1'), {})).status).toBe(401);
    expect(equals(await total(agent), resources('cpus:8;mem:8192;disk:1000'))).toBe(true);
  });

  it('keeps the total right under a race of reservations and offers: exactly what fits is reserved', async () => {
    const agent = await newAgent('cpus:4;mem:1024');
    const record = await recordOf(agent);
    const [answers] = await Promise.all([
      Promise.all(Array.from({ length: 8 }, () => reserve(agent, reserved('cpus:1')))),
      tm.master.registrar.agents.createOffers(record, [
        { frameworkId: framework.frameworkId, role: 'a', resources: resources('cpus:2') },
      ]),
    ]);
    const statuses = answers.map((answer) => answer.status).sort();
    expect(statuses).toEqual([202, 202, 202, 202, 409, 409, 409, 409]);
    const after = await tm.master.registrar.agents.get(agent.agentId);
    expect(equals(after?.total ?? [], add(reserved('cpus:4'), resources('mem:1024')))).toBe(true);
    // Whatever offer survived holds only what is still free: no resource is both reserved and offered.
    const offered = Object.values(after?.offers ?? {}).flatMap((o) => o.resources);
    expect(contains(subtract(after?.total ?? [], reserved('cpus:4')), offered.map(unallocated))).toBe(true);
  });
});

function unallocated(resource: Resource): Resource {
  const { allocation_info: _a, ...rest } = resource;
  return rest;
}

describe('CREATE_VOLUMES and DESTROY_VOLUMES', () => {
  it('creates a volume on reserved disk (202), refuses bad ones, and destroys it (202, the agent told)', async () => {
    const agent = await newAgent();
    expect((await reserve(agent, reserved('disk:300'))).status).toBe(202);
    const made = await create(agent, [volume('v1', 100)]);
    expect(made.status, made.body).toBe(202);
    expect(contains(await total(agent), [volume('v1', 100)])).toBe(true);
    const slaves = (await legacyGet(tm.url, '/master/slaves', ops)).json as Json;
    const full = (slaves.slaves as Json[]).find((s) => s.id === agent.agentId)?.reserved_resources_full.a as Json[];
    expect(full).toContainEqual(
      expect.objectContaining({
        disk: expect.objectContaining({ persistence: expect.objectContaining({ id: 'v1' }) }),
      }),
    );

    const bad: Array<[Resource[], number, RegExp]> = [
      [[volume('v1', 10)], 400, /already in use/],
      [[volume('v2', 10, 'a', null)], 400, /no principal set/],
      [[{ ...(resources('disk:10')[0] as Resource), disk: volume('v3', 10).disk }], 400, /unreserved/],
      [reserved('disk:10'), 400, /Only persistent volumes/],
      [[volume('v4', 500)], 409, /does not have the resources/],
    ];
    for (const [volumes, status, why] of bad) {
      const response = await create(agent, volumes);
      expect(response.status, `${why}: ${response.body}`).toBe(status);
      expect(response.body).toMatch(why);
    }
    expect((await destroy(agent, [volume('nope', 100)])).body).toMatch(/Persistent volumes not found/);
    expect((await unreserve(agent, [volume('v1', 100)])).status).toBe(400);

    await commands(tm, agent, 0);
    expect((await destroy(agent, [volume('v1', 100)])).status).toBe(202);
    expect(await commands(tm, agent)).toContainEqual({
      type: 'DESTROY_VOLUMES',
      volumes: [{ role: 'a', persistence_id: 'v1' }],
    });
    expect(contains(await total(agent), reserved('disk:300'))).toBe(true);
  });

  it('refuses to destroy a volume a task uses (400, as Mesos: "Persistent volumes in use")', async () => {
    const agent = await newAgent();
    expect((await reserve(agent, reserved('disk:100'))).status).toBe(202);
    expect((await create(agent, [volume('busy', 100)])).status).toBe(202);
    const made = await tm.master.registrar.agents.createOffers(await recordOf(agent), [
      { frameworkId: framework.frameworkId, role: 'a', resources: [volume('busy', 100), ...resources('cpus:1')] },
    ]);
    if (!made.ok) throw new Error(made.error.message);
    const launched = await tm.master.registrar.agents.acceptOffers({
      agentId: agent.agentId,
      frameworkId: framework.frameworkId,
      offers: made.value.offers,
      launches: [{ taskId: 'uses-volume', resources: [volume('busy', 100), ...resources('cpus:1')] }],
      launchId: 'l-2',
    });
    expect(launched.ok).toBe(true);
    const response = await destroy(agent, [volume('busy', 100)]);
    expect(response.status).toBe(400);
    expect(response.body).toMatch(/Persistent volumes in use/);
    expect(contains(await total(agent), [volume('busy', 100)])).toBe(true);
  });
});
