/**
 * A custom executor's container follows its tasks (a real agent, the example executor as a real process,
 * the host's cgroups read back): it holds the executor's resources and its live tasks', growing when a
 * task or a task group is given to the running executor and shrinking when a task ends.
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { RunningAgent } from '../../agent/agent.js';
import { ContainerCgroup, detectCgroups } from '../../agent/isolation/cgroups.js';
import { containerLimits } from '../../agent/isolation/limits.js';
import type { AwsClients } from '#shared/aws/clients.js';
import type { AgentCommand } from '#shared/protocol/internal.js';
import type { ExecutorInfo, TaskInfo } from '#shared/protocol/mesos.js';
import { standInClients } from '../support/aws.js';
import { FakeMaster } from '../support/agent-master.js';
import {
  ECHO_EXECUTOR,
  FRAMEWORK_ID,
  kill,
  launch,
  removeWorkDir,
  resources,
  startTestAgent,
  taskId,
  tempWorkDir,
} from '../support/agent.js';
import { eventually } from '../support/cluster.js';

const CGROUPS = '/sys/fs/cgroup';
const cgroups = await detectCgroups(CGROUPS, 'mantle');
const MB = 1024 * 1024;

let clients: AwsClients;
let master: FakeMaster;
let agent: RunningAgent;
let agentId: string;
let workDir: string;

beforeAll(async () => {
  clients = standInClients();
  master = await new FakeMaster({ sqs: clients.sqs }).start();
  workDir = await tempWorkDir();
  agent = await startTestAgent(master, {
    sqsEndpoint: inject('sqsEndpoint'),
    workDir,
    containerizers: ['mesos'],
    port: 0,
    executorShutdownGracePeriodMs: 1_000,
  });
  agentId = await agent.registered;
});

afterAll(async () => {
  await agent?.shutdown();
  await master?.close();
  clients?.destroy();
  if (workDir) await removeWorkDir(workDir);
});

function task(id: string, spec: string, shell: string, executor?: ExecutorInfo): TaskInfo {
  return {
    name: id,
    task_id: { value: id },
    agent_id: { value: agentId },
    resources: resources(spec),
    ...(executor ? { executor } : {}),
    data: Buffer.from(shell).toString('base64'),
  };
}

function group(info: ExecutorInfo, tasks: TaskInfo[]): AgentCommand {
  const { framework_id, framework_info, grant } = launch(tasks[0] as TaskInfo) as Extract<
    AgentCommand,
    { type: 'LAUNCH' }
  >;
  const base = { type: 'LAUNCH_GROUP' as const, framework_id, framework_info, executor: info };
  return { ...base, task_group: { tasks }, launch_id: 'launch-limits-group', ...(grant ? { grant } : {}) };
}

/** The container's CPU quota (µs per 100 ms period) and hard memory limit, as the kernel has them. */
async function limits(containerId: string): Promise<{ quota: number; memory: number }> {
  const read = (controller: string, file: string) =>
    readFile(join(CGROUPS, ...(cgroups.version === 'v1' ? [controller] : []), 'mantle', containerId, file), 'utf8');
  if (cgroups.version === 'v1') {
    const quota = Number(await read('cpu', 'cpu.cfs_quota_us'));
    return { quota, memory: Number(await read('memory', 'memory.limit_in_bytes')) };
  }
  const quota = Number((await read('cpu', 'cpu.max')).split(' ')[0]);
  return { quota, memory: Number(await read('memory', 'memory.max')) };
}

function until(containerId: string, quota: number, memoryMb: number): Promise<unknown> {
  const want = { quota, memory: memoryMb * MB };
  return eventually(
    async () => (JSON.stringify(await limits(containerId)) === JSON.stringify(want) ? true : undefined),
    10_000,
    `limits ${JSON.stringify(want)}`,
  ).catch(async (error: unknown) => {
    expect(await limits(containerId), String(error)).toEqual(want);
  });
}

describe.runIf(cgroups.version !== 'none')(`an executor's cgroups (${cgroups.version})`, () => {
  it('grow with each task and task group given to the executor, and shrink as tasks end', async () => {
    const info: ExecutorInfo = {
      type: 'CUSTOM',
      executor_id: { value: taskId('sized') },
      command: { value: ECHO_EXECUTOR },
      resources: resources('cpus:0.1;mem:64'),
    };
    const first = taskId('first');
    await master.send(agentId, launch(task(first, 'cpus:0.1;mem:32', 'sleep 60', info)));
    const running = await master.waitFor(first, 'TASK_RUNNING', 20_000);
    const containerId = running.status.container_status?.container_id?.value as string;
    await until(containerId, 20_000, 96);

    const second = taskId('second');
    await master.send(agentId, launch(task(second, 'cpus:0.5;mem:64', 'sleep 60', info)));
    await master.waitFor(second, 'TASK_RUNNING', 10_000);
    await until(containerId, 70_000, 160);

    const [a, b] = [taskId('member-a'), taskId('member-b')];
    await master.send(
      agentId,
      group(info, [task(a, 'cpus:0.2;mem:32', 'sleep 60'), task(b, 'cpus:0.2;mem:32', 'sleep 60')]),
    );
    for (const id of [a, b]) await master.waitFor(id, 'TASK_RUNNING', 10_000);
    await until(containerId, 110_000, 224);

    await master.send(agentId, kill(second));
    await master.waitFor(second, 'TASK_KILLED', 10_000);
    await until(containerId, 60_000, 160);
    for (const id of [a, b]) await master.send(agentId, kill(id));
    for (const id of [a, b]) await master.waitFor(id, 'TASK_KILLED', 10_000);
    await until(containerId, 20_000, 96);

    await master.send(agentId, {
      type: 'FRAMEWORK_MESSAGE',
      framework_id: { value: FRAMEWORK_ID },
      executor_id: info.executor_id,
      data: Buffer.from('exit 0').toString('base64'),
    });
    await master.waitFor(first, 'TASK_FAILED', 10_000);
  });
});

describe.runIf(cgroups.version !== 'none')(`a container resized below what it uses (${cgroups.version})`, () => {
  it('keeps its hard memory limit while the CPU limit follows', async () => {
    const cgroup = new ContainerCgroup(cgroups, `resize-${randomUUID()}`);
    const options = { enableCfs: true, pidsLimit: 0 };
    await cgroup.create(containerLimits(resources('cpus:1;mem:128'), undefined, options), []);
    // A process holding 80 MB (touched, so resident) in the container.
    const hog = spawn(
      process.execPath,
      ['-e', 'globalThis.b = Buffer.alloc(80 * 1024 * 1024, 1); setInterval(() => {}, 1e3); console.log("ready")'],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    try {
      await cgroup.join(hog.pid as number);
      await new Promise((resolve) => hog.stdout.once('data', resolve));
      expect(await cgroup.resize(containerLimits(resources('cpus:0.5;mem:64'), undefined, options))).toBe(false);
      expect(await limits(cgroup.containerId)).toEqual({ quota: 50_000, memory: 128 * MB });
      expect(hog.exitCode).toBeNull();
      expect(await cgroup.resize(containerLimits(resources('cpus:0.5;mem:256'), undefined, options))).toBe(true);
      expect(await limits(cgroup.containerId)).toEqual({ quota: 50_000, memory: 256 * MB });
    } finally {
      hog.kill('SIGKILL');
      await cgroup.destroy();
    }
  });
});
