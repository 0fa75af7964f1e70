/**
 * `npm run check:gpu`: the agent's GPU path on a machine with NVIDIA GPUs, against the real driver and
 * Docker engine (an in-process agent, the SQS stand-in and a stand-in master that acknowledges at once):
 *
 * 1. detection: nvidia-smi parsed as the agent parses it (GPUs, MIG devices, UUIDs, device minors);
 * 2. a Docker task asking `gpus:1` sees exactly one `/dev/nvidia<N>`, the minor of the GPU it was given,
 *    and, where the image can run it, `nvidia-smi -L` lists that GPU's UUID alone;
 * 3. a process task asking `gpus:1` can open its own `/dev/nvidia<N>` and no other, and one asking no
 *    GPUs opens none but still `/dev/nvidiactl` (the devices cgroup on v1; on cgroup v2 the device
 *    filter, its loader compiled here with `cc`; where the agent reports visibility only, the task
 *    without GPUs is reported, not failed).
 *
 * Prints each result and writes bench/results/gpu.json (or `$GPU_CHECK_OUT`). Without a GPU (no
 * nvidia-smi, or it lists none) it says so, writes `{"gpu": false}` and exits 0; a failed check exits 1.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { detectGpus, type Gpu } from '../agent/gpu/nvidia.js';
import { startSqsStandIn } from '../local/aws-standins.js';
import { createAwsClients } from '#shared/aws/clients.js';
import type { TaskInfo } from '#shared/protocol/mesos.js';
import { FakeMaster } from '../test/support/agent-master.js';
import { buildDeviceFilter } from '../test/support/device-filter.js';
import { sandboxFile } from '../test/support/agent-sandbox.js';
import { setup as buildBaseImage } from '../test/support/base-image.js';
import {
  commandTask,
  dockerTask,
  launch,
  removeContainers,
  removeWorkDir,
  resources,
  startTestAgent,
  tempWorkDir,
} from '../test/support/agent.js';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const NVIDIA_SMI = process.env.NVIDIA_SMI ?? 'nvidia-smi';
const OUT = process.env.GPU_CHECK_OUT ?? join(dirname(fileURLToPath(import.meta.url)), 'results', 'gpu.json');

interface Check {
  readonly ok: boolean;
  readonly [detail: string]: unknown;
}

function write(result: Record<string, unknown>): void {
  mkdirSync(dirname(OUT), { recursive: true });
  writeFileSync(OUT, `${JSON.stringify({ at: new Date().toISOString(), ...result }, null, 2)}\n`);
  console.log(`written to ${OUT}`);
}

/** Lines of `/dev/nvidia<N>` device names a shell listed. */
const deviceLines = (text: string) => text.split('\n').filter((line) => /^\/dev\/nvidia\d+$/.test(line.trim()));

/** Runs one task to its end on the agent and returns its state and stdout. */
async function run(master: FakeMaster, agentId: string, workDir: string, task: TaskInfo) {
  await master.send(agentId, launch(task));
  const id = task.task_id.value;
  const ended = await master.until(
    () =>
      master
        .updates(id)
        .find((u) => ['TASK_FINISHED', 'TASK_FAILED', 'TASK_ERROR', 'TASK_DROPPED'].includes(u.status.state)),
    120_000,
    `${id} to end`,
  );
  const stdout = await sandboxFile(workDir, id, 'stdout').catch(() => '');
  return { state: ended.status.state, message: ended.status.message ?? '', stdout };
}

/** The GPU a task was given, from the UUID in its environment. */
function given(gpus: readonly Gpu[], stdout: string): Gpu | undefined {
  return gpus.find((gpu) => stdout.includes(gpu.uuid));
}

async function dockerCheck(master: FakeMaster, agentId: string, workDir: string, gpus: readonly Gpu[]) {
  const shell = 'echo "visible=$NVIDIA_VISIBLE_DEVICES"; ls /dev/nvidia[0-9]*; nvidia-smi -L 2>/dev/null || true';
  const task = dockerTask('check-gpu-docker', shell, { resources: resources('cpus:0.1;mem:128;gpus:1') });
  const ended = await run(master, agentId, workDir, task);
  const gpu = given(gpus, ended.stdout);
  const devices = deviceLines(ended.stdout);
  const smi = ended.stdout.split('\n').filter((line) => line.startsWith('GPU ') || line.includes('MIG '));
  const ok =
    ended.state === 'TASK_FINISHED' &&
    gpu !== undefined &&
    devices.length === 1 &&
    devices[0]?.trim() === `/dev/nvidia${gpu.minor}` &&
    smi.every((line) => line.includes(gpu.uuid));
  return { ok, state: ended.state, message: ended.message, given: gpu?.uuid, devices, nvidiaSmi: smi } satisfies Check;
}

const PROBE =
  'for d in /dev/nvidia[0-9]* /dev/nvidiactl; do if : < "$d" 2>/dev/null; then echo "open $d"; else echo "denied $d"; fi; done';

/** The devices a probe's output says the task opened. */
const openedIn = (stdout: string) =>
  stdout.split('\n').flatMap((line) => (line.startsWith('open ') ? [line.slice(5)] : []));

async function processCheck(master: FakeMaster, agentId: string, workDir: string, gpus: readonly Gpu[]) {
  const shell = `echo "visible=$CUDA_VISIBLE_DEVICES"; ${PROBE}`;
  const task = commandTask('check-gpu-process', shell, { resources: resources('cpus:0.1;mem:64;gpus:1') });
  const ended = await run(master, agentId, workDir, task);
  const gpu = given(gpus, ended.stdout);
  const opened = openedIn(ended.stdout);
  const ok =
    ended.state === 'TASK_FINISHED' && gpu !== undefined && opened.join() === `/dev/nvidia${gpu.minor},/dev/nvidiactl`;
  return { ok, state: ended.state, message: ended.message, given: gpu?.uuid, opened } satisfies Check;
}

/** A process task without GPUs opens no GPU where the agent enforces devices (visibility: reported only). */
async function noGpuCheck(master: FakeMaster, agentId: string, workDir: string, enforced: boolean) {
  const task = commandTask('check-gpu-process-none', PROBE, { resources: resources('cpus:0.1;mem:64') });
  const ended = await run(master, agentId, workDir, task);
  const opened = openedIn(ended.stdout);
  const isolated = ended.state === 'TASK_FINISHED' && opened.join() === '/dev/nvidiactl';
  return { ok: isolated || (!enforced && ended.state === 'TASK_FINISHED'), enforced, state: ended.state, opened };
}

/** The cgroup2 device filter's loader, compiled here; undefined (and why) where it cannot be. */
async function deviceFilter(): Promise<string | undefined> {
  try {
    return await buildDeviceFilter();
  } catch (error) {
    console.log(`device filter not built (${(error as Error).message.trim()}): the agent says what it enforces`);
    return undefined;
  }
}

async function main(): Promise<number> {
  let gpus: readonly Gpu[];
  try {
    gpus = (await detectGpus(NVIDIA_SMI)).gpus;
  } catch (error) {
    console.log(`GPU detection failed: ${(error as Error).message}`);
    write({ gpu: false, error: (error as Error).message });
    return 1;
  }
  if (gpus.length === 0) {
    console.log(`No NVIDIA GPU here (${NVIDIA_SMI} absent or listing none): nothing to check.`);
    write({ gpu: false });
    return 0;
  }
  for (const gpu of gpus) console.log(`detected ${gpu.index}: ${gpu.model} ${gpu.uuid} minor ${gpu.minor}`);
  await buildBaseImage();
  const sqs = await startSqsStandIn();
  const clients = createAwsClients({ endpoints: { sqs: sqs.endpoint } });
  const master = await new FakeMaster({ sqs: clients.sqs }).start();
  const workDir = await tempWorkDir();
  const agent = await startTestAgent(master, {
    sqsEndpoint: sqs.endpoint,
    workDir,
    containerizers: ['mesos', 'docker'],
    nvidiaSmi: NVIDIA_SMI,
    resources: 'cpus:2;mem:2048;disk:4096',
    gpuDeviceFilter: (await deviceFilter()) ?? 'none',
  });
  try {
    const agentId = await agent.registered;
    const docker = await dockerCheck(master, agentId, workDir, gpus);
    console.log(`docker task: ${docker.ok ? 'ok' : 'FAILED'} ${JSON.stringify(docker)}`);
    console.log(`isolation: ${JSON.stringify(agent.isolation)}`);
    const processTask = await processCheck(master, agentId, workDir, gpus);
    console.log(`process task: ${processTask.ok ? 'ok' : 'FAILED'} ${JSON.stringify(processTask)}`);
    const enforced = agent.isolation.gpus === 'devices-cgroup' || agent.isolation.gpus === 'device-filter';
    const noGpu = await noGpuCheck(master, agentId, workDir, enforced);
    console.log(`process task without GPUs: ${noGpu.ok ? 'ok' : 'FAILED'} ${JSON.stringify(noGpu)}`);
    const ok = docker.ok && processTask.ok && noGpu.ok;
    write({ gpu: true, ok, gpus, isolation: agent.isolation, docker, process: processTask, processNoGpu: noGpu });
    return ok ? 0 : 1;
  } finally {
    await agent.shutdown();
    await master.close();
    clients.destroy();
    await sqs.stop();
    await removeContainers([workDir]);
    await removeWorkDir(workDir);
  }
}

process.exitCode = await main();
