/**
 * Mantle Jobs on a whole local cluster (two agents, processes run with `sh -c`): every semantic of the job model
 * end to end — priorities and FIFO, retries with backoff then FAILED keeping every attempt, arrays and their
 * environment, dependencies (a failed one cancels), ISO 8601 and cron schedules, gangs across agents, timeouts,
 * and cancel killing a running task.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Job } from '../../frameworks/jobs/model.js';
import { startTestCluster, type TestCluster } from '../support/cluster.js';
import { jobsOf, logsOf, submitJob, waitForJob } from '../support/jobs-cluster.js';
import { untilFile } from '../support/gates.js';

let cluster: TestCluster;
let cron: Job;
/** Files a test writes to let a waiting task end. */
let gates: string;

beforeAll(async () => {
  gates = await mkdtemp(join(tmpdir(), 'mantle-jobs-gates-'));
  cluster = await startTestCluster({
    agents: 2,
    containerizer: 'mesos',
    agentResources: 'cpus:2;mem:1024;disk:512',
    agent: { switchUser: false },
    jobs: {},
  });
  // Submitted first: its first tick comes at the next minute boundary, checked by the last test.
  cron = await submitJob(cluster, {
    queue: 'cron',
    schedule: '* * * * *',
    command: 'echo tick',
    resources: 'cpus:0.1;mem:32',
  });
}, 120_000);
afterAll(async () => {
  await cluster?.stop();
  if (gates) await rm(gates, { recursive: true, force: true });
});

const small = 'cpus:0.1;mem:32';

describe('Mantle Jobs on the local cluster', () => {
  it('runs a job to SUCCEEDED with its environment, and keeps its output', async () => {
    const job = await submitJob(cluster, {
      command: 'echo "id=$MANTLE_JOB_ID attempt=$MANTLE_ATTEMPT queue=$MANTLE_QUEUE x=$X"',
      env: { X: 'forty-two' },
      resources: small,
    });
    const done = await waitForJob(cluster, job.id, ['SUCCEEDED', 'FAILED']);
    expect(done.state).toBe('SUCCEEDED');
    expect(done.attempts).toHaveLength(1);
    expect(done.attempts[0]).toMatchObject({ state: 'TASK_FINISHED', exit_code: 0, task_id: `${job.id}-1` });
    const iso = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;
    expect(done.attempts[0]?.started_at).toMatch(iso);
    expect(done.attempts[0]?.ended_at).toMatch(iso);
    expect(done.created_at).toMatch(iso);
    expect(await logsOf(cluster, job.id)).toBe(`id=${job.id} attempt=1 queue=default x=forty-two\n`);
  });

  it('serves a queue by strict priority, FIFO within a priority', async () => {
    // The queue's quota limit lets one job (cpus:1) run at a time.
    await jobsOf(cluster).putQueue('prio', { weight: 1, quota: { guarantees: {}, limits: { cpus: 1 } } });
    const spec = { queue: 'prio', resources: 'cpus:1;mem:32' };
    // The blocker runs until all four are queued, however slowly a loaded machine takes their submissions.
    const release = join(gates, 'prio-blocker');
    const blocker = await submitJob(cluster, { ...spec, command: untilFile(release) });
    await waitForJob(cluster, blocker.id, ['RUNNING']);
    const low = await submitJob(cluster, { ...spec, command: 'true', priority: 0 });
    const high = await submitJob(cluster, { ...spec, command: 'true', priority: 10 });
    const lowToo = await submitJob(cluster, { ...spec, command: 'true', priority: 0 });
    const mid = await submitJob(cluster, { ...spec, command: 'true', priority: 5 });
    await writeFile(release, '');
    const ended = await Promise.all([low, high, lowToo, mid].map((job) => waitForJob(cluster, job.id, ['SUCCEEDED'])));
    const order = ended
      .map((job) => ({ id: job.id, started: job.attempts[0]?.started_at ?? '' }))
      .sort((a, b) => (a.started < b.started ? -1 : 1))
      .map((job) => job.id);
    expect(order).toEqual([high.id, mid.id, low.id, lowToo.id]);
  });

  it('retries a failing job after its backoff, then FAILED with every attempt kept', async () => {
    const job = await submitJob(cluster, {
      command: 'echo failing; exit 3',
      retries: 2,
      retry_backoff_seconds: 1,
      resources: small,
    });
    const failed = await waitForJob(cluster, job.id, ['FAILED', 'SUCCEEDED'], 90_000);
    expect(failed.state).toBe('FAILED');
    expect(failed.attempts.map((a) => [a.attempt, a.state, a.exit_code])).toEqual([
      [1, 'TASK_FAILED', 3],
      [2, 'TASK_FAILED', 3],
      [3, 'TASK_FAILED', 3],
    ]);
    for (let i = 1; i < failed.attempts.length; i++) {
      const previousEnd = Date.parse(failed.attempts[i - 1]?.ended_at ?? '');
      expect(Date.parse(failed.attempts[i]?.started_at ?? '') - previousEnd).toBeGreaterThanOrEqual(1000);
    }
    expect(failed.status_reason).toMatch(/^3 attempts failed, the last: .*-3 TASK_FAILED \(exit code 3\)/);
    expect(await logsOf(cluster, job.id)).toBe('failing\n');
  });

  it('runs an array job’s children with their index in MANTLE_ARRAY_INDEX and AWS_BATCH_JOB_ARRAY_INDEX', async () => {
    const parent = await submitJob(cluster, {
      command: 'echo "$MANTLE_ARRAY_INDEX/$AWS_BATCH_JOB_ARRAY_INDEX"',
      array: 3,
      resources: small,
    });
    const done = await waitForJob(cluster, parent.id, ['SUCCEEDED', 'FAILED']);
    expect(done.state).toBe('SUCCEEDED');
    expect(done.children).toEqual({ PENDING: 0, RUNNING: 0, SUCCEEDED: 3, FAILED: 0, CANCELLED: 0 });
    for (let i = 0; i < 3; i++) expect(await logsOf(cluster, `${parent.id}:${i}`)).toBe(`${i}/${i}\n`);
  });

  it('runs a dependent job after its dependency succeeds, and cancels one whose dependency failed', async () => {
    const first = await submitJob(cluster, { command: 'sleep 1', resources: small });
    const after = await submitJob(cluster, { command: 'true', resources: small, depends_on: [{ job: first.id }] });
    const broken = await submitJob(cluster, { command: 'exit 1', resources: small });
    const never = await submitJob(cluster, { command: 'true', resources: small, depends_on: [{ job: broken.id }] });
    const ran = await waitForJob(cluster, after.id, ['SUCCEEDED', 'CANCELLED', 'FAILED']);
    const firstDone = await waitForJob(cluster, first.id, ['SUCCEEDED']);
    expect(ran.state).toBe('SUCCEEDED');
    expect(Date.parse(ran.attempts[0]?.started_at ?? '')).toBeGreaterThanOrEqual(
      Date.parse(firstDone.attempts[0]?.ended_at ?? ''),
    );
    const cancelled = await waitForJob(cluster, never.id, ['CANCELLED', 'SUCCEEDED']);
    expect(cancelled.state).toBe('CANCELLED');
    expect(cancelled.status_reason).toBe(`dependency ${broken.id} ended FAILED, and this job needs it to succeed`);
    expect(cancelled.attempts).toEqual([]);
  });

  it('runs an ISO 8601 repeating schedule: one run per tick, then SUCCEEDED', async () => {
    // Ticks the timer (every 1 s, each pass seconds long on a loaded machine) reaches late collapse into one run,
    // by design: the period leaves the timer that much room, as the cron test's 10 s does.
    const job = await submitJob(cluster, { command: 'echo run', schedule: 'R2//PT10S', resources: small });
    const done = await waitForJob(cluster, job.id, ['SUCCEEDED', 'FAILED'], 60_000);
    expect(done.state).toBe('SUCCEEDED');
    const runs = await jobsOf(cluster).list({ parent: job.id, limit: 10 });
    expect(runs.jobs.map((run) => run.state)).toEqual(['SUCCEEDED', 'SUCCEEDED']);
    for (const run of runs.jobs) expect(run.id.startsWith(`${job.id}@`)).toBe(true);
  });

  it('launches a gang across both agents at once, with MANTLE_GANG_* for rendezvous', async () => {
    // Each member needs a whole agent (cpus:2), so the gang of 2 needs both.
    const job = await submitJob(cluster, {
      command: 'echo "$MANTLE_GANG_INDEX of $MANTLE_GANG_SIZE: $MANTLE_GANG_HOSTS"',
      gang: 2,
      resources: 'cpus:2;mem:64',
    });
    const done = await waitForJob(cluster, job.id, ['SUCCEEDED', 'FAILED'], 90_000);
    expect(done.state).toBe('SUCCEEDED');
    expect(done.attempts).toHaveLength(2);
    const hosts = done.attempts.map((a) => a.hostname);
    expect(new Set(hosts).size).toBe(2);
    const logs = await logsOf(cluster, job.id);
    expect(logs).toContain(`0 of 2: ${hosts.join(',')}`);
    expect(logs).toContain(`1 of 2: ${hosts.join(',')}`);
  });

  it('holds one agent’s offer for a gang while the other agent frees up, then launches both together', async () => {
    // The blocker runs until the test has seen the gang wait: a fixed sleep could end before a loaded machine's
    // first offer for the gang, and then the gang would never have to wait.
    const release = join(gates, 'gang-blocker');
    const blocker = await submitJob(cluster, {
      queue: 'gangs',
      command: untilFile(release),
      resources: 'cpus:2;mem:64',
    });
    await waitForJob(cluster, blocker.id, ['RUNNING']);
    const job = await submitJob(cluster, {
      queue: 'gangs',
      command: 'echo "$MANTLE_GANG_INDEX"',
      gang: 2,
      resources: 'cpus:2;mem:64',
    });
    await expect
      .poll(async () => (await jobsOf(cluster).get(job.id))?.pending_reason, { timeout: 30_000 })
      .toBe('gang of 2: only 1 slot free (cpus:2;mem:64 each)');
    await writeFile(release, '');
    const done = await waitForJob(cluster, job.id, ['SUCCEEDED', 'FAILED'], 60_000);
    const freed = await waitForJob(cluster, blocker.id, ['SUCCEEDED']);
    expect(done.state).toBe('SUCCEEDED');
    expect(new Set(done.attempts.map((a) => a.hostname)).size).toBe(2);
    expect(done.attempts.map((a) => a.attempt)).toEqual([1, 1]);
    const started = done.attempts.map((a) => Date.parse(a.started_at ?? ''));
    expect(Math.min(...started)).toBeGreaterThanOrEqual(Date.parse(freed.attempts[0]?.ended_at ?? ''));
    expect(cluster.master.metrics.snapshot()['jobs/offers_held'] ?? 0).toBeGreaterThan(0);
  });

  it('kills an attempt past its timeout: the attempt fails', async () => {
    const job = await submitJob(cluster, { command: 'sleep 60', timeout_seconds: 1, resources: small });
    const failed = await waitForJob(cluster, job.id, ['FAILED', 'SUCCEEDED'], 60_000);
    expect(failed.state).toBe('FAILED');
    expect(failed.attempts[0]?.state).toBe('TASK_KILLED');
    const ran = Date.parse(failed.attempts[0]?.ended_at ?? '') - Date.parse(failed.attempts[0]?.started_at ?? '');
    expect(ran).toBeGreaterThanOrEqual(1000);
    expect(ran).toBeLessThan(30_000);
  });

  it('cancels a running job: its task is killed and the job CANCELLED', async () => {
    const job = await submitJob(cluster, { command: 'sleep 60', resources: small });
    await waitForJob(cluster, job.id, ['RUNNING']);
    const cancelled = await jobsOf(cluster).cancel(job.id, 'no longer needed');
    expect(cancelled).toMatchObject({ ok: true, value: { state: 'CANCELLED', status_reason: 'no longer needed' } });
    const killed = await waitForJob(cluster, job.id, ['CANCELLED']);
    await expect
      .poll(async () => JSON.stringify((await jobsOf(cluster).get(job.id))?.attempts[0]), { timeout: 30_000 })
      .toContain('"state":"TASK_KILLED"');
    expect(killed.state).toBe('CANCELLED');
  });

  it('says why a job waits for resources no agent has, and REQUESTs them for the fleet', async () => {
    const job = await submitJob(cluster, { queue: 'gpu', command: 'true', resources: 'cpus:0.1;mem:32;gpus:1' });
    const waiting = await expect
      .poll(async () => (await jobsOf(cluster).get(job.id))?.pending_reason, { timeout: 30_000 })
      .toBe('no agent with the resources: cpus:0.1;mem:32;gpus:1');
    void waiting;
    const frameworkId = cluster.jobs?.framework.scheduler.frameworkId ?? '';
    await expect
      .poll(
        async () => {
          const record = await cluster.master.registrar.frameworks.get(frameworkId);
          return (record?.requests?.requests ?? []).flatMap((request) =>
            (request.resources ?? []).map((r) => `${r.name}:${r.scalar?.value ?? 0}`),
          );
        },
        { timeout: 30_000 },
      )
      .toEqual(expect.arrayContaining(['gpus:1']));
    await jobsOf(cluster).cancel(job.id, 'no GPUs here');
  });

  it('runs a cron schedule at its tick', async () => {
    await expect
      .poll(async () => (await jobsOf(cluster).list({ parent: cron.id, limit: 5 })).jobs.length, { timeout: 75_000 })
      .toBeGreaterThan(0);
    const [run] = (await jobsOf(cluster).list({ parent: cron.id, limit: 5 })).jobs;
    const done = await waitForJob(cluster, run?.id ?? '', ['SUCCEEDED', 'FAILED']);
    expect(done.state).toBe('SUCCEEDED');
    expect(new Date(done.created_at).getUTCSeconds()).toBeLessThan(10);
    expect(await logsOf(cluster, done.id)).toBe('tick\n');
    await jobsOf(cluster).cancel(cron.id, 'done testing');
  }, 120_000);
});
