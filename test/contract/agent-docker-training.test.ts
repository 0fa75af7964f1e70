/**
 * The Docker knobs distributed training needs, on a real agent and the real Docker engine: a /dev/shm of
 * the size asked for (`shm-size`), ulimits the task sees (`ulimit`), an IPC mode, and an added
 * capability only with its grant (`cap-add`, CapEff in /proc/self/status), refused before anything
 * starts without it. The rules themselves are unit-tested in test/unit/docker-parameters.test.ts.
 */
import Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { RunningAgent } from '../../agent/agent.js';
import { LABELS } from '../../agent/containerizer/docker-spec.js';
import type { AwsClients } from '#shared/aws/clients.js';
import type { LaunchGrant } from '#shared/protocol/internal.js';
import type { TaskInfo } from '#shared/protocol/mesos.js';

type Parameter = { key: string; value: string };
import { standInClients } from '../support/aws.js';
import { FakeMaster } from '../support/agent-master.js';
import {
  dockerTask,
  launch,
  removeContainers,
  removeWorkDir,
  ROOT_GRANT,
  startTestAgent,
  taskId,
  tempWorkDir,
  TEST_IMAGE,
} from '../support/agent.js';
import { sandboxFile } from '../support/agent-sandbox.js';

const docker = new Docker();
/** CAP_IPC_LOCK (14): what RDMA and pinned host memory need, outside Docker's default set. */
const CAP_IPC_LOCK = 14n;

let clients: AwsClients;
let master: FakeMaster;
let agent: RunningAgent;
let agentId: string;
let workDir: string;

beforeAll(async () => {
  clients = standInClients();
  master = await new FakeMaster({ sqs: clients.sqs }).start();
  workDir = await tempWorkDir();
  agent = await startTestAgent(master, { sqsEndpoint: inject('sqsEndpoint'), workDir, containerizers: ['docker'] });
  agentId = await agent.registered;
});

afterAll(async () => {
  await agent?.shutdown();
  await master?.close();
  clients?.destroy();
  if (workDir) {
    await removeContainers([workDir]);
    await removeWorkDir(workDir);
  }
});

function withParameters(id: string, shell: string, parameters: Parameter[]): TaskInfo {
  return dockerTask(id, shell, {
    container: { type: 'DOCKER', docker: { image: TEST_IMAGE, network: 'NONE', parameters } },
  });
}

async function runs(task: TaskInfo, grant: LaunchGrant = ROOT_GRANT) {
  await master.send(agentId, launch(task, { grant }));
  const id = task.task_id.value;
  return master.until(
    () =>
      master.of(id).find((received) => ['TASK_FINISHED', 'TASK_FAILED', 'TASK_ERROR'].includes(received.status.state)),
    30_000,
    `${id} to end`,
  );
}

async function finishedWith(task: TaskInfo, grant?: LaunchGrant): Promise<string> {
  const ended = await runs(task, grant);
  expect(ended.status.state, ended.status.message).toBe('TASK_FINISHED');
  return sandboxFile(workDir, task.task_id.value, 'stdout');
}

describe('Docker knobs for training', () => {
  it('gives the container a /dev/shm of the size asked for (Docker gives 64m without it)', async () => {
    // busybox df -k: the second line's second field is the size in KiB.
    const shell = "busybox df -k /dev/shm | busybox awk 'NR==2 {print $2}'";
    expect(await finishedWith(withParameters(taskId('shm'), shell, [{ key: 'shm-size', value: '256m' }]))).toBe(
      `${256 * 1024}\n`,
    );
    expect(await finishedWith(withParameters(taskId('shm-default'), shell, []))).toBe(`${64 * 1024}\n`);
  });

  it('sets the ulimits asked for: locked memory, stack, open files', async () => {
    // Raising a hard limit above the engine's own needs CAP_SYS_RESOURCE, which this machine's engine
    // lacks (its memlock is 8 MiB); a GPU host's engine runs as root with it, and memlock=-1:-1 works there.
    const task = withParameters(taskId('ulimit'), 'ulimit -l; ulimit -H -l; ulimit -s; ulimit -n; ulimit -H -n', [
      { key: 'ulimit', value: 'memlock=2097152:4194304' },
      { key: 'ulimit', value: 'stack=67108864' },
      { key: 'ulimit', value: 'nofile=4096:8192' },
    ]);
    expect(await finishedWith(task)).toBe('2048\n4096\n65536\n4096\n8192\n');
  });

  it('runs in a shareable IPC namespace of its own', async () => {
    const id = taskId('ipc');
    const ended = await runs(withParameters(id, 'true', [{ key: 'ipc', value: 'shareable' }]));
    expect(ended.status.state).toBe('TASK_FINISHED');
  });

  it('refuses cap-add without the capabilities grant, before any container is created', async () => {
    const id = taskId('cap-refused');
    const ended = await runs(withParameters(id, 'true', [{ key: 'cap-add', value: 'IPC_LOCK' }]));
    expect(ended.status).toMatchObject({
      state: 'TASK_ERROR',
      reason: 'REASON_TASK_UNAUTHORIZED',
      message: 'Not authorized: the task may not add the capability IPC_LOCK (acl: capabilities)',
    });
    const created = await docker.listContainers({
      all: true,
      filters: { label: [`${LABELS.workDir}=${workDir}`, `${LABELS.taskId}=${id}`] },
    });
    expect(created).toEqual([]);
  });

  it('adds a granted capability: the container has it in CapEff, and without cap-add it does not', async () => {
    const shell = "busybox awk '/^CapEff/ {print $2}' /proc/self/status";
    const grant = { ...ROOT_GRANT, capabilities: ['IPC_LOCK'] };
    const added = await finishedWith(
      withParameters(taskId('cap'), shell, [{ key: 'cap-add', value: 'CAP_IPC_LOCK' }]),
      grant,
    );
    const plain = await finishedWith(withParameters(taskId('cap-none'), shell, []), grant);
    const bit = (hex: string) => (BigInt(`0x${hex.trim()}`) >> CAP_IPC_LOCK) & 1n;
    expect([bit(added), bit(plain)]).toEqual([1n, 0n]);
  });

  it('answers a value Docker would not take with TASK_ERROR, REASON_TASK_INVALID', async () => {
    const ended = await runs(withParameters(taskId('bad-shm'), 'true', [{ key: 'shm-size', value: 'lots' }]));
    expect(ended.status).toMatchObject({ state: 'TASK_ERROR', reason: 'REASON_TASK_INVALID' });
    expect(ended.status.message).toMatch(/'shm-size=lots' is invalid/);
  });
});
