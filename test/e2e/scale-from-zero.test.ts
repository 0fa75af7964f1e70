/**
 * A fresh cluster with no agents (minAgents=0) runs a GPU task end to end through the fleet: a framework
 * says what it waits for with REQUEST, the fleet tick turns it into AgentsNeeded, the group (the stand-in
 * of test/support/fleet.ts, with the Auto Scaling stub) launches an instance whose agent has a fake GPU,
 * the task runs there while its instance is protected from scale-in, and once nothing waits the idle
 * agent is drained and its instance terminated: back to zero.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_DEMAND_SETTINGS } from '../../functions/fleet/demand.js';
import { runBatch } from '../support/batch-framework.js';
import { eventually, startTestCluster, type TestCluster } from '../support/cluster.js';
import { StandInGroup } from '../support/fleet.js';
import { resources } from '../support/scheduler.js';
import { untilFile } from '../support/gates.js';

const GPU_TASK = 'cpus:0.5;mem:64;gpus:1';

let cluster: TestCluster;
let group: StandInGroup;
beforeAll(async () => {
  cluster = await startTestCluster({ agents: 0 });
  group = await StandInGroup.start(cluster, {
    maxAgents: 4,
    gpusPerAgent: 1,
    agentResources: 'cpus:2;mem:2048;disk:1024',
    demand: { ...DEFAULT_DEMAND_SETTINGS, agentShape: { cpus: 2, mem: 2048, gpus: 1 } },
  });
}, 120_000);
afterAll(async () => {
  await group?.stop();
  await cluster?.stop();
});

describe('scaling from zero', () => {
  it('launches an agent for a requested GPU task, runs it, and drains the idle agent away', async () => {
    const idle = await group.tick();
    expect(idle.gauges).toMatchObject({ activeAgents: 0, agentsNeeded: 0, scaleInCandidates: 0 });
    expect(group.launched).toEqual([]);

    // The task runs until the busy tick below has seen it: a fixed sleep could end first on a loaded machine.
    const release = join(cluster.workDir, 'release-train');
    const run = await runBatch({
      master: cluster.url,
      tasks: [{ taskId: 'train', command: untilFile(release), resources: GPU_TASK }],
      framework: { name: 'trainer', capabilities: [{ type: 'PARTITION_AWARE' }, { type: 'GPU_RESOURCES' }] },
    });
    await run.driver.request([{ resources: resources(GPU_TASK), count: 1 }]);

    const demand = await group.tick();
    expect(demand.gauges).toMatchObject({ requestedTasks: 1, pendingTasks: 1, pendingGpus: 1, agentsNeeded: 1 });
    expect(group.launched).toHaveLength(1);
    const [instance] = group.launched as [string];

    // The agent registers, the allocator offers its GPU, the task runs there.
    const running = await eventually(
      async () => run.timelines.get('train')?.updates.find((update) => update.state === 'TASK_RUNNING'),
      30_000,
      'the task to run',
    );
    expect(running).toBeDefined();
    // Launched, nothing else waits: the framework says so (each REQUEST replaces the last).
    await run.driver.request([]);
    const busy = await group.tick();
    expect(busy.gauges).toMatchObject({ activeAgents: 1, activeTasks: 1, agentsNeeded: 0, scaleInCandidates: 0 });
    expect(busy.protected).toEqual([instance]);
    expect(group.launched).toHaveLength(1);

    await writeFile(release, '');
    await run.done;
    const ended = run.timelines.get('train')?.ended;
    expect(ended?.state).toBe('TASK_FINISHED');
    expect(ended?.agent_id?.value).toBe(group.instances.get(instance)?.agentId);

    // An offer of the freed resources keeps the instance protected until the framework declines it.
    const done = await eventually(
      async () => {
        const report = await group.tick();
        return report.unprotected.length > 0 ? report : undefined;
      },
      30_000,
      'the idle instance to lose its protection',
    );
    expect(done.gauges).toMatchObject({ agentsNeeded: 0, idleAgents: 1, scaleInCandidates: 1 });
    expect(done.unprotected).toEqual([instance]);
    expect(await group.scaleIn()).toBe(instance);
    const agentId = ended?.agent_id?.value ?? '';
    expect((await cluster.master.registrar.agents.get(agentId))?.status).toBe('GONE');

    const zero = await group.tick();
    expect(zero.gauges).toMatchObject({ activeAgents: 0, agentsNeeded: 0, scaleInCandidates: 0 });
    expect(group.launched).toHaveLength(1);
    await run.stop();
  }, 120_000);

  it('does not scale out for a task no agent of the fleet could hold', async () => {
    const run = await runBatch({
      master: cluster.url,
      tasks: [{ taskId: 'too-big', command: 'true', resources: 'cpus:1;mem:64;gpus:2' }],
      framework: { name: 'greedy', capabilities: [{ type: 'GPU_RESOURCES' }] },
    });
    await run.driver.request([{ resources: resources('cpus:1;mem:64;gpus:2') }]);
    const report = await group.tick();
    expect(report.gauges).toMatchObject({ unplaceableTasks: 1, agentsNeeded: 0 });
    expect(group.launched).toHaveLength(1);
    await run.stop();
  }, 60_000);
});
