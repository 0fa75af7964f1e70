/**
 * Mantle Jobs on a fresh cluster with no agents (minAgents=0): a GPU job submitted through the JobsService
 * waits for resources; the Jobs ticker sends its pending demand as a REQUEST; the fleet tick turns it into
 * AgentsNeeded; the group (test/support/fleet.ts: the Auto Scaling stub and instances whose agents have fake
 * GPUs) launches one; the job runs there and SUCCEEDS; with nothing pending the idle agent is drained and
 * its instance terminated: back to zero agents.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_DEMAND_SETTINGS } from '../../functions/fleet/demand.js';
import type { FleetTickReport } from '../../functions/fleet/tick.js';
import { eventually, startTestCluster, type TestCluster } from '../support/cluster.js';
import { StandInGroup } from '../support/fleet.js';
import { submitJob, waitForJob } from '../support/jobs-cluster.js';

let cluster: TestCluster;
let group: StandInGroup;
beforeAll(async () => {
  cluster = await startTestCluster({ agents: 0, jobs: {} });
  group = await StandInGroup.start(cluster, {
    maxAgents: 2,
    gpusPerAgent: 2,
    agentResources: 'cpus:4;mem:4096;disk:1024',
    demand: { ...DEFAULT_DEMAND_SETTINGS, agentShape: { cpus: 4, mem: 4096, gpus: 2 } },
  });
}, 120_000);
afterAll(async () => {
  await group?.stop();
  await cluster?.stop();
});

/** Fleet ticks (as the schedule would run them, faster) until one reports what `done` wants. */
function tickUntil(done: (report: FleetTickReport) => boolean, what: string): Promise<FleetTickReport> {
  return eventually(
    async () => {
      const report = await group.tick();
      return done(report) ? report : undefined;
    },
    30_000,
    what,
  );
}

describe('a GPU job on a cluster with no agents', () => {
  it('scales the fleet out from zero, runs to SUCCEEDED, and scales back in by drain', async () => {
    expect(cluster.agents).toEqual([]);
    const job = await submitJob(cluster, {
      name: 'train',
      command: 'echo "training on $CUDA_VISIBLE_DEVICES"',
      resources: 'cpus:1;mem:256;gpus:1',
    });
    expect(job.state).toBe('PENDING');

    const demand = await tickUntil((report) => report.gauges.agentsNeeded > 0, 'the fleet to see the job');
    expect(demand.gauges).toMatchObject({ activeAgents: 0, agentsNeeded: 1, unplaceableTasks: 0 });
    expect(demand.gauges.pendingGpus).toBeGreaterThanOrEqual(1);
    expect(group.launched).toHaveLength(1);
    const [instance] = group.launched as [string];

    const done = await waitForJob(cluster, job.id, ['SUCCEEDED', 'FAILED', 'CANCELLED'], 60_000);
    expect(done.state).toBe('SUCCEEDED');
    expect(done.attempts).toHaveLength(1);
    expect(done.attempts[0]?.agent_id).toBe(group.instances.get(instance)?.agentId);
    expect(done.attempts[0]?.exit_code).toBe(0);

    // Nothing pending (the ticker's next REQUEST is empty): the idle agent is the one to let go.
    const idle = await tickUntil(
      (report) =>
        report.gauges.requestedTasks === 0 &&
        report.gauges.scaleInCandidates === 1 &&
        group.stub.inService.get(instance) === false,
      'the demand to go and the agent to be idle, its instance unprotected',
    );
    expect(idle.gauges).toMatchObject({ agentsNeeded: 0, activeTasks: 0 });
    expect(group.launched).toHaveLength(1);
    expect(await group.scaleIn()).toBe(instance);

    const zero = await group.tick();
    expect(zero.gauges).toMatchObject({ activeAgents: 0, agentsNeeded: 0, scaleInCandidates: 0 });
    expect(group.terminated).toEqual([instance]);
  }, 120_000);
});
