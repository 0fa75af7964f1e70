/**
 * Persistent volumes and disks on a real agent (process tasks, the SQS stand-in): a volume's data
 * outlives the task that wrote it and an agent restart.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { RunningAgent } from '../../agent/agent.js';
import type { AwsClients } from '#shared/aws/clients.js';
import type { Resource } from '#shared/protocol/mesos.js';
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

let clients: AwsClients;
let master: FakeMaster;
let workDir: string;

beforeAll(async () => {
  clients = standInClients();
  master = await new FakeMaster({ sqs: clients.sqs }).start();
  workDir = await tempWorkDir();
});

afterAll(async () => {
  await master?.close();
  clients?.destroy();
  if (workDir) await removeWorkDir(workDir);
});

function volume(id: string): Resource[] {
  return resources('disk(ml):8').map((r) => ({
    ...r,
    reservations: [{ type: 'DYNAMIC' as const, role: 'ml' }],
    disk: { persistence: { id }, volume: { mode: 'RW' as const, container_path: 'data' } },
  }));
}

async function run(agentId: string, shell: string, persistence: string): Promise<string> {
  const id = taskId('volume');
  const task = commandTask(id, shell, { resources: [...resources('cpus:0.1;mem:32'), ...volume(persistence)] });
  await master.send(agentId, launch(task));
  const ended = await master.until(
    () => master.updates(id).find((u) => ['TASK_FINISHED', 'TASK_FAILED', 'TASK_ERROR'].includes(u.status.state)),
    20_000,
    `${id} to end`,
  );
  return ended.status.state;
}

describe('persistent volumes', () => {
  it('keep their data across tasks and an agent restart', async () => {
    const options = { sqsEndpoint: inject('sqsEndpoint'), workDir, containerizers: ['mesos' as const] };
    let agent: RunningAgent = await startTestAgent(master, options);
    const agentId = await agent.registered;
    expect(await run(agentId, 'echo weights > data/model', 'model')).toBe('TASK_FINISHED');
    expect(await run(agentId, 'test "$(cat data/model)" = weights', 'model')).toBe('TASK_FINISHED');
    expect(await run(agentId, 'test -e data/model', 'other')).toBe('TASK_FAILED');
    await agent.stop();
    agent = await startTestAgent(master, options);
    expect(await agent.registered).toBe(agentId);
    expect(await run(agentId, 'test "$(cat data/model)" = weights', 'model')).toBe('TASK_FINISHED');
    await agent.shutdown();
  });
});
