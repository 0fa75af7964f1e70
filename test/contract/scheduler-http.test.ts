/**
 * The scheduler endpoint's HTTP contract, raw (docs/scheduler-api.md, "Status codes"): every status code a Mesos
 * client can meet.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { post, subscribeRaw } from '../support/http.js';
import { startTestMaster, type TestMaster } from '../support/master.js';
import { FRAMEWORK, subscribe, type TestFramework } from '../support/scheduler.js';

let tm: TestMaster;
let framework: TestFramework;
beforeAll(async () => {
  tm = await startTestMaster({ maxBodyBytes: 64 * 1024 });
  framework = await subscribe(tm);
});
afterAll(async () => {
  framework.close();
  await tm.close();
});

describe('the scheduler endpoint', () => {
  it('answers 405 to anything but POST', async () => {
    for (const method of ['GET', 'PUT', 'DELETE']) {
      const response = await post(tm.url, {}, {}, method);
      expect(response.status, method).toBe(405);
      expect(response.headers.get('allow')).toBe('POST');
    }
  });

  it('answers 400 without a Content-Type and 415 for media types it does not speak', async () => {
    const bare = await fetch(`${tm.url}/api/v1/scheduler`, { method: 'POST', body: '{}' });
    // fetch adds text/plain for a string body; remove it by sending bytes.
    expect([400, 415]).toContain(bare.status);
    const none = await fetch(`${tm.url}/api/v1/scheduler`, {
      method: 'POST',
      body: new Uint8Array(Buffer.from('{}')),
    });
    expect(none.status).toBe(400);
    expect(await none.text()).toMatch(/Content-Type/);
    for (const type of ['text/plain', 'application/xml', 'application/protobuf']) {
      const refused = await post(tm.url, {}, { 'Content-Type': type });
      expect(refused.status, type).toBe(415);
      expect(refused.body).toBe("Expecting 'Content-Type' of application/json or application/x-protobuf");
    }
    expect(
      (await post(tm.url, { type: 'TEARDOWN' }, { 'Content-Type': 'application/json; charset=utf-8' })).status,
    ).toBe(400);
  });

  it('answers 400 to bodies that are not a valid Call, with the reason', async () => {
    const cases: Array<[unknown, RegExp]> = [
      ['{not json', /Failed to parse body into JSON/],
      [[], /Failed to convert JSON into Call/],
      [{}, /Expecting 'type' to be present/],
      [{ type: 'TEARDOWN_EVERYTHING' }, /Expecting 'type' to be present/],
      [{ type: 7 }, /Failed to convert/],
      [{ type: 'SUBSCRIBE' }, /Expecting 'subscribe' to be present/],
      [{ type: 'SUBSCRIBE', subscribe: { framework_info: { name: 'x' } } }, /framework_info\.user/],
      [
        { type: 'SUBSCRIBE', framework_id: { value: 'a' }, subscribe: { framework_info: { user: 'u', name: 'n' } } },
        /'framework_id' differs/,
      ],
      [{ type: 'TEARDOWN' }, /Expecting 'framework_id' to be present/],
      [{ type: 'ACCEPT', framework_id: { value: 'f' } }, /Expecting 'accept' to be present/],
      [{ type: 'KILL', framework_id: { value: 'f' }, kill: {} }, /kill\.task_id/],
      [
        {
          type: 'ACKNOWLEDGE',
          framework_id: { value: 'f' },
          acknowledge: {
            agent_id: { value: 'a' },
            task_id: { value: 't' },
            uuid: Buffer.from('short').toString('base64'),
          },
        },
        /not a valid UUID/,
      ],
      [
        {
          type: 'UPDATE_FRAMEWORK',
          framework_id: { value: 'f' },
          update_framework: { framework_info: { user: 'u', name: 'n' } },
        },
        /differs from 'update_framework/,
      ],
    ];
    for (const [body, message] of cases) {
      const response = await post(tm.url, body);
      expect(response.status, JSON.stringify(body)).toBe(400);
      expect(response.body).toMatch(message);
      expect(response.headers.get('content-type')).toMatch(/text\/plain/);
    }
  });

  it('answers 501 to the UNKNOWN call type', async () => {
    expect((await post(tm.url, { type: 'UNKNOWN' })).status).toBe(501);
  });

  it('answers 413 to a body over the limit', async () => {
    const response = await post(tm.url, { type: 'TEARDOWN', padding: 'x'.repeat(70 * 1024) });
    expect(response.status).toBe(413);
  });

  it('checks SUBSCRIBE headers: no Mesos-Stream-Id, and an Accept that allows JSON or protobuf (406 otherwise)', async () => {
    const body = { type: 'SUBSCRIBE', subscribe: { framework_info: FRAMEWORK } };
    expect((await post(tm.url, body, { 'Mesos-Stream-Id': 'x' })).status).toBe(400);
    for (const accept of ['text/html', 'application/json;q=0', 'application/*;q=0, */*']) {
      const refused = await post(tm.url, body, { Accept: accept });
      expect(refused.status, accept).toBe(406);
      expect(refused.body).toBe("Expecting 'Accept' to allow 'application/x-protobuf' or 'application/json'");
    }
    const star = await subscribeRaw(tm.url, body, { Accept: '*/*' });
    expect(star.response.status).toBe(200);
    expect(star.response.headers.get('content-type')).toBe('application/json');
    expect(star.streamId).toMatch(/^[0-9a-f-]{36}$/);
    star.close();
  });

  it('answers 400 for unknown frameworks and missing or stale stream ids, 403 when not subscribed', async () => {
    const unknown = await post(
      tm.url,
      { type: 'REVIVE', framework_id: { value: 'nobody' } },
      { 'Mesos-Stream-Id': 'x' },
    );
    expect(unknown).toMatchObject({ status: 400, body: 'Framework cannot be found' });
    const missing = await post(tm.url, { type: 'REVIVE', framework_id: { value: framework.frameworkId } });
    expect(missing.status).toBe(400);
    expect(missing.body).toMatch(/should include the 'Mesos-Stream-Id' header/);
    const stale = await framework.call('REVIVE', {}, { 'Mesos-Stream-Id': '00000000-0000-0000-0000-000000000000' });
    expect(stale.status).toBe(400);
    expect(stale.body).toMatch(/didn't match the stream ID/);
    expect((await framework.call('REVIVE')).status).toBe(202);

    const other = await subscribe(tm);
    const record = await tm.master.registrar.frameworks.get(other.frameworkId);
    await tm.master.registrar.frameworks.deactivate(other.frameworkId, record?.streamId as string);
    const forbidden = await other.call('REVIVE');
    expect(forbidden).toMatchObject({ status: 403, body: 'Framework is not subscribed' });
    other.close();
  });

  it('answers liveness and metrics, and 404 elsewhere', async () => {
    expect((await fetch(`${tm.url}/health`)).status).toBe(200);
    expect((await fetch(`${tm.url}/master/health`)).status).toBe(200);
    const metrics = (await (await fetch(`${tm.url}/metrics/snapshot`)).json()) as Record<string, number>;
    expect(metrics['master/messages_register_framework']).toBeGreaterThanOrEqual(1);
    expect(metrics['registrar/state_store_ms/count']).toBeGreaterThan(0);
    expect((await fetch(`${tm.url}/api/v2/nothing`)).status).toBe(404);
  });
});
