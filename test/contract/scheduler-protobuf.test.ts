/**
 * The scheduler API in protobuf (`application/x-protobuf`; docs/scheduler-api.md, "Media types"): a framework
 * that subscribes, is offered, launches, hears its task's updates and acknowledges them entirely in protobuf,
 * encoded and decoded with the third-party 0.28.2 definitions rather than the master's own; mixed requests;
 * and the status codes for what is not protobuf.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeMessage, encodeMessage } from '#shared/protocol/protobuf.js';
import { post, subscribeRaw } from '../support/http.js';
import { startTestMaster, type TestMaster } from '../support/master.js';
import { decode, encode, PROTOBUF, ProtobufStream, protobufPost } from '../support/protobuf-client.js';
import {
  commands,
  commandTask,
  FRAMEWORK,
  launch,
  offer,
  registerAgent,
  sendStatus,
  uuid,
  type TestAgent,
} from '../support/scheduler.js';

const PATH = '/api/v1/scheduler';
const CALL = 'mesos.scheduler.Call';
const EVENT = 'mesos.scheduler.Event';
const SUBSCRIBE = { type: 'SUBSCRIBE', subscribe: { framework_info: FRAMEWORK } };

let tm: TestMaster;
let agent: TestAgent;
beforeAll(async () => {
  tm = await startTestMaster({ maxBodyBytes: 64 * 1024 });
  agent = await registerAgent(tm);
});
afterAll(async () => {
  await tm.close();
});

/** A framework subscribed in protobuf: its stream, id, and a way to make calls in protobuf. */
async function protobufFramework() {
  const stream = await ProtobufStream.open(tm.url, PATH, encode(CALL, SUBSCRIBE), EVENT);
  expect(stream.response.status).toBe(200);
  expect(stream.response.headers.get('content-type')).toBe(PROTOBUF);
  const subscribed = await stream.next((event) => event.type === 'SUBSCRIBED');
  const frameworkId = (subscribed.subscribed as { framework_id: { value: string } }).framework_id.value;
  const call = (type: string, payload: Record<string, unknown>) =>
    protobufPost(tm.url, PATH, encode(CALL, { framework_id: { value: frameworkId }, type, ...payload }), {
      'Mesos-Stream-Id': stream.streamId,
    });
  return { stream, frameworkId, subscribed, call };
}

describe('the scheduler API in protobuf', () => {
  it('subscribes, is offered, launches, hears updates and acknowledges them', async () => {
    const { stream, frameworkId, subscribed, call } = await protobufFramework();
    expect(subscribed).toMatchObject({
      subscribed: {
        framework_id: { value: frameworkId },
        heartbeat_interval_seconds: tm.master.config.heartbeatIntervalSeconds,
      },
    });
    await stream.next((event) => event.type === 'HEARTBEAT');

    const made = await offer(tm, { frameworkId }, agent, 'cpus:1;mem:64');
    const offers = await stream.next((event) => event.type === 'OFFERS');
    expect(offers).toMatchObject({
      offers: { offers: [{ id: { value: made.offerId }, agent_id: { value: agent.agentId } }] },
    });

    const task = commandTask('pb-1', agent, 'cpus:1;mem:64');
    const accepted = await call('ACCEPT', {
      accept: {
        offer_ids: [{ value: made.offerId }],
        operations: [{ type: 'LAUNCH', launch: { task_infos: [task] } }],
      },
    });
    expect(accepted.status).toBe(202);
    expect(await commands(tm, agent)).toMatchObject([
      { type: 'LAUNCH', task: { task_id: { value: 'pb-1' }, command: { value: 'sleep 1' } } },
    ]);

    const running = uuid();
    await sendStatus(tm, agent, frameworkId, { task_id: { value: 'pb-1' }, state: 'TASK_RUNNING', uuid: running });
    const update = await stream.next((event) => event.type === 'UPDATE');
    // bytes (the uuid) travel as bytes and read back as the same base64.
    expect(update).toMatchObject({
      update: { status: { task_id: { value: 'pb-1' }, state: 'TASK_RUNNING', uuid: running } },
    });
    const acknowledged = await call('ACKNOWLEDGE', {
      acknowledge: { agent_id: { value: agent.agentId }, task_id: { value: 'pb-1' }, uuid: running },
    });
    expect(acknowledged.status).toBe(202);
    expect(await commands(tm, agent)).toEqual([
      { type: 'ACKNOWLEDGE', framework_id: { value: frameworkId }, task_id: { value: 'pb-1' }, uuid: running },
    ]);
    expect((await call('TEARDOWN', {})).status).toBe(202);
    stream.close();
  });

  it('answers the JSON a client accepts to a protobuf call, and protobuf to a JSON one', async () => {
    const protobufCall = await fetch(`${tm.url}${PATH}`, {
      method: 'POST',
      headers: { 'Content-Type': PROTOBUF, Accept: 'application/json' },
      body: new Uint8Array(encode(CALL, SUBSCRIBE)),
    });
    expect(protobufCall.headers.get('content-type')).toBe('application/json');
    const reader = protobufCall.body?.getReader();
    const first = new TextDecoder().decode((await reader?.read())?.value);
    expect(first).toMatch(/^\d+\n\{"type":"SUBSCRIBED"/);
    await reader?.cancel();

    const jsonSubscribe = await fetch(`${tm.url}${PATH}`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Accept: `${PROTOBUF}, application/json;q=0` },
      body: JSON.stringify(SUBSCRIBE),
    });
    expect(jsonSubscribe.status).toBe(200);
    expect(jsonSubscribe.headers.get('content-type')).toBe(PROTOBUF);
    await jsonSubscribe.body?.cancel();
  });

  it('loses nothing of the JSON events in protobuf: SUBSCRIBED (with master_info), OFFERS, UPDATE', async () => {
    const json = await subscribeRaw(tm.url, SUBSCRIBE);
    const subscribed = await json.next((event) => event.type === 'SUBSCRIBED');
    const frameworkId = subscribed.subscribed?.framework_id.value ?? '';
    const made = await offer(
      tm,
      { frameworkId, next: (predicate) => json.next(predicate) },
      agent,
      'cpus:1;mem:64;ports:[31000-31001]',
    );
    const task = commandTask('js-1', agent, 'cpus:1;mem:64');
    const accept = { framework_id: { value: frameworkId }, type: 'ACCEPT', ...launch([made.offerId], [task]) };
    expect((await post(tm.url, accept, { 'Mesos-Stream-Id': json.streamId })).status).toBe(202);
    await commands(tm, agent);
    await sendStatus(tm, agent, frameworkId, { task_id: { value: 'js-1' }, state: 'TASK_RUNNING', uuid: uuid() });
    await json.next((event) => event.type === 'UPDATE');
    for (const event of json.events) {
      const bytes = encodeMessage('mesos.v1.scheduler.Event', event);
      expect(decodeMessage('mesos.v1.scheduler.Event', bytes), event.type).toEqual({ ok: true, value: event });
    }
    expect(subscribed.subscribed?.master_info).toBeDefined();
    json.close();
  });

  it('answers GET_PENDING_REASONS in protobuf', async () => {
    const { stream, call } = await protobufFramework();
    // 0.28.2 has no such call type: Mantle's own definitions encode it.
    const body = encodeMessage('mesos.v1.scheduler.Call', {
      framework_id: { value: (stream.events[0]?.subscribed as { framework_id: { value: string } }).framework_id.value },
      type: 'GET_PENDING_REASONS',
    });
    const answer = await protobufPost(tm.url, PATH, body, { 'Mesos-Stream-Id': stream.streamId });
    expect(answer.status).toBe(200);
    expect(answer.headers.get('content-type')).toBe(PROTOBUF);
    expect(decodeMessage('mesos.v1.scheduler.Response', answer.bytes)).toEqual({
      ok: true,
      value: { type: 'GET_PENDING_REASONS', get_pending_reasons: {} },
    });
    expect((await call('TEARDOWN', {})).status).toBe(202);
    stream.close();
  });

  it('answers a queue-delivered SUBSCRIBE with its SUBSCRIBED event in protobuf; a refusal stays plain text', async () => {
    const delivery = { 'Mantle-Event-Delivery': 'queue; name=protobuf' };
    const answer = await protobufPost(tm.url, PATH, encode(CALL, SUBSCRIBE), delivery);
    expect(answer.status).toBe(200);
    expect(answer.headers.get('content-type')).toBe(PROTOBUF);
    expect(answer.headers.get('mesos-stream-id')).toMatch(/^[0-9a-f-]{36}$/);
    expect(answer.headers.get('mantle-event-queue-url')).toMatch(/fwq-/);
    const event = decode(EVENT, answer.bytes) as { type: string; subscribed: { framework_id: { value: string } } };
    expect(event.type).toBe('SUBSCRIBED');
    const frameworkId = event.subscribed.framework_id.value;
    expect(await tm.master.registrar.frameworks.get(frameworkId)).toMatchObject({ delivery: 'queue' });
    const other = await protobufPost(
      tm.url,
      PATH,
      encode(CALL, { ...SUBSCRIBE, framework_id: { value: 'not-this-one' } }),
      delivery,
    );
    expect(other.status).toBe(400);
    expect(other.headers.get('content-type')).toMatch(/^text\/plain/);
    const teardown = encode(CALL, { framework_id: { value: frameworkId }, type: 'TEARDOWN' });
    const streamId = answer.headers.get('mesos-stream-id') ?? '';
    expect((await protobufPost(tm.url, PATH, teardown, { 'Mesos-Stream-Id': streamId })).status).toBe(202);
  });

  it('answers 406 to GET_PENDING_REASONS when the client accepts neither format, and 202s whatever Accept says', async () => {
    const { stream, frameworkId, call } = await protobufFramework();
    const pending = encodeMessage('mesos.v1.scheduler.Call', {
      framework_id: { value: frameworkId },
      type: 'GET_PENDING_REASONS',
    });
    const headers = { 'Mesos-Stream-Id': stream.streamId, Accept: 'text/html' };
    expect((await protobufPost(tm.url, PATH, pending, headers)).status).toBe(406);
    const revive = encode(CALL, { framework_id: { value: frameworkId }, type: 'REVIVE' });
    expect((await protobufPost(tm.url, PATH, revive, headers)).status).toBe(202);
    expect((await call('TEARDOWN', {})).status).toBe(202);
    stream.close();
  });

  it('answers 400 to bytes that are not a Call, 413 over the limit, 406 to an Accept it cannot meet', async () => {
    const garbage = await protobufPost(tm.url, PATH, new Uint8Array([0x0a, 0xff, 0xff, 0xff, 0x0f]));
    expect(garbage.status).toBe(400);
    expect(new TextDecoder().decode(garbage.bytes)).toMatch(/^Failed to parse body into Call protobuf: /);
    const json = await protobufPost(tm.url, PATH, new TextEncoder().encode(JSON.stringify(SUBSCRIBE)));
    expect(json.status).toBe(400);
    // A SUBSCRIBE without its required framework_info.user fails to decode, as Mesos's parser refuses it.
    // `subscribe` (field 3) announcing 16 bytes and holding one.
    const truncated = new Uint8Array([0x10, 0x01, 0x1a, 0x10, 0x0a]);
    expect((await protobufPost(tm.url, PATH, truncated)).status).toBe(400);
    // A FrameworkInfo without its required user fails to decode, as Mesos's parser refuses it. Written by hand:
    // protobufjs encodes a required field it was not given as its default.
    const frameworkInfo = [0x12, 0x01, 0x6e]; // name (2) = "n"
    const subscribe = [0x0a, frameworkInfo.length, ...frameworkInfo]; // framework_info (1)
    const userless = await protobufPost(
      tm.url,
      PATH,
      new Uint8Array([0x10, 0x01, 0x1a, subscribe.length, ...subscribe]),
    );
    expect(userless.status).toBe(400);
    expect(new TextDecoder().decode(userless.bytes)).toBe(
      "Failed to parse body into Call protobuf: missing required 'user'",
    );
    const large = await protobufPost(
      tm.url,
      PATH,
      encode(CALL, {
        type: 'MESSAGE',
        message: { agent_id: { value: 'a' }, executor_id: { value: 'e' }, data: 'A'.repeat(90_000) },
      }),
    );
    expect(large.status).toBe(413);
    const refused = await protobufPost(tm.url, PATH, encode(CALL, SUBSCRIBE), { Accept: 'text/html' });
    expect(refused.status).toBe(406);
    expect((await post(tm.url, SUBSCRIBE, { 'Content-Type': 'application/protobuf' })).status).toBe(415);
  });
});
