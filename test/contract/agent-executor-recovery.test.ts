/**
 * Custom executors across an agent restart (real processes, the SQS stand-in, the stand-in master): the
 * example executor keeps running while the agent is down, resubscribes to the restarted agent with its
 * secret, and its task finishes; an executor that does not come back within
 * `--executor_reregistration_timeout` is killed and its task fails; a task holding a persistent volume
 * under a custom executor writes to it before and after the restart, and a later task reads it; a
 * custom executor's task group (LAUNCH_GROUP) comes through the restart as a task does.
 */
import { freePort } from '../../local/aws-standins.js';
import { afterAll, beforeAll, expect, inject, it } from 'vitest';
import type { RunningAgent } from '../../agent/agent.js';
import type { AwsClients } from '#shared/aws/clients.js';
import type { AgentCommand } from '#shared/protocol/internal.js';
import type { ExecutorInfo, Resource, TaskInfo } from '#shared/protocol/mesos.js';
import { standInClients } from '../support/aws.js';
import { FakeMaster } from '../support/agent-master.js';
import {
  commandTask,
  ECHO_EXECUTOR,
  launch,
  removeWorkDir,
  resources,
  startTestAgent,
  taskId,
  tempWorkDir,
} from '../support/agent.js';

let clients: AwsClients;
let master: FakeMaster;
let workDir: string;
let port: number;
let agent: RunningAgent | undefined;

/**
 * A TypeScript executor's first task running: its process (Node with tsx) starts and subscribes, which
 * took over 20 s on this 2-core machine under a full test run's load; the agent itself waits 60 s.
 */
const EXECUTOR_START_MS = 60_000;

async function startAgent(): Promise<RunningAgent> {
  agent = await startTestAgent(master, {
    sqsEndpoint: inject('sqsEndpoint'),
    workDir,
    containerizers: ['mesos'],
    port,
    executorRegistrationTimeoutMs: 60_000,
    executorReregistrationTimeoutMs: 6_000,
    executorShutdownGracePeriodMs: 1_000,
  });
  return agent;
}

beforeAll(async () => {
  clients = standInClients();
  master = await new FakeMaster({ sqs: clients.sqs }).start();
  workDir = await tempWorkDir();
  port = await freePort();
});

afterAll(async () => {
  await agent?.shutdown();
  await master?.close();
  clients?.destroy();
  if (workDir) await removeWorkDir(workDir);
});

function executorTask(
  id: string,
  info: ExecutorInfo,
  shell: string,
  agentId: string,
  extra: readonly Resource[] = [],
): TaskInfo {
  return {
    name: id,
    task_id: { value: id },
    agent_id: { value: agentId },
    resources: [...resources('cpus:0.1;mem:32'), ...extra],
    executor: info,
    data: Buffer.from(shell).toString('base64'),
  };
}

const executor = (id: string, command: string): ExecutorInfo => ({
  type: 'CUSTOM',
  executor_id: { value: id },
  command: { value: command },
  resources: resources('cpus:0.1;mem:64'),
});

it(
  'keeps the executors through an agent restart: one resubscribes and finishes, one that does not is killed',
  { timeout: 3 * EXECUTOR_START_MS },
  async () => {
    const first = await startAgent();
    const agentId = await first.registered;
    const echo = executor(taskId('echo'), ECHO_EXECUTOR);
    const mute = executor(taskId('mute'), 'sleep 120');
    const survivor = taskId('survivor');
    const orphan = taskId('orphan');
    await master.send(
      agentId,
      launch(executorTask(survivor, echo, 'sleep 6; echo done', agentId)),
      launch(executorTask(orphan, mute, 'true', agentId)),
    );
    await master.waitFor(survivor, 'TASK_RUNNING', EXECUTOR_START_MS);

    await first.stop();
    const second = await startAgent();
    const restartedAt = performance.now();
    expect(await second.registered).toBe(agentId);
    // The survivor's executor kept running and came back: the task it held finishes.
    const finished = await master.waitFor(survivor, 'TASK_FINISHED', 30_000);
    expect(finished.status).toMatchObject({ source: 'SOURCE_EXECUTOR', executor_id: echo.executor_id });
    expect(finished.at).toBeGreaterThan(restartedAt);
    expect(second.metrics.snapshot()['slave/recovered_executors']).toBe(2);

    const failed = await master.waitFor(orphan, 'TASK_FAILED', 20_000);
    expect(failed.status.reason).toBe('REASON_EXECUTOR_REREGISTRATION_TIMEOUT');
    const exited = await master.until(
      () =>
        master.executorMessages.find(
          (m) => m.type === 'EXECUTOR_EXITED' && m.executor_id.value === mute.executor_id.value,
        ),
      20_000,
      'the mute executor to end',
    );
    expect((exited as { status: number }).status).toBe(9);
  },
);

/** A persistent volume of role `ml`, at `data` in the sandbox. */
const volume = (id: string): Resource[] =>
  resources('disk(ml):8').map((r) => ({
    ...r,
    reservations: [{ type: 'DYNAMIC' as const, role: 'ml' }],
    disk: { persistence: { id }, volume: { mode: 'RW' as const, container_path: 'data' } },
  }));

it(
  'keeps a custom executor and the persistent volume its task holds through an agent restart',
  { timeout: 3 * EXECUTOR_START_MS },
  async () => {
    await agent?.shutdown();
    const first = await startAgent();
    const agentId = await first.registered;
    const echo = executor(taskId('echo-volume'), ECHO_EXECUTOR);
    const holder = taskId('holder');
    // Writes before the restart, waits through it, then appends and checks both lines are there.
    const shell =
      'echo before > data/log; sleep 6; echo after >> data/log; test "$(cat data/log)" = "$(printf \'before\\nafter\')"';
    await master.send(agentId, launch(executorTask(holder, echo, shell, agentId, volume('ckpt'))));
    await master.waitFor(holder, 'TASK_RUNNING', EXECUTOR_START_MS);

    await first.stop();
    const second = await startAgent();
    expect(await second.registered).toBe(agentId);
    const finished = await master.waitFor(holder, 'TASK_FINISHED', 30_000);
    expect(finished.status.executor_id).toEqual(echo.executor_id);

    // A command task given the same volume later reads what the executor's task wrote on both sides.
    const reader = taskId('reader');
    const read = commandTask(reader, 'grep -q before data/log && grep -q after data/log', {
      resources: [...resources('cpus:0.1;mem:32'), ...volume('ckpt')],
    });
    await master.send(agentId, launch(read));
    await master.waitFor(reader, 'TASK_FINISHED', 20_000);
  },
);

it(
  "keeps a custom executor's task group through an agent restart: both tasks finish, reported by the executor",
  { timeout: 3 * EXECUTOR_START_MS },
  async () => {
    await agent?.shutdown();
    const first = await startAgent();
    const agentId = await first.registered;
    const echo = executor(taskId('echo-group'), ECHO_EXECUTOR);
    const members = [taskId('member-a'), taskId('member-b')];
    const tasks = members.map((id) => ({
      ...executorTask(id, echo, 'sleep 6; echo done', agentId),
      executor: undefined,
    }));
    const { framework_id, framework_info, grant } = launch(tasks[0] as TaskInfo) as Extract<
      AgentCommand,
      { type: 'LAUNCH' }
    >;
    await master.send(agentId, {
      type: 'LAUNCH_GROUP',
      framework_id,
      framework_info,
      executor: echo,
      task_group: { tasks },
      launch_id: 'launch-recovered-group',
      ...(grant ? { grant } : {}),
    });
    for (const id of members) await master.waitFor(id, 'TASK_RUNNING', EXECUTOR_START_MS);

    await first.stop();
    const second = await startAgent();
    const restartedAt = performance.now();
    expect(await second.registered).toBe(agentId);
    for (const id of members) {
      const finished = await master.waitFor(id, 'TASK_FINISHED', 30_000);
      expect(finished.status).toMatchObject({ source: 'SOURCE_EXECUTOR', executor_id: echo.executor_id });
      expect(finished.at).toBeGreaterThan(restartedAt);
    }
    expect(second.metrics.snapshot()['slave/recovered_executors']).toBe(1);
  },
);
