/**
 * Mantle Jobs and a queue's quota on a local cluster: a quota that caps only cpus still lets the allocator offer
 * the queue mem and disk, and a job held back by the quota must say "the queue's quota", not "no agent with the
 * resources" (placement reads the queue's limits and what its tasks hold); a queue at its limit for everything
 * is offered nothing, and the timer gives its head the allocator's reason. Reasons are written by the offers
 * handler and the timer a few seconds apart, so each is polled for, with a bound.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestCluster, type TestCluster } from '../support/cluster.js';
import { jobsOf, submitJob, waitForJob } from '../support/jobs-cluster.js';

let cluster: TestCluster;

beforeAll(async () => {
  cluster = await startTestCluster({
    agents: 1,
    containerizer: 'mesos',
    agentResources: 'cpus:2;mem:1024;disk:512',
    agent: { switchUser: false },
    jobs: {},
  });
}, 120_000);
afterAll(async () => {
  await cluster?.stop();
});

describe("Mantle Jobs: the queue's quota", () => {
  it('says a job waits for its queue’s quota while the queue is offered the resources the quota leaves free', async () => {
    const jobs = jobsOf(cluster);
    const put = await jobs.putQueue('capped', { weight: 1, quota: { guarantees: {}, limits: { cpus: 0.5 } } });
    expect(put.ok).toBe(true);
    const spec = { queue: 'capped', resources: 'cpus:0.5;mem:32' };
    const running = await submitJob(cluster, { ...spec, command: 'sleep 120' });
    await waitForJob(cluster, running.id, ['RUNNING']);
    const head = await submitJob(cluster, { ...spec, command: 'true' });
    const next = await submitJob(cluster, { ...spec, command: 'true' });
    await expect
      .poll(async () => (await jobs.get(head.id))?.pending_reason, { timeout: 45_000, interval: 250 })
      .toBe("the queue's quota: queue capped is at its cpus limit 0.5 (0.5 in use)");
    await expect
      .poll(async () => (await jobs.get(next.id))?.pending_reason, { timeout: 15_000, interval: 250 })
      .toBe('behind 1 job submitted earlier in queue capped');
    // It stays so: the filters of the framework's own declines (the allocator's FILTERED) do not overwrite it.
    for (let i = 0; i < 16; i++) {
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect((await jobs.get(head.id))?.pending_reason).toMatch(/^the queue's quota: queue capped is at its cpus/);
    }
    expect((await jobs.get(head.id))?.state).toBe('PENDING');
    // The quota's room comes back when the running job ends: the head runs.
    await jobs.cancel(running.id, 'make room');
    expect((await waitForJob(cluster, head.id, ['SUCCEEDED', 'FAILED'])).state).toBe('SUCCEEDED');
    await jobs.cancel(next.id, 'done');
  });

  it("gives the head of a queue the allocator offers nothing the allocator's quota reason (the timer's step)", async () => {
    const jobs = jobsOf(cluster);
    const limits = { cpus: 0, mem: 0, disk: 0 };
    expect((await jobs.putQueue('closed', { weight: 1, quota: { guarantees: {}, limits } })).ok).toBe(true);
    const head = await submitJob(cluster, { queue: 'closed', command: 'true', resources: 'cpus:0.1;mem:32' });
    const next = await submitJob(cluster, { queue: 'closed', command: 'true', resources: 'cpus:0.1;mem:32' });
    await expect
      .poll(async () => (await jobs.get(head.id))?.pending_reason, { timeout: 30_000, interval: 250 })
      .toMatch(/^the queue's quota: Role 'closed' is at its quota limit for /);
    await expect
      .poll(async () => (await jobs.get(next.id))?.pending_reason, { timeout: 15_000, interval: 250 })
      .toBe('behind 1 job submitted earlier in queue closed');
    for (const job of [next, head]) await jobs.cancel(job.id, 'done');
  });
});
