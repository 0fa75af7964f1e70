/**
 * The cgroup2 GPU device filter of process tasks, on the real kernel, with fake GPUs from the inventory
 * seam and device nodes of NVIDIA's major made here (`mknod c 195 N`). With no driver, opening a node
 * the filter lets through fails with ENXIO ("No such device or address"); one the filter denies fails
 * with EPERM ("Operation not permitted"). The agent is pointed at an empty v1 hierarchy so that no v1
 * devices cgroup is used: its tasks live in the cgroup2 hierarchy only, as on the stack's AMI.
 */
import { execFile } from 'node:child_process';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { AwsClients } from '#shared/aws/clients.js';
import type { RunningAgent } from '../../agent/agent.js';
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
import { sandboxes, sandboxFile } from '../support/agent-sandbox.js';
import { buildDeviceFilter, HAS_C_COMPILER } from '../support/device-filter.js';
import { fakeGpus } from '../support/gpu-agent.js';
import { untilFile } from '../support/gates.js';

let clients: AwsClients;
let master: FakeMaster;
let emptyHierarchy: string;
let devices: string;
let loader: string;

const NODES = { gpu0: 0, gpu1: 1, gpu7: 7, nvidiactl: 255 } as const;

beforeAll(async () => {
  if (!HAS_C_COMPILER) return;
  clients = standInClients();
  master = await new FakeMaster({ sqs: clients.sqs }).start();
  emptyHierarchy = await mkdtemp(join(tmpdir(), 'mantle-no-cgroups-'));
  devices = await mkdtemp(join(tmpdir(), 'mantle-nvidia-dev-'));
  for (const [name, minor] of Object.entries(NODES)) {
    await promisify(execFile)('mknod', ['-m', '666', join(devices, name), 'c', '195', String(minor)]);
  }
  loader = await buildDeviceFilter();
});

afterAll(async () => {
  await master?.close();
  clients?.destroy();
  for (const dir of [emptyHierarchy, devices, loader && dirname(loader)]) {
    if (dir) await rm(dir, { recursive: true, force: true });
  }
});

function startAgent(workDir: string, filter: string = loader): Promise<RunningAgent> {
  return startTestAgent(master, {
    sqsEndpoint: inject('sqsEndpoint'),
    workDir,
    containerizers: ['mesos'],
    cgroupsHierarchy: emptyHierarchy,
    resources: 'cpus:2;mem:1024;disk:1024;gpus:2',
    gpuProcessIsolation: 'strict',
    gpuDeviceFilter: filter,
    options: { detectGpus: () => Promise.resolve(fakeGpus(2)) },
  });
}

/** One line per device: `<name>: ok`, or the error of opening it (the text after head's last ': '). */
function probe(): string {
  const names = [...Object.keys(NODES).map((name) => `"${devices}/${name}"`), '/dev/null'].join(' ');
  return `for d in ${names}; do msg=$(head -c0 "$d" 2>&1) && echo "\${d##*/}: ok" || echo "\${d##*/}: \${msg##*: }"; done`;
}

async function ended(agentId: string, id: string, shell: string, gpus: number) {
  await master.send(agentId, launch(commandTask(id, shell, { resources: resources(`cpus:0.1;mem:32;gpus:${gpus}`) })));
  return master.until(
    () => master.of(id).find((u) => ['TASK_FINISHED', 'TASK_FAILED', 'TASK_ERROR'].includes(u.status.state)),
    20_000,
    `${id} to end`,
  );
}

const ENXIO = 'No such device or address';
const EPERM = 'Operation not permitted';

describe.skipIf(!HAS_C_COMPILER)('the cgroup2 GPU device filter (needs cc)', () => {
  it('lets a process task open its GPU only; a task without GPUs none; other devices untouched', async () => {
    const workDir = await tempWorkDir();
    const agent = await startAgent(workDir);
    try {
      const agentId = await agent.registered;
      expect(agent.isolation.gpus).toBe('device-filter');
      const withGpu = taskId('gpu0');
      expect((await ended(agentId, withGpu, `echo "$CUDA_VISIBLE_DEVICES"; ${probe()}`, 1)).status.state).toBe(
        'TASK_FINISHED',
      );
      expect(await sandboxFile(workDir, withGpu, 'stdout')).toBe(
        `0\ngpu0: ${ENXIO}\ngpu1: ${EPERM}\ngpu7: ${EPERM}\nnvidiactl: ${ENXIO}\nnull: ok\n`,
      );
      const without = taskId('no-gpu');
      expect((await ended(agentId, without, probe(), 0)).status.state).toBe('TASK_FINISHED');
      expect(await sandboxFile(workDir, without, 'stdout')).toBe(
        `gpu0: ${EPERM}\ngpu1: ${EPERM}\ngpu7: ${EPERM}\nnvidiactl: ${ENXIO}\nnull: ok\n`,
      );
    } finally {
      await agent.shutdown();
      await removeWorkDir(workDir);
    }
  });

  it('stays on a task that outlives an agent restart', async () => {
    const workDir = await tempWorkDir();
    let first: RunningAgent | undefined = await startAgent(workDir);
    let second: RunningAgent | undefined;
    try {
      const id = taskId('recovered');
      const shell = `${untilFile('release')}; ${probe()}`;
      await master.send(
        await first.registered,
        launch(commandTask(id, shell, { resources: resources('cpus:0.1;mem:32;gpus:1') })),
      );
      await master.waitFor(id, 'TASK_RUNNING', 10_000);
      await first.stop();
      first = undefined;
      second = await startAgent(workDir);
      await second.registered;
      const [sandbox] = await sandboxes(workDir, id);
      await writeFile(join(sandbox as string, 'release'), '');
      await master.waitFor(id, 'TASK_FINISHED', 20_000);
      expect(await sandboxFile(workDir, id, 'stdout')).toBe(
        `gpu0: ${ENXIO}\ngpu1: ${EPERM}\ngpu7: ${EPERM}\nnvidiactl: ${ENXIO}\nnull: ok\n`,
      );
    } finally {
      await first?.shutdown();
      await second?.shutdown();
      await removeWorkDir(workDir);
    }
  });

  it('falls back to visibility, and says why, where the filter cannot be attached', async () => {
    const workDir = await tempWorkDir();
    const agent = await startAgent(workDir, join(devices, 'no-such-loader'));
    try {
      const agentId = await agent.registered;
      expect(agent.isolation.gpus).toBe('visibility');
      expect(agent.isolation.notes).toContainEqual(
        expect.stringMatching(/cgroup2 GPU device filter cannot be attached: .*no-such-loader is not there/),
      );
      const refused = await ended(agentId, taskId('refused'), 'true', 1);
      expect(refused.status).toMatchObject({ state: 'TASK_FAILED', reason: 'REASON_CONTAINER_LAUNCH_FAILED' });
    } finally {
      await agent.shutdown();
      await removeWorkDir(workDir);
    }
  });

  it('fails the launch, with the loader’s words, when the filter cannot be attached to the task', async () => {
    const workDir = await tempWorkDir();
    // Attaches for the agent's probe, refuses for tasks: the launch must fail rather than run unfiltered.
    const flaky = join(devices, 'flaky-loader');
    await writeFile(
      flaky,
      `#!/bin/sh\ncase "$1" in *.device-filter-probe-*) exec "${loader}" "$@";; esac\necho "refused for $1" >&2\nexit 1\n`,
    );
    await chmod(flaky, 0o755);
    const agent = await startAgent(workDir, flaky);
    try {
      const agentId = await agent.registered;
      expect(agent.isolation.gpus).toBe('device-filter');
      const id = taskId('unfiltered');
      const result = await ended(agentId, id, 'echo started', 1);
      expect(result.status).toMatchObject({ state: 'TASK_FAILED', reason: 'REASON_CONTAINER_LAUNCH_FAILED' });
      expect(result.status.message).toMatch(/Failed to set up cgroups: mantle-device-filter: refused for /);
      expect(await sandboxFile(workDir, id, 'stdout')).toBe('');
    } finally {
      await agent.shutdown();
      await removeWorkDir(workDir);
    }
  });
});
