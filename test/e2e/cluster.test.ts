/**
 * The whole kernel on one machine, as `npm start` runs it: stand-ins, the master's handlers and three
 * agents. A framework runs 300 short tasks (a tenth in Docker when a daemon answers); every update
 * reaches it (at least once) and is acknowledged; afterwards no agent has anything allocated.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { allocatedByAgent, registrarSnapshot, registrarViolations } from '../support/invariants.js';
import { runBatch, type BatchTask } from '../support/batch-framework.js';
import { eventually, startTestCluster, type TestCluster } from '../support/cluster.js';

const IMAGE = 'mantle/busybox:test';

let cluster: TestCluster;
beforeAll(async () => {
  cluster = await startTestCluster({ agents: 3, agentResources: 'cpus:2;mem:2048;disk:1024' });
}, 120_000);
afterAll(async () => {
  await cluster?.stop();
});

describe('a local cluster with three agents', () => {
  it('answers /health', async () => {
    const response = await fetch(`${cluster.url}/health`);
    expect(response.status).toBe(200);
  });

  it('runs 300 short tasks: each update delivered and acknowledged, every ledger back to zero', async () => {
    const docker = cluster.containerizer === 'docker' && (await imagePresent());
    const tasks: BatchTask[] = Array.from({ length: 300 }, (_, i) => ({
      taskId: `t-${i}`,
      command: `echo task ${i}`,
      resources: 'cpus:0.1;mem:16',
      ...(docker && i % 10 === 0 ? { dockerImage: IMAGE } : {}),
    }));
    const run = await runBatch({ master: cluster.url, tasks });
    await run.done;

    for (const timeline of run.timelines.values()) {
      expect(timeline.ended?.state, timeline.taskId).toBe('TASK_FINISHED');
      // Delivery is at least once, as in Mesos: an update whose acknowledgement is slow is resent with the
      // same uuid. The distinct updates are the three, in order.
      const distinct = [...new Map(timeline.updates.map((u) => [u.uuid, u.state])).values()];
      expect(distinct).toEqual(['TASK_STARTING', 'TASK_RUNNING', 'TASK_FINISHED']);
      expect(timeline.updates.every((u) => u.uuid !== undefined)).toBe(true);
    }
    // Acknowledged: the registrar marks every task's terminal update acknowledged.
    const acknowledged = await eventually(
      async () => {
        const { tasks: records } = await registrarSnapshot(cluster.master);
        const mine = records.filter((task) => task.frameworkId === run.frameworkId);
        return mine.length === 300 && mine.every((task) => task.acknowledged) ? mine : undefined;
      },
      30_000,
      'every terminal update to be acknowledged',
    );
    expect(acknowledged).toHaveLength(300);
    // The output's tail rides on the terminal update.
    const last = run.timelines.get('t-299')?.ended;
    expect(Buffer.from(last?.data ?? '', 'base64').toString()).toBe('task 299\n');

    const snapshot = await registrarSnapshot(cluster.master);
    expect(Object.values(allocatedByAgent(snapshot))).toEqual([[], [], []]);
    expect(await registrarViolations(cluster.master)).toEqual([]);
    await run.stop();
  });
});

async function imagePresent(): Promise<boolean> {
  const { default: Docker } = await import('dockerode');
  try {
    await new Docker().getImage(IMAGE).inspect();
    return true;
  } catch {
    return false;
  }
}
