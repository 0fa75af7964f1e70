/**
 * The operator endpoint's HTTP contract (`POST /api/v1`, Mesos `Master::Http::api`), raw: the status codes a
 * Mesos operator client can meet, who may call it, and the two calls every client starts with.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearerToken } from '../../functions/master/auth.js';
import { startTestMaster, type TestMaster } from '../support/master.js';
import { basic, operatorGet, operatorPost, SECRET } from '../support/operator.js';

let tm: TestMaster;
beforeAll(async () => {
  tm = await startTestMaster({ authenticate: true });
  const principals = tm.master.registrar.principals;
  await principals.create({ principal: 'ops', secret: SECRET, kind: 'operator', roles: [] });
  await principals.create({ principal: 'team-a', secret: SECRET, kind: 'framework', roles: ['a'] });
  await principals.create({ principal: 'agent-1', secret: SECRET, kind: 'agent', roles: [] });
});
afterAll(async () => {
  await tm.close();
});

const ops = basic('ops');

describe('the operator endpoint', () => {
  it('answers GET_HEALTH and GET_VERSION in Mesos shapes', async () => {
    expect(await operatorGet(tm.url, { type: 'GET_HEALTH' }, ops)).toEqual({
      type: 'GET_HEALTH',
      get_health: { healthy: true },
    });
    const version = await operatorGet<{ type: string; get_version: { version_info: { version: string } } }>(
      tm.url,
      { type: 'GET_VERSION' },
      ops,
    );
    expect(version.type).toBe('GET_VERSION');
    expect(version.get_version.version_info.version).toMatch(/^\d+\.\d+\.\d+/);
  });

  it('is for operators: 401 without credentials, 403 for frameworks and agents', async () => {
    const none = await operatorPost(tm.url, { type: 'GET_HEALTH' });
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toMatch(/^Basic realm=/);
    expect((await operatorPost(tm.url, { type: 'GET_HEALTH' }, basic('ops', 'wrong-secret-wrong'))).status).toBe(401);
    expect((await operatorPost(tm.url, { type: 'GET_HEALTH' }, basic('team-a'))).status).toBe(403);
    expect((await operatorPost(tm.url, { type: 'GET_HEALTH' }, basic('agent-1'))).status).toBe(403);
    const bearer = { Authorization: `Bearer ${bearerToken({ principal: 'ops', secret: SECRET })}` };
    expect((await operatorPost(tm.url, { type: 'GET_HEALTH' }, bearer)).status).toBe(200);
  });

  it('answers 405 to anything but POST, and 400 / 415 for media types', async () => {
    for (const method of ['GET', 'PUT', 'DELETE']) {
      const response = await operatorPost(tm.url, {}, ops, method);
      expect(response.status, method).toBe(405);
      expect(response.headers.get('allow')).toBe('POST');
    }
    const bare = await fetch(`${tm.url}/api/v1`, {
      method: 'POST',
      headers: ops,
      body: new Uint8Array(Buffer.from('{"type":"GET_HEALTH"}')),
    });
    expect(bare.status).toBe(400);
    expect(await bare.text()).toMatch(/Content-Type/);
    for (const type of ['text/plain', 'application/xml']) {
      expect((await operatorPost(tm.url, { type: 'GET_HEALTH' }, { ...ops, 'Content-Type': type })).status).toBe(415);
    }
  });

  it("takes calls as Mesos's docs and protobuf JSON clients write them: charset, q-values, int64 as strings", async () => {
    const headers = {
      ...ops,
      'Content-Type': 'application/json; charset=utf-8',
      Accept: 'application/json;q=0.9, */*;q=0.1',
    };
    const health = await operatorPost(tm.url, { type: 'GET_HEALTH' }, headers);
    expect(health.status).toBe(200);
    expect(health.headers.get('content-type')).toMatch(/^application\/json/);
    // Protobuf's JSON mapping writes int64 as a string: a duration of one minute, and a window start.
    const level = {
      type: 'SET_LOGGING_LEVEL',
      set_logging_level: { level: 2, duration: { nanoseconds: '60000000000' } },
    };
    expect((await operatorPost(tm.url, level, headers)).status).toBe(200);
    expect(await operatorGet(tm.url, { type: 'GET_LOGGING_LEVEL' }, ops)).toEqual({
      type: 'GET_LOGGING_LEVEL',
      get_logging_level: { level: 2 },
    });
    const window = {
      machine_ids: [{ hostname: 'docs.example' }],
      unavailability: { start: { nanoseconds: '4102444800000000000' } },
    };
    const update = {
      type: 'UPDATE_MAINTENANCE_SCHEDULE',
      update_maintenance_schedule: { schedule: { windows: [window] } },
    };
    expect((await operatorPost(tm.url, update, headers)).status).toBe(200);
    const got = await operatorGet<any>(tm.url, { type: 'GET_MAINTENANCE_SCHEDULE' }, ops); // eslint-disable-line @typescript-eslint/no-explicit-any
    expect(got.get_maintenance_schedule.schedule.windows[0]).toMatchObject({
      machine_ids: [{ hostname: 'docs.example' }],
      unavailability: { start: { nanoseconds: 4102444800000000000 } },
    });
    const cleared = { type: 'UPDATE_MAINTENANCE_SCHEDULE', update_maintenance_schedule: { schedule: { windows: [] } } };
    expect((await operatorPost(tm.url, cleared, headers)).status).toBe(200);
    const reset = { type: 'SET_LOGGING_LEVEL', set_logging_level: { level: 0, duration: { nanoseconds: 1e9 } } };
    expect((await operatorPost(tm.url, reset, headers)).status).toBe(200);
  });

  it('answers 406 when the client accepts neither JSON nor protobuf', async () => {
    const response = await operatorPost(tm.url, { type: 'GET_HEALTH' }, { ...ops, Accept: 'text/html' });
    expect(response.status).toBe(406);
    expect(response.body).toBe("Expecting 'Accept' to allow 'application/x-protobuf' or 'application/json'");
    expect((await operatorPost(tm.url, { type: 'GET_HEALTH' }, { ...ops, Accept: '*/*' })).status).toBe(200);
  });

  it('answers 400 with the reason to what is not a valid Call, and 501 to calls Mantle does not answer', async () => {
    const cases: Array<[unknown, RegExp]> = [
      ['{not json', /Failed to parse body into JSON/],
      [[], /Failed to convert JSON into Call/],
      [{}, /Expecting 'type' to be present/],
      [{ type: 7 }, /Failed to convert JSON into Call.*type/],
      [{ type: 'GET_EVERYTHING' }, /unknown call type 'GET_EVERYTHING'/],
    ];
    for (const [body, reason] of cases) {
      const response = await operatorPost(tm.url, body, ops);
      expect(response.status, JSON.stringify(body)).toBe(400);
      expect(response.headers.get('content-type')).toMatch(/^text\/plain/);
      expect(response.body).toMatch(reason);
    }
    for (const type of ['GET_OPERATIONS', 'LIST_FILES', 'SET_QUOTA']) {
      const response = await operatorPost(tm.url, { type }, ops);
      expect(response.status, type).toBe(501);
      expect(response.body).toMatch(`${type} is not implemented`);
    }
  });
});
