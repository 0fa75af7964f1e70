/**
 * Custom executors in Docker containers on a real agent (the real Docker engine, the SQS stand-in, the
 * stand-in master). The executor is the example executor run by the host's Node binary, which is
 * bind-mounted read-only into the test image with its libraries and this repository: the container is
 * a real container, the executor a real v1 executor reaching the agent on the host network. It runs
 * tasks, sees Mesos's environment with its sandbox at the container's sandbox path, echoes messages,
 * and its container's end (a `docker kill`) fails its tasks; its container's limits follow its live tasks
 * (`docker inspect` read back); it is found again by its container's name after an agent restart. A NONE network, or a grant that does not allow what it asks, is refused.
 */
import { readFile, realpath } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { RunningAgent } from '../../agent/agent.js';
import { LABELS } from '../../agent/containerizer/docker-spec.js';
import type { AwsClients } from '#shared/aws/clients.js';
import type { LaunchGrant } from '#shared/protocol/internal.js';
import type { ExecutorInfo, TaskInfo, Volume } from '#shared/protocol/mesos.js';
import { standInClients } from '../support/aws.js';
import { FakeMaster } from '../support/agent-master.js';
import {
  ECHO_EXECUTOR,
  FRAMEWORK_ID,
  kill,
  launch,
  removeContainers,
  removeWorkDir,
  resources,
  ROOT_GRANT,
  startTestAgent,
  taskId,
  tempWorkDir,
  TEST_IMAGE,
} from '../support/agent.js';
import { freePort } from '../../local/aws-standins.js';
import { sandboxes } from '../support/agent-sandbox.js';
import { eventually } from '../support/cluster.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

const docker = new Docker();
let clients: AwsClients;
let master: FakeMaster;
let agent: RunningAgent | undefined;
let agentId: string;
let workDir: string;
let port: number;
/** What the executor needs of the host, read-only at the same paths: Node, its libraries, the code. */
let mounts: Volume[];

async function startAgent(): Promise<RunningAgent> {
  agent = await startTestAgent(master, {
    sqsEndpoint: inject('sqsEndpoint'),
    workDir,
    containerizers: ['docker'],
    port,
    // The agent's default: the example executor (Node with tsx) took over 20 s to subscribe under a full run's load.
    executorRegistrationTimeoutMs: 60_000,
    executorReregistrationTimeoutMs: 10_000,
    executorShutdownGracePeriodMs: 1_000,
  });
  return agent;
}

beforeAll(async () => {
  clients = standInClients();
  master = await new FakeMaster({ sqs: clients.sqs }).start();
  workDir = await tempWorkDir();
  port = await freePort();
  const modules = await realpath(join(ROOT, 'node_modules'));
  // Each seen in the container at the path Node looks at, from the host path it resolves to (with a
  // merged /usr, /lib is a link to /usr/lib): the grant and the mount policy check the resolved path.
  const paths = [process.execPath, '/lib', '/lib64', ROOT.replace(/\/$/, ''), modules];
  mounts = await Promise.all(
    paths.map(async (path) => ({ host_path: await realpath(path), container_path: path, mode: 'RO' as const })),
  );
  agentId = await (await startAgent()).registered;
});

afterAll(async () => {
  await agent?.shutdown();
  await master?.close();
  clients?.destroy();
  // The executors outlive the agent (as in Mesos): their containers go with the test.
  if (workDir) await removeContainers([workDir]);
  if (workDir) await removeWorkDir(workDir);
});

const grant = (): LaunchGrant => ({ ...ROOT_GRANT, host_paths: mounts.map((mount) => mount.host_path as string) });

function executor(id: string, docker: Partial<NonNullable<ExecutorInfo['container']>['docker']> = {}): ExecutorInfo {
  return {
    type: 'CUSTOM',
    executor_id: { value: id },
    command: { value: ECHO_EXECUTOR },
    resources: resources('cpus:0.1;mem:96'),
    container: { type: 'DOCKER', docker: { image: TEST_IMAGE, network: 'HOST', ...docker }, volumes: mounts },
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

function executorMessage(executorId: string, type: 'EXECUTOR_MESSAGE' | 'EXECUTOR_EXITED') {
  return master.until(
    () => master.executorMessages.find((m) => m.type === type && m.executor_id.value === executorId),
    20_000,
    `${type} of ${executorId}`,
  );
}

async function containerOf(executorId: string): Promise<Docker.ContainerInspectInfo> {
  const [listed] = await docker.listContainers({
    all: true,
    filters: { label: [`${LABELS.executorId}=${executorId}`, `${LABELS.workDir}=${workDir}`] },
  });
  if (!listed) throw new Error(`No container for executor ${executorId}`);
  return docker.getContainer(listed.Id).inspect();
}

/** The container's CPU quota and memory limits, as `docker inspect` shows them (swap never granted). */
async function limitsOf(id: string): Promise<{ quota: number; memoryMb: number; swapMb: number }> {
  const { HostConfig } = await docker.getContainer(id).inspect();
  const mb = (bytes: number | undefined) => (bytes ?? 0) / (1024 * 1024);
  return { quota: HostConfig.CpuQuota ?? 0, memoryMb: mb(HostConfig.Memory), swapMb: mb(HostConfig.MemorySwap) };
}

function untilLimits(id: string, want: { quota: number; memoryMb: number }): Promise<unknown> {
  const expected = { ...want, swapMb: want.memoryMb };
  return eventually(
    async () => (JSON.stringify(await limitsOf(id)) === JSON.stringify(expected) ? true : undefined),
    10_000,
    `limits ${JSON.stringify(expected)}`,
  ).catch(async (error: unknown) => {
    expect(await limitsOf(id), String(error)).toEqual(expected);
  });
}

describe('a custom executor in a Docker container', () => {
  it('runs tasks with Mesos environment, echoes messages, and a killed container fails its tasks', async () => {
    const info = executor(taskId('docker-echo'));
    const first = taskId('first');
    await master.send(agentId, launch(executorTask(first, info, 'env > task-env.txt'), { grant: grant() }));
    const running = await master.waitFor(first, 'TASK_RUNNING', 30_000);
    expect(running.status).toMatchObject({ source: 'SOURCE_EXECUTOR', executor_id: info.executor_id });
    await master.waitFor(first, 'TASK_FINISHED', 10_000);

    const [sandbox] = await sandboxes(workDir, info.executor_id.value);
    const env = await readFile(join(sandbox as string, 'task-env.txt'), 'utf8');
    expect(env).toContain('MESOS_SANDBOX=/mnt/mesos/sandbox\n');
    expect(env).toContain(`MESOS_DIRECTORY=${sandbox as string}\n`);
    expect(env).toContain(`MESOS_EXECUTOR_ID=${info.executor_id.value}\n`);
    expect(env).toMatch(/MESOS_AGENT_ENDPOINT=127\.0\.0\.1:\d+\n/);
    const inspected = await containerOf(info.executor_id.value);
    expect(inspected.HostConfig.NetworkMode).toBe('host');
    expect(inspected.Config.Labels[LABELS.frameworkId]).toBe(FRAMEWORK_ID);

    await master.send(agentId, {
      type: 'FRAMEWORK_MESSAGE',
      framework_id: { value: FRAMEWORK_ID },
      executor_id: info.executor_id,
      data: Buffer.from('ping').toString('base64'),
    });
    const echoed = await executorMessage(info.executor_id.value, 'EXECUTOR_MESSAGE');
    expect(Buffer.from((echoed as { data: string }).data, 'base64').toString()).toBe('echo: ping');

    const second = taskId('second');
    await master.send(agentId, launch(executorTask(second, info, 'sleep 60'), { grant: grant() }));
    await master.waitFor(second, 'TASK_RUNNING', 10_000);
    await docker.getContainer(inspected.Id).kill({ signal: 'SIGKILL' });
    const failed = await master.waitFor(second, 'TASK_FAILED', 15_000);
    expect(failed.status).toMatchObject({ source: 'SOURCE_AGENT', reason: 'REASON_EXECUTOR_TERMINATED' });
    const exited = await executorMessage(info.executor_id.value, 'EXECUTOR_EXITED');
    expect((exited as { status: number }).status).toBe(137 << 8);
  });

  it("updates the container's limits as tasks come and go: the executor's resources and its live tasks'", async () => {
    const info = executor(taskId('docker-sized'));
    const first = taskId('sized-first');
    await master.send(agentId, launch(executorTask(first, info, 'sleep 60'), { grant: grant() }));
    await master.waitFor(first, 'TASK_RUNNING', 30_000);
    const { Id } = await containerOf(info.executor_id.value);
    // The executor's cpus:0.1;mem:96 and the task's cpus:0.1;mem:32.
    await untilLimits(Id, { quota: 20_000, memoryMb: 128 });

    const second = taskId('sized-second');
    const larger = { ...executorTask(second, info, 'sleep 60'), resources: resources('cpus:0.5;mem:64') };
    await master.send(agentId, launch(larger, { grant: grant() }));
    await master.waitFor(second, 'TASK_RUNNING', 10_000);
    await untilLimits(Id, { quota: 70_000, memoryMb: 192 });

    await master.send(agentId, kill(second));
    await master.waitFor(second, 'TASK_KILLED', 10_000);
    await untilLimits(Id, { quota: 20_000, memoryMb: 128 });

    await master.send(agentId, {
      type: 'FRAMEWORK_MESSAGE',
      framework_id: { value: FRAMEWORK_ID },
      executor_id: info.executor_id,
      data: Buffer.from('exit 0').toString('base64'),
    });
    await master.waitFor(first, 'TASK_FAILED', 15_000);
  });

  it('refuses an executor on network NONE, which could not reach the agent: TASK_FAILED', async () => {
    const info = executor(taskId('docker-none'), { network: 'NONE' });
    const id = taskId('unreachable');
    await master.send(agentId, launch(executorTask(id, info, 'true'), { grant: grant() }));
    const failed = await master.waitFor(id, 'TASK_FAILED', 10_000);
    expect(failed.status.reason).toBe('REASON_CONTAINER_LAUNCH_FAILED');
    expect(failed.status.message).toMatch(/network NONE could not reach the agent's executor API.*use network HOST/);
  });

  it("applies the task's grant: a privileged executor without the privileged grant is refused", async () => {
    const info = executor(taskId('docker-privileged'), { privileged: true });
    const id = taskId('unprivileged');
    await master.send(agentId, launch(executorTask(id, info, 'true'), { grant: grant() }));
    const refused = await master.waitFor(id, 'TASK_ERROR', 10_000);
    expect(refused.status.reason).toBe('REASON_TASK_UNAUTHORIZED');
    expect(refused.status.message).toMatch(/^The executor: Not authorized.*privileged/);

    const mounting = executor(taskId('docker-mounting'));
    const other = taskId('not-mounting');
    await master.send(agentId, launch(executorTask(other, mounting, 'true'), { grant: ROOT_GRANT }));
    const unmounted = await master.waitFor(other, 'TASK_ERROR', 10_000);
    expect(unmounted.status.message).toMatch(/may not mount the host path/);
  });

  it('finds the container again by its name after an agent restart; the executor resubscribes', async () => {
    const info = executor(taskId('docker-survivor'));
    const id = taskId('survivor');
    await master.send(agentId, launch(executorTask(id, info, 'sleep 6; echo done'), { grant: grant() }));
    await master.waitFor(id, 'TASK_RUNNING', 30_000);
    await (agent as RunningAgent).stop();
    const second = await startAgent();
    const restartedAt = performance.now();
    expect(await second.registered).toBe(agentId);
    const finished = await master.waitFor(id, 'TASK_FINISHED', 30_000);
    expect(finished.status).toMatchObject({ source: 'SOURCE_EXECUTOR', executor_id: info.executor_id });
    expect(finished.at).toBeGreaterThan(restartedAt);
    expect(second.metrics.snapshot()['slave/recovered_executors']).toBe(1);
  });
});
