/**
 * Custom executors end to end through the real master (its hono app, the registrar on DynamoDB Local,
 * the status pipeline) and a real agent: a framework's ACCEPT launches a task with the example
 * executor, its updates come back, the executor's resources are charged once beside the tasks', a MESSAGE
 * call reaches the executor and its echo comes back as a MESSAGE event, and the executor's end is a
 * FAILURE event. The master's validation of ExecutorInfo answers TASK_ERROR.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { RunningAgent } from '../../agent/agent.js';
import type { ExecutorInfo } from '#shared/protocol/mesos.js';
import { scalarTotal } from '#shared/resources/resources.js';
import { ECHO_EXECUTOR, removeWorkDir, startTestAgent, tempWorkDir } from '../support/agent.js';
import { startTestMaster, type TestMaster } from '../support/master.js';
import { launch, offer, resources, subscribe, type TestAgent, type TestFramework } from '../support/scheduler.js';

let tm: TestMaster;
let framework: TestFramework;
let agent: RunningAgent;
let target: TestAgent;
let workDir: string;

beforeAll(async () => {
  tm = await startTestMaster();
  workDir = await tempWorkDir();
  agent = await startTestAgent(
    { url: tm.url },
    { sqsEndpoint: inject('sqsEndpoint'), workDir, containerizers: ['mesos'], port: 0 },
  );
  const agentId = await agent.registered;
  const record = await tm.master.registrar.agents.get(agentId);
  target = { agentId, commandQueueUrl: record?.commandQueueUrl as string };
  framework = (await subscribe(tm)).acknowledgeAll();
});

afterAll(async () => {
  framework?.close();
  await agent?.shutdown();
  await tm?.close();
  if (workDir) await removeWorkDir(workDir);
});

function executor(id: string, extra: Partial<ExecutorInfo> = {}): ExecutorInfo {
  return {
    type: 'CUSTOM',
    executor_id: { value: id },
    command: { value: ECHO_EXECUTOR },
    resources: resources('cpus:0.1;mem:64'),
    ...extra,
  };
}

function task(id: string, info: ExecutorInfo, shell: string) {
  return {
    name: id,
    task_id: { value: id },
    agent_id: { value: target.agentId },
    resources: resources('cpus:0.2;mem:32'),
    executor: info,
    data: Buffer.from(shell).toString('base64'),
  };
}

const text = (data: string | undefined) => Buffer.from(data ?? '', 'base64').toString('utf8');

describe('a task with a custom executor', () => {
  it('runs, is charged with its executor, and messages go both ways; the end is a FAILURE', async () => {
    const info = executor('echo-1');
    const made = await offer(tm, framework, target, 'cpus:1;mem:256');
    const accepted = await framework.call(
      'ACCEPT',
      launch([made.offerId], [task('ce-1', info, 'true'), task('ce-2', info, 'sleep 60')]),
    );
    expect(accepted.status).toBe(202);
    const ledger = await tm.master.registrar.agents.get(target.agentId);
    const charged = Object.values(ledger?.tasks ?? {}).flatMap((t) => t.resources);
    expect(scalarTotal(charged, 'mem')).toBe(32 + 32);
    // The executor is held once, in an entry of its own, until it ends.
    expect(Object.values(ledger?.executors ?? {}).map((e) => [e.executorId, scalarTotal(e.resources, 'mem')])).toEqual([
      ['echo-1', 64],
    ]);

    const running = await framework.update('ce-1', 'TASK_RUNNING', 20_000);
    expect(running).toMatchObject({ source: 'SOURCE_EXECUTOR', executor_id: { value: 'echo-1' } });
    await framework.update('ce-1', 'TASK_FINISHED', 10_000);
    await framework.update('ce-2', 'TASK_RUNNING', 10_000);

    const message = { agent_id: { value: target.agentId }, executor_id: { value: 'echo-1' } };
    const sent = await framework.call('MESSAGE', {
      message: { ...message, data: Buffer.from('hi').toString('base64') },
    });
    expect(sent.status).toBe(202);
    const echoed = await framework.next((e) => e.type === 'MESSAGE', 15_000);
    expect(echoed.message).toMatchObject(message);
    expect(text(echoed.message?.data)).toBe('echo: hi');

    await framework.call('MESSAGE', { message: { ...message, data: Buffer.from('exit 2').toString('base64') } });
    const failed = await framework.update('ce-2', 'TASK_FAILED', 15_000);
    expect(failed.reason).toBe('REASON_EXECUTOR_TERMINATED');
    const failure = await framework.next((e) => e.type === 'FAILURE', 15_000);
    expect(failure.failure).toEqual({ ...message, status: 2 << 8 });
    // Its end gave its resources back before the framework heard of it.
    expect((await tm.master.registrar.agents.get(target.agentId))?.executors).toEqual({});
  });
});

describe("the master's validation of ExecutorInfo", () => {
  it.each([
    ['without a command', executor('v-1', { command: undefined }), /ExecutorInfo.command/],
    ['of type DEFAULT', executor('v-2', { type: 'DEFAULT' }), /CUSTOM/],
    ['of another framework', executor('v-3', { framework_id: { value: 'someone-else' } }), /invalid FrameworkID/],
    [
      'in a DOCKER container without its DockerInfo',
      executor('v-4', { container: { type: 'DOCKER' } }),
      /DockerInfo 'docker' is not set/,
    ],
  ])('refuses an executor %s: TASK_ERROR', async (_what, info, message) => {
    const made = await offer(tm, framework, target, 'cpus:0.5;mem:128');
    const id = `bad-${info.executor_id.value}`;
    await framework.call('ACCEPT', launch([made.offerId], [task(id, info, 'true')]));
    const error = await framework.update(id, 'TASK_ERROR', 10_000);
    expect(error.reason).toBe('REASON_TASK_INVALID');
    expect(error.message).toMatch(message);
  });

  it('refuses a second description of one executor id in an ACCEPT', async () => {
    const made = await offer(tm, framework, target, 'cpus:1;mem:256');
    const one = executor('twice');
    const other = executor('twice', { name: 'another' });
    await framework.call('ACCEPT', launch([made.offerId], [task('tw-1', one, 'sleep 1'), task('tw-2', other, 'true')]));
    const error = await framework.update('tw-2', 'TASK_ERROR', 10_000);
    expect(error.message).toMatch(/differs/);
    await framework.update('tw-1', 'TASK_FINISHED', 20_000);
    await framework.call('SHUTDOWN', {
      shutdown: { agent_id: { value: target.agentId }, executor_id: { value: 'twice' } },
    });
    const failure = await framework.next(
      (e) => e.type === 'FAILURE' && e.failure?.executor_id?.value === 'twice',
      15_000,
    );
    expect(failure.failure?.agent_id?.value).toBe(target.agentId);
  });
});
