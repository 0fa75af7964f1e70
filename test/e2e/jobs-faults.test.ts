/**
 * Mantle Jobs under faults on a whole local cluster: its handler killed between writes (after recording an
 * attempt but before the ACCEPT, and after the ACCEPT before writing anything else), an agent killed with
 * SIGKILL mid-job, and its queue delivering every batch twice. After each: no job lost, and no attempt
 * launched twice — every task appends its attempt number to a file, so a second launch would show.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Job } from '../../frameworks/jobs/model.js';
import { taskInfo } from '../../frameworks/jobs/offers.js';
import { spawnAgentProcess, type AgentProcess } from '../support/agent-process.js';
import { startTestCluster, type TestCluster } from '../support/cluster.js';
import { submitJob, waitForJob } from '../support/jobs-cluster.js';
import { untilFile } from '../support/gates.js';

let cluster: TestCluster;
let markers: string;
const children: AgentProcess[] = [];
const dirs: string[] = [];
/** How many more times each fault point throws. */
const faults = { afterRecord: 0, afterAccept: 0 };
let redeliver = false;

beforeAll(async () => {
  markers = await mkdtemp(join(tmpdir(), 'mantle-jobs-markers-'));
  cluster = await startTestCluster({
    agents: 1,
    containerizer: 'mesos',
    agentResources: 'cpus:2;mem:1024;disk:512',
    agent: { switchUser: false },
    master: { agentPingTimeoutSeconds: 2, maxAgentPingTimeouts: 3, offerTimeoutSeconds: 300 },
    jobs: {
      launchCheckMs: 3_000,
      // A failed batch comes back after this: short, so the injected faults heal within the test.
      visibilityTimeoutSeconds: 5,
      faults: {
        afterRecord: () => {
          if (faults.afterRecord > 0 && faults.afterRecord--) throw new Error('injected: died after recording');
        },
        afterAccept: () => {
          if (faults.afterAccept > 0 && faults.afterAccept--) throw new Error('injected: died after ACCEPT');
        },
      },
      // The queue hands each batch over twice (a redelivery after a lost acknowledgement).
      wrapHandler: (handler) => async (event, context) => {
        const first = await handler(event, context);
        return redeliver ? handler(event, context) : first;
      },
    },
  });
}, 120_000);
afterAll(async () => {
  for (const child of children) await child.crash().catch(() => undefined);
  await cluster?.stop();
  for (const dir of [markers, ...dirs]) await rm(dir, { recursive: true, force: true });
});

/** A job that appends its attempt number to its marker file, then sleeps (or runs `then`). */
function marking(name: string, then: number | string = 0, extra: Record<string, unknown> = {}) {
  return {
    name,
    command: `echo "$MANTLE_ATTEMPT" >> ${join(markers, name)}; ${typeof then === 'number' ? `sleep ${then}` : then}`,
    resources: 'cpus:0.1;mem:32',
    ...extra,
  };
}

async function launches(name: string): Promise<string[]> {
  const text = await readFile(join(markers, name), 'utf8').catch(() => '');
  return text.split('\n').filter(Boolean);
}

/** Attempts that started, by number: each must have launched exactly once. */
function startedAttempts(job: Job): string[] {
  return job.attempts.filter((a) => a.started_at !== null).map((a) => String(a.attempt));
}

describe('Mantle Jobs under faults', () => {
  it('a handler dying after recording an attempt, before its ACCEPT: reconciled, retried free, launched once', async () => {
    faults.afterRecord = 1;
    const job = await submitJob(cluster, marking('after-record'));
    const done = await waitForJob(cluster, job.id, ['SUCCEEDED', 'FAILED'], 90_000);
    expect(faults.afterRecord).toBe(0);
    expect(done.state).toBe('SUCCEEDED');
    // Attempt 1 was recorded and never launched: the master answered for its id (TASK_LOST, as Mesos tells a
    // framework that is not partition-aware of a task it does not know); no retry was used.
    expect(done.attempts.map((a) => [a.attempt, a.state, a.started_at === null])).toEqual([
      [1, 'TASK_LOST', true],
      [2, 'TASK_FINISHED', false],
    ]);
    expect(await launches('after-record')).toEqual(['2']);
  });

  it('a handler dying after its ACCEPT: the redelivered offers launch nothing more', async () => {
    faults.afterAccept = 1;
    const job = await submitJob(cluster, marking('after-accept', 1));
    const done = await waitForJob(cluster, job.id, ['SUCCEEDED', 'FAILED'], 90_000);
    expect(faults.afterAccept).toBe(0);
    expect(done.state).toBe('SUCCEEDED');
    expect(done.attempts.map((a) => [a.attempt, a.state])).toEqual([[1, 'TASK_FINISHED']]);
    expect(await launches('after-accept')).toEqual(['1']);
  });

  it('the same ACCEPT sent twice (as a redelivered event would): the master refuses it, the task runs on', async () => {
    const job = await submitJob(cluster, marking('accept-twice', 3));
    const running = await waitForJob(cluster, job.id, ['RUNNING']);
    await expect.poll(() => launches('accept-twice'), { timeout: 30_000 }).toEqual(['1']);
    const jobs = cluster.jobs;
    if (!jobs) throw new Error('no jobs');
    const attempt = await jobs.store.attempt(job.id, 1);
    const task = attempt?.tasks[0];
    if (!attempt || !task?.agent_id || !task.hostname) throw new Error('no attempt recorded');
    const launch = {
      jobId: job.id,
      gangIndex: null,
      offerId: attempt.offerIds[0] ?? '',
      agentId: task.agent_id,
      hostname: task.hostname,
      resources: running.resources,
    };
    await jobs.framework.scheduler.launch([launch.offerId], [taskInfo(running, task.task_id, 1, launch, [])]);
    const done = await waitForJob(cluster, job.id, ['SUCCEEDED', 'FAILED'], 60_000);
    expect(done.state).toBe('SUCCEEDED');
    expect(done.attempts.map((a) => [a.attempt, a.state])).toEqual([[1, 'TASK_FINISHED']]);
    expect(await launches('accept-twice')).toEqual(['1']);
  });

  it('a queue delivering every batch twice: no job lost, no attempt launched twice', async () => {
    redeliver = true;
    try {
      const jobs = await Promise.all(
        [0, 1, 2, 3, 4].map((i) => submitJob(cluster, marking(`twice-${i}`, 1, { retries: 1 }))),
      );
      const done = await Promise.all(jobs.map((job) => waitForJob(cluster, job.id, ['SUCCEEDED', 'FAILED'], 90_000)));
      for (const [i, job] of done.entries()) {
        expect(job.state, JSON.stringify(job.attempts)).toBe('SUCCEEDED');
        expect((await launches(`twice-${i}`)).sort()).toEqual(startedAttempts(job).sort());
        expect(startedAttempts(job)).toHaveLength(1);
      }
    } finally {
      redeliver = false;
    }
  });

  it('an agent killed with SIGKILL mid-job: the attempt is lost, retried on another agent, none launched twice', async () => {
    const first = await childAgent('doomed');
    // Attempt 1 runs until its agent is dead: a fixed sleep could end first on a loaded machine, and the job
    // would succeed on the doomed agent. The retry finds the file there and ends at once. (Or once the folder
    // is gone: a failed test leaves no task looping.)
    const release = join(markers, 'release-agent-killed');
    const job = await submitJob(
      cluster,
      marking('agent-killed', untilFile(release, markers), {
        retries: 1,
        resources: 'cpus:0.1;mem:32;special:1',
      }),
    );
    await waitForJob(cluster, job.id, ['RUNNING']);
    await expect.poll(() => launches('agent-killed'), { timeout: 30_000 }).toEqual(['1']);
    await first.crash();
    await writeFile(release, '');
    const second = await childAgent('rescuer');
    const done = await waitForJob(cluster, job.id, ['SUCCEEDED', 'FAILED'], 90_000);
    expect(done.state).toBe('SUCCEEDED');
    expect(done.attempts.map((a) => [a.attempt, a.agent_id, a.state])).toEqual([
      [1, first.agentId, 'TASK_LOST'],
      [2, second.agentId, 'TASK_FINISHED'],
    ]);
    expect(await launches('agent-killed')).toEqual(['1', '2']);
  });
});

/** An agent in its own process, with a resource (special) that only such agents have. */
async function childAgent(name: string): Promise<{ agentId: string; crash(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), `mantle-jobs-${name}-`));
  dirs.push(dir);
  const agent = spawnAgentProcess([
    `--master=${cluster.url}`,
    `--work_dir=${dir}`,
    `--hostname=${name}`,
    '--containerizers=mesos',
    '--port=-1',
    '--resources=cpus:1;mem:512;disk:100;special:1',
    '--ec2_metadata=off',
    '--nvidia_smi=none',
    '--no-switch_user',
    '--command_poll_wait=2',
    '--registration_backoff_factor=50ms',
    '--status_update_retry_interval_min=1secs',
  ]);
  children.push(agent);
  return { agentId: await agent.registered, crash: () => agent.crash() };
}
