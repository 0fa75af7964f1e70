/**
 * Mantle Jobs' `/jobs/{id}/logs` from the task log store (frameworks/jobs/service.ts): the latest
 * attempt's output, live while it runs, complete once it ended, longer than the 2 KiB tail a status
 * update carries.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, startTestCluster, type TestCluster } from '../support/cluster.js';
import { logsOf, submitJob, waitForJob } from '../support/jobs-cluster.js';
import { untilFile } from '../support/gates.js';

let cluster: TestCluster;

beforeAll(async () => {
  cluster = await startTestCluster({ containerizer: 'mesos', agent: { switchUser: false }, jobs: {} });
}, 120_000);

afterAll(async () => {
  await cluster?.stop();
});

describe("a job's logs", () => {
  it('shows the running attempt its output as it is written, then all of it', async () => {
    // The task ends once the test has read its output live: a fixed sleep could end first on a loaded machine.
    const release = join(cluster.workDir, 'release-logs');
    const job = await submitJob(cluster, {
      command: `echo started; i=0; while [ $i -lt 300 ]; do echo "line $i of a long output"; i=$((i+1)); done; ${untilFile(release)}; echo done`,
      resources: 'cpus:0.1;mem:32',
    });
    await waitForJob(cluster, job.id, ['RUNNING']);
    const live = await eventually(async () => {
      const text = await logsOf(cluster, job.id);
      return text.includes('line 299 of a long output\n') ? text : undefined;
    });
    expect(live.startsWith('started\n')).toBe(true);
    expect(live).not.toContain('done');
    await writeFile(release, '');
    expect((await waitForJob(cluster, job.id, ['SUCCEEDED', 'FAILED'])).state).toBe('SUCCEEDED');
    const all = await logsOf(cluster, job.id);
    // Far more than a terminal status's 2 KiB tail: the whole output, from the store.
    expect(all.length).toBeGreaterThan(7000);
    expect(all.startsWith('started\nline 0 of a long output\n')).toBe(true);
    expect(all.endsWith('line 299 of a long output\ndone\n')).toBe(true);
  });
});
