/**
 * Mesos's --filter_gpu_resources, end to end on the local cluster (`mantle local --filter_gpu_resources`):
 * with the filter on (the default) a framework without GPU_RESOURCES gets no offers from an agent with
 * GPUs, so its task waits while a GPU_RESOURCES framework's runs there; with it off, the same task runs
 * on the GPU agent. The agent has fake GPUs (test/support/gpu-agent.ts).
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { RunningAgent } from '../../agent/agent.js';
import { runBatch, type BatchRun } from '../support/batch-framework.js';
import { startTestCluster, type TestCluster } from '../support/cluster.js';
import { startGpuAgent } from '../support/gpu-agent.js';

const TASK = { command: 'true', resources: 'cpus:0.1;mem:16' };

let cluster: TestCluster | undefined;
let agent: RunningAgent | undefined;
const runs: BatchRun[] = [];

afterEach(async () => {
  for (const run of runs.splice(0)) await run.stop().catch(() => undefined);
  await agent?.shutdown(2000);
  agent = undefined;
  await cluster?.stop();
  cluster = undefined;
});

async function gpuCluster(filterGpuResources?: boolean): Promise<void> {
  cluster = await startTestCluster({
    agents: 0,
    ...(filterGpuResources !== undefined ? { allocator: { filterGpuResources } } : {}),
  });
  agent = await startGpuAgent(cluster, { gpus: 1 });
}

async function batch(taskId: string, gpuResources: boolean): Promise<BatchRun> {
  const run = await runBatch({
    master: (cluster as TestCluster).url,
    tasks: [{ taskId, ...TASK }],
    framework: {
      name: gpuResources ? 'gpu-aware' : 'plain',
      capabilities: [{ type: 'PARTITION_AWARE' }, ...(gpuResources ? [{ type: 'GPU_RESOURCES' as const }] : [])],
    },
  });
  runs.push(run);
  return run;
}

describe('the GPU filter (--filter_gpu_resources)', () => {
  it('on by default: a task without GPU_RESOURCES waits while a GPU_RESOURCES framework runs on the GPU agent', async () => {
    await gpuCluster();
    const plain = await batch('plain-task', false);
    const aware = await batch('aware-task', true);
    await aware.done;
    expect(aware.timelines.get('aware-task')?.ended?.state).toBe('TASK_FINISHED');
    // Several allocation passes (one a second) later, the plain framework has had no offer.
    await new Promise((resolve) => setTimeout(resolve, 4000));
    expect(plain.timelines.get('plain-task')?.updates).toEqual([]);
    const record = await cluster?.master.registrar.frameworks.get(plain.frameworkId);
    expect(record?.status).toBe('SUBSCRIBED');
    const onAgent = await cluster?.master.registrar.agents.get(agent?.agentId ?? '');
    expect(Object.values(onAgent?.offers ?? {}).filter((o) => o.frameworkId === plain.frameworkId)).toEqual([]);
  }, 90_000);

  it('off: the same task runs on the GPU agent', async () => {
    await gpuCluster(false);
    const plain = await batch('plain-task', false);
    await plain.done;
    const ended = plain.timelines.get('plain-task')?.ended;
    expect(ended?.state).toBe('TASK_FINISHED');
    expect(ended?.agent_id?.value).toBe(agent?.agentId);
  }, 90_000);
});
