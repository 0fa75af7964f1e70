/** Helpers for Mantle Jobs on a local test cluster: submit through the service, wait for states. */
import type { Job, JobState } from '../../frameworks/jobs/model.js';
import type { JobsService } from '../../frameworks/jobs/service.js';
import { eventually, type TestCluster } from './cluster.js';

export function jobsOf(cluster: TestCluster): JobsService {
  if (!cluster.jobs) throw new Error('This cluster runs without Jobs');
  return cluster.jobs.service;
}

export async function submitJob(cluster: TestCluster, spec: Record<string, unknown>): Promise<Job> {
  const submitted = await jobsOf(cluster).submit({ name: 'test', ...spec } as never);
  if (!submitted.ok) throw new Error(submitted.error.message);
  return submitted.value;
}

/** Waits until the job is in one of `states`, and answers it. */
export async function waitForJob(
  cluster: TestCluster,
  id: string,
  states: readonly JobState[],
  timeoutMs = 60_000,
): Promise<Job> {
  let last: Job | undefined;
  try {
    return await eventually(
      async () => {
        last = await jobsOf(cluster).get(id);
        return last && states.includes(last.state) ? last : undefined;
      },
      timeoutMs,
      `job ${id} to be ${states.join(' or ')}`,
    );
  } catch (error) {
    throw new Error(`${(error as Error).message}; last seen: ${JSON.stringify(last)}`, { cause: error });
  }
}

export async function logsOf(cluster: TestCluster, id: string): Promise<string> {
  const logs = await jobsOf(cluster).logs(id);
  if (!logs.ok) throw new Error(logs.error.message);
  return logs.value;
}
