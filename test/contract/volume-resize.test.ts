/**
 * GROW_VOLUME and SHRINK_VOLUME against a master on DynamoDB Local and the SQS stand-in, with
 * authentication on: through a framework's ACCEPT (OPERATION_FINISHED / OPERATION_ERROR with Mesos's
 * messages) and through the operator API (202; 400 for bad input; 409 when the disk to grow with is not
 * free), the agent's total converted, and nothing changed by a refusal.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Operation, Resource } from '#shared/protocol/mesos.js';
import { allocate, contains, equals, pushReservation } from '#shared/resources/resources.js';
import type { OfferRecord } from '../../functions/registrar/index.js';
import { startTestMaster, type TestMaster } from '../support/master.js';
import { basic, operatorPost, SECRET } from '../support/operator.js';
import {
  FRAMEWORK,
  registerAgent,
  resources,
  subscribe,
  type TestAgent,
  type TestFramework,
} from '../support/scheduler.js';

type Json = Record<string, unknown>;

let tm: TestMaster;
let framework: TestFramework;
const ops = basic('ops');

function reserved(text: string, role = 'a'): Resource[] {
  return pushReservation(resources(text), { role, principal: 'ops' });
}

function volume(id: string, mb: number, role = 'a'): Resource {
  const [disk] = reserved(`disk:${mb}`, role);
  return {
    ...(disk as Resource),
    disk: { persistence: { id, principal: 'ops' }, volume: { container_path: 'data', mode: 'RW' } },
  };
}

function post(type: string, field: string, payload: Json) {
  return operatorPost(tm.url, { type, [field]: payload }, ops);
}

async function total(agent: TestAgent): Promise<Resource[]> {
  return (await tm.master.registrar.agents.get(agent.agentId))?.total ?? [];
}

/** An agent with `disk:300` reserved for `a` and the volume `v1` of 100 MB on it (made by the operator). */
async function agentWithVolume(capabilities = ['RESIZE_VOLUME']): Promise<TestAgent> {
  const agent = await registerAgent(tm, 'cpus:8;mem:8192;disk:1000', basic('agents'), capabilities);
  const id = { value: agent.agentId };
  expect(
    (await post('RESERVE_RESOURCES', 'reserve_resources', { agent_id: id, resources: reserved('disk:300') })).status,
  ).toBe(202);
  expect((await post('CREATE_VOLUMES', 'create_volumes', { agent_id: id, volumes: [volume('v1', 100)] })).status).toBe(
    202,
  );
  return agent;
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

describe('GROW_VOLUME and SHRINK_VOLUME through a framework', () => {
  async function offerAll(
    agent: TestAgent,
    offered: Resource[] = [volume('v1', 100), ...reserved('disk:200')],
  ): Promise<OfferRecord> {
    const record = await tm.master.registrar.agents.get(agent.agentId);
    if (!record) throw new Error('no agent');
    const made = await tm.master.registrar.agents.createOffers(record, [
      { frameworkId: framework.frameworkId, role: 'a', resources: offered },
    ]);
    if (!made.ok) throw new Error(made.error.message);
    return made.value.offers[0] as OfferRecord;
  }

  async function accept(offer: OfferRecord, operation: Operation): Promise<Json> {
    await framework.call('ACCEPT', { accept: { offer_ids: [{ value: offer.offerId }], operations: [operation] } });
    const event = await framework.next(
      (e) =>
        e.type === 'UPDATE_OPERATION_STATUS' &&
        e.update_operation_status?.status.operation_id?.value === operation.id?.value,
    );
    return event.update_operation_status?.status as unknown as Json;
  }

  it('grows a volume with disk of its reservation from the offer, and shrinks it back', async () => {
    const agent = await agentWithVolume();
    const grown = await accept(await offerAll(agent), {
      type: 'GROW_VOLUME',
      id: { value: 'grow-1' },
      grow_volume: {
        volume: allocate([volume('v1', 100)], 'a')[0] as Resource,
        addition: allocate(reserved('disk:50'), 'a')[0] as Resource,
      },
    });
    expect(grown).toMatchObject({ state: 'OPERATION_FINISHED' });
    expect(contains(await total(agent), [volume('v1', 150), ...reserved('disk:150')])).toBe(true);

    const offer = await offerAll(agent, [volume('v1', 150)]);
    const shrunk = await accept(offer, {
      type: 'SHRINK_VOLUME',
      id: { value: 'shrink-1' },
      shrink_volume: { volume: volume('v1', 150), subtract: { value: 120 } },
    });
    expect(shrunk).toMatchObject({ state: 'OPERATION_FINISHED' });
    expect(contains(await total(agent), [volume('v1', 30), ...reserved('disk:270')])).toBe(true);
  });

  it("refuses bad resizes with Mesos's messages and changes nothing", async () => {
    const agent = await agentWithVolume();
    const before = await total(agent);
    const cases: Array<[Operation, RegExp]> = [
      [
        {
          type: 'GROW_VOLUME',
          grow_volume: {
            volume: volume('v1', 100),
            addition: { ...(reserved('disk:1')[0] as Resource), scalar: { value: 0 } },
          },
        },
        /must be greater than zero/,
      ],
      [
        {
          type: 'GROW_VOLUME',
          grow_volume: { volume: volume('v1', 100), addition: resources('disk:10')[0] as Resource },
        },
        /Incompatible resources/,
      ],
      [
        {
          type: 'GROW_VOLUME',
          grow_volume: { volume: volume('v1', 100), addition: reserved('disk:500')[0] as Resource },
        },
        /not offered/,
      ],
      [
        {
          type: 'GROW_VOLUME',
          grow_volume: { volume: reserved('disk:100')[0] as Resource, addition: reserved('disk:10')[0] as Resource },
        },
        /not a persistent volume/,
      ],
      [
        { type: 'SHRINK_VOLUME', shrink_volume: { volume: volume('v1', 100), subtract: { value: 100 } } },
        /must be smaller than the size/,
      ],
      [
        { type: 'SHRINK_VOLUME', shrink_volume: { volume: volume('v1', 100), subtract: { value: 0 } } },
        /must be greater than zero/,
      ],
      [{ type: 'SHRINK_VOLUME', shrink_volume: { volume: volume('v1', 40), subtract: { value: 10 } } }, /not offered/],
    ];
    let n = 0;
    for (const [operation, why] of cases) {
      const status = await accept(await offerAll(agent), { ...operation, id: { value: `bad-${n++}` } });
      expect(status, String(why)).toMatchObject({ state: 'OPERATION_ERROR' });
      expect(status.message).toMatch(why);
    }
    expect(equals(await total(agent), before)).toBe(true);

    const old = await agentWithVolume([]);
    const status = await accept(await offerAll(old), {
      type: 'GROW_VOLUME',
      id: { value: 'old-agent' },
      grow_volume: { volume: volume('v1', 100), addition: reserved('disk:10')[0] as Resource },
    });
    expect(status.message).toMatch(/without RESIZE_VOLUME capability/);
  });
});

describe('GROW_VOLUME and SHRINK_VOLUME through the operator API', () => {
  it('grows and shrinks a volume (202), converting the agent total', async () => {
    const agent = await agentWithVolume();
    const id = { value: agent.agentId };
    const grown = await post('GROW_VOLUME', 'grow_volume', {
      agent_id: id,
      volume: volume('v1', 100),
      addition: reserved('disk:200')[0],
    });
    expect(grown.status, grown.body).toBe(202);
    expect(contains(await total(agent), [volume('v1', 300)])).toBe(true);
    const shrunk = await post('SHRINK_VOLUME', 'shrink_volume', {
      agent_id: id,
      volume: volume('v1', 300),
      subtract: { value: 250.5 },
    });
    expect(shrunk.status, shrunk.body).toBe(202);
    expect(contains(await total(agent), [volume('v1', 49.5), ...reserved('disk:250.5')])).toBe(true);
  });

  it('answers 400 to bad input, 409 when the disk is not free, and changes nothing', async () => {
    const agent = await agentWithVolume();
    const id = { value: agent.agentId };
    const before = await total(agent);
    const cases: Array<[string, Json, number, RegExp]> = [
      ['GROW_VOLUME', { volume: volume('v1', 100), addition: reserved('disk:10')[0] as Json }, 400, /agent_id/],
      [
        'GROW_VOLUME',
        { agent_id: id, volume: volume('v1', 100), addition: resources('disk:10')[0] as Json },
        400,
        /Incompatible/,
      ],
      [
        'GROW_VOLUME',
        { agent_id: id, volume: volume('v9', 100), addition: reserved('disk:10')[0] as Json },
        400,
        /Persistent volume not found/,
      ],
      [
        'GROW_VOLUME',
        { agent_id: id, volume: volume('v1', 100), addition: reserved('disk:201')[0] as Json },
        409,
        /does not have the resources/,
      ],
      [
        'GROW_VOLUME',
        { agent_id: { value: 'nope' }, volume: volume('v1', 100), addition: reserved('disk:1')[0] as Json },
        400,
        /No agent/,
      ],
      [
        'SHRINK_VOLUME',
        { agent_id: id, volume: volume('v1', 100), subtract: { value: 200 } },
        400,
        /smaller than the size/,
      ],
      ['SHRINK_VOLUME', { agent_id: id, volume: volume('v1', 100), subtract: { value: -1 } }, 400, /greater than zero/],
      ['SHRINK_VOLUME', { agent_id: id, volume: volume('v1', 100) }, 400, /subtract/],
    ];
    for (const [type, payload, status, why] of cases) {
      const response = await post(type, type.toLowerCase(), payload);
      expect(response.status, `${String(why)}: ${response.body}`).toBe(status);
      expect(response.body).toMatch(why);
    }
    expect(equals(await total(agent), before)).toBe(true);
  });
});
