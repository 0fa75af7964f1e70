/**
 * Why pending, end to end: the allocator's reasons kept per framework and role and served by Mantle's
 * GET_PENDING_REASONS on the operator API (every framework's, with Mantle Jobs' pending jobs) and on the
 * scheduler API (a framework's own), through the SDK.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SchedulerDriver } from '../../sdk/scheduler.js';
import { frameworkPendingReasons, getPendingReasons, type PendingReason } from '../../sdk/pending.js';
import { eventually, startTestCluster, type TestCluster } from '../support/cluster.js';
import { submitJob } from '../support/jobs-cluster.js';

let cluster: TestCluster;
let decliner: SchedulerDriver;
let quiet: SchedulerDriver;

beforeAll(async () => {
  cluster = await startTestCluster({
    agents: 1,
    containerizer: 'mesos',
    agentResources: 'cpus:2;mem:1024;disk:512',
    jobs: {},
  });
  // Declines everything for two minutes: its role is then FILTERED.
  decliner = new SchedulerDriver(
    {
      async resourceOffers(driver, offers) {
        await driver.decline(
          offers.map((offer) => offer.id.value),
          120,
        );
      },
    },
    { master: cluster.url, framework: { user: 'root', name: 'decliner', role: 'analytics' } },
  );
  await decliner.start();
  // Wants nothing: SUPPRESSED.
  quiet = new SchedulerDriver(
    {
      async resourceOffers(driver, offers) {
        await driver.decline(offers.map((offer) => offer.id.value));
      },
    },
    { master: cluster.url, framework: { user: 'root', name: 'quiet', role: 'idle' } },
  );
  await quiet.start();
  await quiet.suppress(['idle']);
}, 120_000);

afterAll(async () => {
  await decliner?.stop();
  await quiet?.stop();
  await cluster?.stop();
});

const of = (reasons: readonly PendingReason[], frameworkId: string | undefined) =>
  reasons.find((reason) => reason.framework_id?.value === frameworkId);

describe('why pending', () => {
  it("GET_PENDING_REASONS shows each framework's role the allocator offered nothing, with its cause", async () => {
    const reasons = await eventually(
      async () => {
        const all = await getPendingReasons({ master: cluster.url });
        const filtered = of(all, decliner.frameworkId)?.code === 'FILTERED';
        return filtered && of(all, quiet.frameworkId)?.code === 'SUPPRESSED' ? all : undefined;
      },
      30_000,
      'FILTERED and SUPPRESSED reasons',
    );
    const filtered = of(reasons, decliner.frameworkId) as PendingReason;
    expect(filtered).toMatchObject({ role: 'analytics', code: 'FILTERED', agents: { FILTERED: 1 } });
    expect(filtered.message).toMatch(/Filters from declined offers cover what 1 agent have free/);
    expect(filtered.filtered_until?.nanoseconds).toBeGreaterThan(Date.now() * 1e6);
    expect(filtered.since.nanoseconds).toBeLessThanOrEqual((filtered.updated_at?.nanoseconds ?? 0) + 1);
    expect(of(reasons, quiet.frameworkId)).toMatchObject({ role: 'idle', code: 'SUPPRESSED' });

    // Filtered to one framework, or one role.
    const one = await getPendingReasons({ master: cluster.url }, { frameworkId: quiet.frameworkId as string });
    expect(one.map((reason) => reason.framework_id?.value)).toEqual([quiet.frameworkId]);
    const role = await getPendingReasons({ master: cluster.url }, { role: 'analytics' });
    expect(role.map((reason) => reason.role)).toEqual(['analytics']);
  });

  it('a reason goes when the role is offered again (REVIVE)', async () => {
    await quiet.revive(['idle']);
    await eventually(
      async () => (of(await getPendingReasons({ master: cluster.url }), quiet.frameworkId) ? undefined : true),
      30_000,
      "the quiet framework's reason to go",
    );
    await quiet.suppress(['idle']);
  });

  it("joins Mantle Jobs' reasons for its pending jobs", async () => {
    const job = await submitJob(cluster, { command: 'true', resources: 'cpus:64;mem:32' });
    const reason = await eventually(
      async () => (await getPendingReasons({ master: cluster.url })).find((r) => r.job_id === job.id),
      30_000,
      "the job's pending reason",
    );
    expect(reason).toMatchObject({ code: 'JOB_PENDING', role: job.queue, job_name: 'test' });
    expect(reason.message.length).toBeGreaterThan(0);
  });

  it('answers a framework its own reasons on the scheduler API', async () => {
    const own = await frameworkPendingReasons(
      { master: cluster.url },
      { frameworkId: decliner.frameworkId as string, streamId: decliner.streamId as string },
    );
    expect(own.length).toBeGreaterThan(0);
    expect(own.every((reason) => reason.framework_id?.value === decliner.frameworkId)).toBe(true);
    expect(own[0]?.code).toBe('FILTERED');
  });
});
