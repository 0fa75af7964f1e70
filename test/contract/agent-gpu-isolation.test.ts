/**
 * GPUs of process tasks where no device filter can be applied (no devices cgroup and no cgroup2 device
 * filter; here: an agent pointed at an empty cgroup hierarchy, its filter off), with fake GPUs from the
 * inventory seam: the agent says so at registration (`isolation.notes`), and with
 * `--gpu_process_isolation=strict` refuses process tasks that ask for GPUs, while without it they run
 * with only CUDA_VISIBLE_DEVICES to keep them to their GPUs.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { AwsClients } from '#shared/aws/clients.js';
import { standInClients } from '../support/aws.js';
import { FakeMaster } from '../support/agent-master.js';
import {
  commandTask,
  launch,
  removeWorkDir,
  resources,
  startTestAgent,
  taskId,
  tempWorkDir,
} from '../support/agent.js';
import { sandboxFile } from '../support/agent-sandbox.js';
import { fakeGpus } from '../support/gpu-agent.js';

let clients: AwsClients;
let master: FakeMaster;
let emptyHierarchy: string;

beforeAll(async () => {
  clients = standInClients();
  master = await new FakeMaster({ sqs: clients.sqs }).start();
  emptyHierarchy = await mkdtemp(join(tmpdir(), 'mantle-no-cgroups-'));
});

afterAll(async () => {
  await master?.close();
  clients?.destroy();
  if (emptyHierarchy) await rm(emptyHierarchy, { recursive: true, force: true });
});

async function withAgent(strict: boolean, body: (agentId: string, workDir: string, notes: string[]) => Promise<void>) {
  const workDir = await tempWorkDir();
  const agent = await startTestAgent(master, {
    sqsEndpoint: inject('sqsEndpoint'),
    workDir,
    containerizers: ['mesos'],
    cgroupsHierarchy: emptyHierarchy,
    resources: 'cpus:2;mem:1024;disk:1024;gpus:2',
    gpuProcessIsolation: strict ? 'strict' : 'visibility',
    gpuDeviceFilter: 'none',
    options: { detectGpus: () => Promise.resolve(fakeGpus(2)) },
  });
  try {
    await body(await agent.registered, workDir, [...agent.isolation.notes]);
    expect(agent.isolation.gpus).toBe('visibility');
  } finally {
    await agent.shutdown();
    await removeWorkDir(workDir);
  }
}

async function ended(agentId: string, id: string) {
  const task = commandTask(id, 'echo "$CUDA_VISIBLE_DEVICES"', { resources: resources('cpus:0.1;mem:32;gpus:1') });
  await master.send(agentId, launch(task));
  return master.until(
    () =>
      master.of(id).find((received) => ['TASK_FINISHED', 'TASK_FAILED', 'TASK_ERROR'].includes(received.status.state)),
    20_000,
    `${id} to end`,
  );
}

describe('GPU process tasks without a device filter', () => {
  it('refuses them with --gpu_process_isolation=strict, and says so at registration', async () => {
    await withAgent(true, async (agentId, _workDir, notes) => {
      expect(
        notes.some((note) =>
          /process tasks that ask for GPUs are refused \(--gpu_process_isolation=strict\)/.test(note),
        ),
      ).toBe(true);
      const result = await ended(agentId, taskId('strict'));
      expect(result.status).toMatchObject({ state: 'TASK_FAILED', reason: 'REASON_CONTAINER_LAUNCH_FAILED' });
      expect(result.status.message).toMatch(/cannot keep a process task off GPUs .* --gpu_process_isolation=strict/);
    });
  });

  it('runs them with visibility only by default, and says so at registration', async () => {
    await withAgent(false, async (agentId, workDir, notes) => {
      expect(notes.some((note) => /see GPUs they were not given if they ignore CUDA_VISIBLE_DEVICES/.test(note))).toBe(
        true,
      );
      const id = taskId('visible');
      expect((await ended(agentId, id)).status.state).toBe('TASK_FINISHED');
      expect(await sandboxFile(workDir, id, 'stdout')).toBe('0\n');
    });
  });
});
