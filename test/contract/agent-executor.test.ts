/**
 * Custom executors on a real agent (real processes, the SQS stand-in, the stand-in master): the example
 * executor run through the executor SDK (LAUNCH, its updates, MESSAGE both ways, its exit and the
 * FAILURE that follows), the registration timeout, the executor API's refusals (401, 403, 405,
 * 415, 400) with a token read from an executor's own environment, and the API in protobuf (encoded and
 * decoded with the third-party Mesos 0.28.2 definitions).
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { RunningAgent } from '../../agent/agent.js';
import type { AwsClients } from '#shared/aws/clients.js';
import type { AgentCommand } from '#shared/protocol/internal.js';
import type { ExecutorInfo, TaskInfo } from '#shared/protocol/mesos.js';
import { RecordIODecoder } from '#shared/protocol/recordio.js';
import { standInClients } from '../support/aws.js';
import { FakeMaster } from '../support/agent-master.js';
import {
  ECHO_EXECUTOR,
  FRAMEWORK_ID,
  kill,
  launch,
  removeWorkDir,
  resources,
  ROOT_GRANT,
  startTestAgent,
  taskId,
  tempWorkDir,
} from '../support/agent.js';
import { sandboxes } from '../support/agent-sandbox.js';
import { encode, protobufPost, ProtobufStream } from '../support/protobuf-client.js';
import { eventually } from '../support/cluster.js';

let clients: AwsClients;
let master: FakeMaster;
let agent: RunningAgent;
let agentId: string;
let workDir: string;

/**
 * An agent on `dir` that kills an executor not subscribed within `registrationTimeoutMs`. The example executor
 * (Node with tsx) took over 20 s to subscribe under a full test run's load, so the shared agent waits as long
 * as the agent's default does.
 */
function startAgent(dir: string, registrationTimeoutMs = 60_000): Promise<RunningAgent> {
  return startTestAgent(master, {
    sqsEndpoint: inject('sqsEndpoint'),
    workDir: dir,
    containerizers: ['mesos'],
    port: 0,
    executorRegistrationTimeoutMs: registrationTimeoutMs,
    executorShutdownGracePeriodMs: 1_000,
  });
}

beforeAll(async () => {
  clients = standInClients();
  master = await new FakeMaster({ sqs: clients.sqs }).start();
  workDir = await tempWorkDir();
  agent = await startAgent(workDir);
  agentId = await agent.registered;
});

afterAll(async () => {
  await agent?.shutdown();
  await master?.close();
  clients?.destroy();
  if (workDir) await removeWorkDir(workDir);
});

function executor(id: string, command: string): ExecutorInfo {
  return {
    type: 'CUSTOM',
    executor_id: { value: id },
    command: { value: command },
    resources: resources('cpus:0.1;mem:64'),
  };
}

function executorTask(id: string, info: ExecutorInfo, shell: string): TaskInfo {
  return {
    name: id,
    task_id: { value: id },
    agent_id: { value: agentId },
    resources: resources('cpus:0.1;mem:32'),
    executor: info,
    data: Buffer.from(shell).toString('base64'),
  };
}

function group(info: ExecutorInfo, tasks: TaskInfo[], launchId = `launch-${info.executor_id.value}`): AgentCommand {
  const { framework_id, framework_info, grant } = launch(tasks[0] as TaskInfo) as Extract<
    AgentCommand,
    { type: 'LAUNCH' }
  >;
  return {
    type: 'LAUNCH_GROUP',
    framework_id,
    framework_info,
    executor: info,
    task_group: { tasks },
    launch_id: launchId,
    ...(grant ? { grant } : {}),
  };
}

function frameworkMessage(executorId: string, text: string): AgentCommand {
  return {
    type: 'FRAMEWORK_MESSAGE',
    framework_id: { value: FRAMEWORK_ID },
    executor_id: { value: executorId },
    data: Buffer.from(text).toString('base64'),
  };
}

function executorMessage(executorId: string, type: 'EXECUTOR_MESSAGE' | 'EXECUTOR_EXITED') {
  return master.until(
    () => master.executorMessages.find((m) => m.type === type && m.executor_id.value === executorId),
    20_000,
    `${type} of ${executorId}`,
  );
}

describe('the example executor, through the SDK', () => {
  it('runs tasks, echoes messages, and its end fails what it still runs', async () => {
    const info = executor(taskId('echo'), ECHO_EXECUTOR);
    const first = taskId('first');
    await master.send(agentId, launch(executorTask(first, info, 'echo hello from the executor')));
    const running = await master.waitFor(first, 'TASK_RUNNING', 20_000);
    expect(running.status).toMatchObject({ source: 'SOURCE_EXECUTOR', executor_id: info.executor_id });
    await master.waitFor(first, 'TASK_FINISHED', 10_000);

    await master.send(agentId, frameworkMessage(info.executor_id.value, 'ping'));
    const echoed = await executorMessage(info.executor_id.value, 'EXECUTOR_MESSAGE');
    expect(echoed).toMatchObject({ agent_id: { value: agentId }, framework_id: { value: FRAMEWORK_ID } });
    expect(Buffer.from((echoed as { data: string }).data, 'base64').toString()).toBe('echo: ping');

    const second = taskId('second');
    await master.send(agentId, launch(executorTask(second, info, 'sleep 60')));
    await master.waitFor(second, 'TASK_RUNNING', 10_000);
    // Reported like any task (registration, /state, the gauges), with the executor's container.
    expect(agent.tasks().find((task) => task.taskId === second)).toMatchObject({ state: 'TASK_RUNNING' });
    await master.send(agentId, frameworkMessage(info.executor_id.value, 'exit 3'));
    const failed = await master.waitFor(second, 'TASK_FAILED', 10_000);
    expect(failed.status).toMatchObject({ source: 'SOURCE_AGENT', reason: 'REASON_EXECUTOR_TERMINATED' });
    expect(failed.status.message).toMatch(/exited with status 3/);
    const exited = await executorMessage(info.executor_id.value, 'EXECUTOR_EXITED');
    expect((exited as { status: number }).status).toBe(3 << 8);
  });

  it("fetches the executor's own URIs into its sandbox first; one it may not fetch fails its task", async () => {
    const files = await mkdtemp(join(tmpdir(), 'executor-uris-'));
    try {
      await writeFile(join(files, 'settings.txt'), 'fetched\n');
      const uris = [{ value: join(files, 'settings.txt') }];
      const base = executor(taskId('fetching'), '');
      const fetching = { ...base, command: { value: `test -f settings.txt && exec ${ECHO_EXECUTOR}`, uris } };
      const id = taskId('fetched');
      const grant = { ...ROOT_GRANT, host_paths: [files] };
      await master.send(agentId, launch(executorTask(id, fetching, 'cat settings.txt'), { grant }));
      await master.waitFor(id, 'TASK_FINISHED', 20_000);

      const refused = { ...fetching, executor_id: { value: taskId('not-fetching') } };
      const failedId = taskId('not-fetched');
      await master.send(agentId, launch(executorTask(failedId, refused, 'true')));
      const failed = await master.waitFor(failedId, 'TASK_FAILED', 20_000);
      expect(failed.status.message).toContain(`Failed to fetch '${join(files, 'settings.txt')}'`);
    } finally {
      await rm(files, { recursive: true, force: true });
    }
  });

  it('gets task groups as LAUNCH_GROUP events, a new executor and a running one alike', async () => {
    const info = executor(taskId('grouped'), ECHO_EXECUTOR);
    const member = (id: string, shell: string): TaskInfo => {
      const { executor: _own, ...task } = executorTask(id, info, shell);
      return task;
    };
    const [a, b] = [taskId('group-a'), taskId('group-b')];
    await master.send(agentId, group(info, [member(a, 'echo a'), member(b, 'echo b')]));
    for (const id of [a, b]) {
      const running = await master.waitFor(id, 'TASK_RUNNING', 20_000);
      expect(running.status).toMatchObject({ source: 'SOURCE_EXECUTOR', message: 'Launched in a task group of 2' });
      await master.waitFor(id, 'TASK_FINISHED', 10_000);
    }
    // The running executor gets the next group; one task's failure is the executor's to handle.
    const [c, d] = [taskId('group-c'), taskId('group-d')];
    await master.send(agentId, group(info, [member(c, 'true'), member(d, 'exit 2')], 'launch-second-group'));
    await master.waitFor(c, 'TASK_FINISHED', 10_000);
    const failed = await master.waitFor(d, 'TASK_FAILED', 10_000);
    expect(failed.status).toMatchObject({ source: 'SOURCE_EXECUTOR', message: 'Command exited with status 2' });
    expect(await sandboxes(workDir, info.executor_id.value)).toHaveLength(1);
  });

  it('kills a whole queued task group when one of its tasks is killed before delivery', async () => {
    const info = executor(taskId('silent-group'), 'sleep 60');
    const [a, b] = [taskId('queued-a'), taskId('queued-b')];
    const member = (id: string): TaskInfo => ({ name: id, task_id: { value: id }, agent_id: { value: agentId } });
    await master.send(agentId, group(info, [member(a), member(b)]));
    await eventually(async () => (await sandboxes(workDir, info.executor_id.value))[0], 10_000, 'the executor');
    await master.send(agentId, kill(a));
    for (const id of [a, b]) {
      const killed = await master.waitFor(id, 'TASK_KILLED', 10_000);
      expect(killed.status).toMatchObject({ source: 'SOURCE_AGENT', reason: 'REASON_TASK_KILLED_DURING_LAUNCH' });
    }
    await executorMessage(info.executor_id.value, 'EXECUTOR_EXITED');
  });

  it('kills an executor that never subscribes: REASON_EXECUTOR_REGISTRATION_TIMEOUT', async () => {
    const dir = await tempWorkDir();
    const impatient = await startAgent(dir, 2_000);
    try {
      const impatientId = await impatient.registered;
      const info = executor(taskId('mute'), 'sleep 60');
      const id = taskId('waiting');
      await master.send(impatientId, launch({ ...executorTask(id, info, 'true'), agent_id: { value: impatientId } }));
      const failed = await master.waitFor(id, 'TASK_FAILED', 20_000);
      expect(failed.status.reason).toBe('REASON_EXECUTOR_REGISTRATION_TIMEOUT');
      const exited = await executorMessage(info.executor_id.value, 'EXECUTOR_EXITED');
      expect((exited as { status: number }).status).toBe(9);
    } finally {
      await impatient.shutdown();
      await removeWorkDir(dir);
    }
  });
});

/** An executor that writes its environment and waits (the test speaks the API itself), with one task. */
async function rawExecutor(name: string): Promise<{ env: Record<string, string>; info: ExecutorInfo; id: string }> {
  const info = executor(taskId(name), 'env > env.txt; sleep 60');
  const id = taskId(`${name}-task`);
  await master.send(agentId, launch(executorTask(id, info, 'true')));
  const text = await eventually(
    async () => {
      const [run] = await sandboxes(workDir, info.executor_id.value);
      return run ? await readFile(join(run, 'env.txt'), 'utf8').catch(() => undefined) : undefined;
    },
    10_000,
    'the executor to write its environment',
  );
  const env = Object.fromEntries(
    text.split('\n').map((line) => [line.split('=')[0] ?? '', line.slice(line.indexOf('=') + 1)]),
  );
  return { env, info, id };
}

describe('the executor API', () => {
  let env: Record<string, string>;
  let info: ExecutorInfo;
  let id: string;
  const call = (body: unknown, headers: Record<string, string> = {}, method = 'POST') =>
    fetch(`http://${env.MESOS_AGENT_ENDPOINT}/api/v1/executor`, {
      method,
      headers: {
        'Content-Type': 'application/json',
        Authorization: `Bearer ${env.MESOS_EXECUTOR_AUTHENTICATION_TOKEN}`,
        ...headers,
      },
      ...(method === 'POST' ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {}),
    });
  const ids = () => ({ framework_id: { value: FRAMEWORK_ID }, executor_id: info.executor_id });

  beforeAll(async () => {
    ({ env, info, id } = await rawExecutor('raw'));
  });

  it("gives the executor Mesos's environment and its own token", () => {
    expect(env).toMatchObject({
      MESOS_FRAMEWORK_ID: FRAMEWORK_ID,
      MESOS_EXECUTOR_ID: info.executor_id.value,
      MESOS_AGENT_ENDPOINT: expect.stringMatching(/^127\.0\.0\.1:\d+$/),
      MESOS_HTTP_COMMAND_EXECUTOR: '0',
      MESOS_CHECKPOINT: '0',
      MESOS_RECOVERY_TIMEOUT: '15mins',
      MESOS_SUBSCRIPTION_BACKOFF_MAX: '2secs',
      MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD: '1secs',
    });
    expect(env.MESOS_DIRECTORY).toBe(env.MESOS_SANDBOX);
    expect(env.MESOS_EXECUTOR_AUTHENTICATION_TOKEN?.length).toBeGreaterThan(30);
  });

  it('refuses calls without the token, with another token, or for another executor', async () => {
    const subscribe = { type: 'SUBSCRIBE', ...ids(), subscribe: {} };
    expect((await call(subscribe, { Authorization: '' })).status).toBe(401);
    expect((await call(subscribe, { Authorization: 'Bearer not-a-token' })).status).toBe(401);
    const other = { ...subscribe, executor_id: { value: 'someone-else' } };
    expect((await call(other)).status).toBe(403);
    expect((await call({ ...subscribe, framework_id: { value: 'another-framework' } })).status).toBe(403);
  });

  it('refuses bad calls: 405, 415, 400', async () => {
    expect((await call(undefined, {}, 'GET')).status).toBe(405);
    expect((await call({ type: 'SUBSCRIBE', ...ids(), subscribe: {} }, { 'Content-Type': 'text/plain' })).status).toBe(
      415,
    );
    expect((await call('{not json')).status).toBe(400);
    expect((await call({ type: 'SUBSCRIBE', ...ids() })).status).toBe(400);
    const noUuid = { type: 'UPDATE', ...ids(), update: { status: { task_id: { value: id }, state: 'TASK_RUNNING' } } };
    const refused = await call(noUuid);
    expect(refused.status).toBe(400);
    expect(await refused.text()).toMatch(/uuid/);
  });

  it('streams SUBSCRIBED and LAUNCH, takes an UPDATE and acknowledges it; SHUTDOWN ends it', async () => {
    const response = await call({ type: 'SUBSCRIBE', ...ids(), subscribe: {} });
    expect(response.status).toBe(200);
    const reader = (response.body as ReadableStream<Uint8Array>).getReader();
    const decoder = new RecordIODecoder();
    const events: Array<{ type: string; [key: string]: unknown }> = [];
    const next = async (type: string) => {
      for (;;) {
        const found = events.find((event) => event.type === type);
        if (found) return found;
        const { value, done } = await reader.read();
        if (done) throw new Error(`stream ended before ${type}`);
        for (const record of decoder.decode(value)) events.push(JSON.parse(record) as (typeof events)[number]);
      }
    };
    expect(await next('SUBSCRIBED')).toMatchObject({
      subscribed: { executor_info: { executor_id: info.executor_id }, agent_info: { id: { value: agentId } } },
    });
    expect(await next('LAUNCH')).toMatchObject({ launch: { task: { task_id: { value: id } } } });
    const uuid = Buffer.alloc(16, 7).toString('base64');
    const status = { task_id: { value: id }, state: 'TASK_RUNNING', uuid };
    expect((await call({ type: 'UPDATE', ...ids(), update: { status } })).status).toBe(202);
    expect(await next('ACKNOWLEDGED')).toMatchObject({ acknowledged: { task_id: { value: id }, uuid } });
    await master.waitFor(id, 'TASK_RUNNING', 10_000, (s) => s.uuid === uuid);
    const stranger = { ...status, task_id: { value: 'not-mine' }, uuid: Buffer.alloc(16, 8).toString('base64') };
    expect((await call({ type: 'UPDATE', ...ids(), update: { status: stranger } })).status).toBe(400);

    await master.send(agentId, {
      type: 'SHUTDOWN_EXECUTOR',
      framework_id: { value: FRAMEWORK_ID },
      executor_id: info.executor_id,
    });
    await next('SHUTDOWN');
    const lost = await master.waitFor(id, 'TASK_LOST', 10_000);
    expect(lost.status.reason).toBe('REASON_EXECUTOR_TERMINATED');
    await executorMessage(info.executor_id.value, 'EXECUTOR_EXITED');
  });
});

describe('the executor API in protobuf', () => {
  it('subscribes, streams SUBSCRIBED and LAUNCH, takes an UPDATE and acknowledges it; 400, 406', async () => {
    const { env, info, id } = await rawExecutor('proto');
    const url = `http://${env.MESOS_AGENT_ENDPOINT}`;
    const auth = { Authorization: `Bearer ${env.MESOS_EXECUTOR_AUTHENTICATION_TOKEN}` };
    const ids = { framework_id: { value: FRAMEWORK_ID }, executor_id: info.executor_id };
    const subscribe = encode('mesos.executor.Call', { ...ids, type: 'SUBSCRIBE', subscribe: {} });
    expect((await protobufPost(url, '/api/v1/executor', subscribe, { ...auth, Accept: 'text/plain' })).status).toBe(
      406,
    );
    const garbage = await protobufPost(url, '/api/v1/executor', new Uint8Array([0x0a, 0xff, 0xff]), auth);
    expect(garbage.status).toBe(400);

    const stream = await ProtobufStream.open(url, '/api/v1/executor', subscribe, 'mesos.executor.Event', auth);
    expect(stream.response.headers.get('content-type')).toBe('application/x-protobuf');
    const subscribed = await stream.next((event) => event.type === 'SUBSCRIBED');
    expect(subscribed.subscribed).toMatchObject({
      executor_info: { executor_id: info.executor_id },
      agent_info: { id: { value: agentId } },
    });
    const launched = await stream.next((event) => event.type === 'LAUNCH');
    expect(launched.launch).toMatchObject({ task: { task_id: { value: id } } });

    const uuid = Buffer.alloc(16, 9).toString('base64');
    const status = { task_id: { value: id }, state: 'TASK_RUNNING', source: 'SOURCE_EXECUTOR', uuid };
    const update = encode('mesos.executor.Call', { ...ids, type: 'UPDATE', update: { status } });
    expect((await protobufPost(url, '/api/v1/executor', update, auth)).status).toBe(202);
    const acknowledged = await stream.next((event) => event.type === 'ACKNOWLEDGED');
    expect(acknowledged.acknowledged).toEqual({ task_id: { value: id }, uuid });
    await master.waitFor(id, 'TASK_RUNNING', 10_000, (s) => s.uuid === uuid);

    stream.close();
    await master.send(agentId, {
      type: 'SHUTDOWN_EXECUTOR',
      framework_id: { value: FRAMEWORK_ID },
      executor_id: info.executor_id,
    });
    await master.waitFor(id, 'TASK_LOST', 10_000);
  });
});
