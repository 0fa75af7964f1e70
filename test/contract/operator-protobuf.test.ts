/**
 * The operator API in protobuf (docs/operator.md, "Media types"): GET_STATE, GET_TASKS (paged too) and the
 * SUBSCRIBE stream answered in protobuf lose nothing of the JSON answers; a protobuf call answered in JSON;
 * bytes that are not a Call.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeMessage, encodeMessage, wireRoot } from '#shared/protocol/protobuf.js';
import { RawSubscription } from '../support/http.js';
import { startTestMaster, type TestMaster } from '../support/master.js';
import { operatorGet } from '../support/operator.js';
import { PROTOBUF, ProtobufStream, protobufPost, wireShape } from '../support/protobuf-client.js';
import {
  commands,
  commandTask,
  launch,
  offer,
  registerAgent,
  sendStatus,
  subscribe,
  uuid,
  type TestAgent,
  type TestFramework,
} from '../support/scheduler.js';

const PATH = '/api/v1';
/** Calls written out by hand (field 1, the type, a varint: GET_STATE is 9, GET_TASKS 13, SUBSCRIBE 18 in Mesos). */
const GET_STATE = new Uint8Array([0x08, 9]);
const GET_TASKS = new Uint8Array([0x08, 13]);
const SUBSCRIBE = new Uint8Array([0x08, 18]);

let tm: TestMaster;
let agent: TestAgent;
let framework: TestFramework;
beforeAll(async () => {
  tm = await startTestMaster();
  agent = await registerAgent(tm);
  framework = await subscribe(tm);
  await runningTask('op-pb-1');
});
afterAll(async () => {
  framework.close();
  await tm.close();
});

async function runningTask(taskId: string): Promise<void> {
  const made = await offer(tm, framework, agent, 'cpus:1;mem:128');
  const task = commandTask(taskId, agent, 'cpus:1;mem:128', { labels: { labels: [{ key: 'k', value: 'v' }] } });
  expect((await framework.call('ACCEPT', launch([made.offerId], [task]))).status).toBe(202);
  await commands(tm, agent);
  await sendStatus(tm, agent, framework.frameworkId, {
    task_id: { value: taskId },
    state: 'TASK_RUNNING',
    uuid: uuid(),
  });
  await framework.update(taskId, 'TASK_RUNNING');
}

function decoded(message: 'mesos.v1.master.Response' | 'mesos.v1.master.Event', bytes: Uint8Array): unknown {
  const result = decodeMessage(message, bytes);
  if (!result.ok) throw new Error(result.error);
  return result.value;
}

describe('the operator API in protobuf', () => {
  it('answers GET_STATE and GET_TASKS in protobuf with everything the JSON answer holds', async () => {
    for (const [call, type] of [
      [GET_STATE, 'GET_STATE'],
      [GET_TASKS, 'GET_TASKS'],
    ] as const) {
      const answer = await protobufPost(tm.url, PATH, call);
      expect(answer.status, type).toBe(200);
      expect(answer.headers.get('content-type')).toBe(PROTOBUF);
      const json = await operatorGet(tm.url, { type });
      expect(decoded('mesos.v1.master.Response', answer.bytes), type).toEqual(wireShape(json));
    }
    const state = decoded('mesos.v1.master.Response', (await protobufPost(tm.url, PATH, GET_STATE)).bytes);
    expect(state).toMatchObject({
      get_state: { get_tasks: { tasks: [{ task_id: { value: 'op-pb-1' }, state: 'TASK_RUNNING' }] } },
    });
  });

  it("loses nothing of any read call's JSON answer in protobuf", async () => {
    const calls: Array<Record<string, unknown>> = [
      { type: 'GET_HEALTH' },
      { type: 'GET_FLAGS' },
      { type: 'GET_VERSION' },
      { type: 'GET_METRICS', get_metrics: {} },
      { type: 'GET_LOGGING_LEVEL' },
      { type: 'GET_AGENTS' },
      { type: 'GET_FRAMEWORKS' },
      { type: 'GET_EXECUTORS' },
      { type: 'GET_ROLES' },
      { type: 'GET_WEIGHTS' },
      { type: 'GET_MASTER' },
      { type: 'GET_MAINTENANCE_STATUS' },
      { type: 'GET_MAINTENANCE_SCHEDULE' },
      { type: 'GET_QUOTA' },
      { type: 'GET_PENDING_REASONS' },
    ];
    for (const call of calls) {
      const json = await operatorGet(tm.url, call);
      const bytes = encodeMessage('mesos.v1.master.Response', json);
      expect(decoded('mesos.v1.master.Response', bytes), String(call.type)).toEqual(wireShape(json));
      const answer = await protobufPost(tm.url, PATH, encodeMessage('mesos.v1.master.Call', call));
      expect(answer.status, String(call.type)).toBe(200);
      expect(answer.headers.get('content-type')).toBe(PROTOBUF);
    }
  });

  it("pages GET_TASKS, Mantle's extension, in protobuf", async () => {
    await runningTask('op-pb-2');
    const first = encodeMessage('mesos.v1.master.Call', { type: 'GET_TASKS', get_tasks: { limit: 1 } });
    const page = decoded('mesos.v1.master.Response', (await protobufPost(tm.url, PATH, first)).bytes) as {
      get_tasks: { tasks: unknown[]; next_cursor?: string };
    };
    expect(page.get_tasks.tasks).toHaveLength(1);
    expect(page.get_tasks.next_cursor).toEqual(expect.any(String));
  });

  it('streams SUBSCRIBE in protobuf: SUBSCRIBED with the state, HEARTBEAT, then the changes', async () => {
    // The master's own definitions read the stream (0.28.2 has no operator API).
    const stream = await ProtobufStream.open(tm.url, PATH, SUBSCRIBE, wireRoot().lookupType('mesos.v1.master.Event'));
    expect(stream.response.status).toBe(200);
    expect(stream.response.headers.get('content-type')).toBe(PROTOBUF);
    const jsonAbort = new AbortController();
    const json = new RawSubscription(
      await fetch(`${tm.url}${PATH}`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ type: 'SUBSCRIBE' }),
        signal: jsonAbort.signal,
      }),
      jsonAbort,
    );
    await stream.next((event) => event.type === 'HEARTBEAT');
    await json.next((event) => event.type === 'HEARTBEAT');
    await runningTask('op-pb-3');
    const updated = await stream.next((event) => event.type === 'TASK_UPDATED');
    expect(updated).toMatchObject({
      task_updated: { framework_id: { value: framework.frameworkId }, state: 'TASK_RUNNING' },
    });
    expect(stream.events[0]).toMatchObject({
      type: 'SUBSCRIBED',
      subscribed: { get_state: { get_tasks: { tasks: expect.any(Array) } }, heartbeat_interval_seconds: 1 },
    });
    expect(await stream.next((event) => event.type === 'TASK_ADDED')).toMatchObject({
      task_added: { task: { task_id: { value: 'op-pb-3' } } },
    });
    await json.next((event) => (event.type as string) === 'TASK_UPDATED');
    for (const event of json.events) {
      const bytes = encodeMessage('mesos.v1.master.Event', event);
      expect(decoded('mesos.v1.master.Event', bytes), event.type).toEqual(wireShape(event));
    }
    json.close();
    stream.close();
  });

  it('answers a protobuf call in JSON where the client asks for it, and 400 to bytes that are not a Call', async () => {
    const mixed = await protobufPost(tm.url, PATH, GET_STATE, { Accept: 'application/json' });
    expect(mixed.headers.get('content-type')).toMatch(/^application\/json/);
    expect(JSON.parse(new TextDecoder().decode(mixed.bytes))).toMatchObject({ type: 'GET_STATE' });
    const garbage = await protobufPost(tm.url, PATH, new Uint8Array([0x12, 0x05, 0x01]));
    expect(garbage.status).toBe(400);
    expect(new TextDecoder().decode(garbage.bytes)).toMatch(/^Failed to parse body into Call protobuf: /);
    const json = await protobufPost(tm.url, PATH, new TextEncoder().encode('{"type":"GET_HEALTH"}'));
    expect(json.status).toBe(400);
  });
});
