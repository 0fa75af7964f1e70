/**
 * `mantle job submit --wait`: follows a job to its end by polling GET /jobs/{id}, printing each change of
 * its state (with its pending reason) and of its attempts' tasks. A master that does not answer for a
 * while (a restart) is waited for; one that refuses is not.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { isTerminalJobState, type Attempt, type Job } from '../frameworks/jobs/model.js';
import { reasonOf } from './job-format.js';
import { JobsApiError, segment, type JobsClient } from './jobs-client.js';

export interface FollowOptions {
  readonly print: (line: string) => void;
  readonly intervalMs: number;
  readonly abort?: AbortSignal;
}

/** Answers worth waiting out: no answer, or the master's gateway and availability errors. */
const TRANSIENT = new Set([0, 502, 503, 504]);
const MAX_TRANSIENT = 30;

function attemptLine(attempt: Attempt): string {
  const member = attempt.gang_index !== null ? ` (gang member ${attempt.gang_index})` : '';
  const where = attempt.hostname ? ` on ${attempt.hostname}` : '';
  const exit = attempt.exit_code !== null ? ` exit ${attempt.exit_code}` : '';
  const message = attempt.message ? `: ${attempt.message}` : '';
  return `  attempt ${attempt.attempt}${member} task ${attempt.task_id} ${attempt.state}${where}${exit}${message}`;
}

/**
 * The lines to print for what changed since the last lines `seen` (by task, children, job), updated: the
 * tasks first, so a task's end comes before the job's end it causes.
 */
export function changes(job: Job, seen: Map<string, string>): string[] {
  const reason = reasonOf(job);
  const children = job.children
    ? `  children: ${Object.entries(job.children)
        .map(([state, n]) => `${state} ${n}`)
        .join(', ')}`
    : undefined;
  const lines: Array<[string, string | undefined]> = [
    ...job.attempts.map((attempt): [string, string] => [`task ${attempt.task_id}`, attemptLine(attempt)]),
    ['children', children],
    ['job', `job ${job.id} ${job.state}${reason ? `: ${reason}` : ''}`],
  ];
  const fresh: string[] = [];
  for (const [key, line] of lines) {
    if (line === undefined || seen.get(key) === line) continue;
    seen.set(key, line);
    fresh.push(line);
  }
  return fresh;
}

async function fetchJob(client: JobsClient, id: string, options: FollowOptions, failures: number): Promise<Job> {
  try {
    return (await client.request('GET', `/jobs/${segment(id)}`)) as Job;
  } catch (error) {
    if (!(error instanceof JobsApiError) || !TRANSIENT.has(error.status) || failures >= MAX_TRANSIENT) throw error;
    options.print(`  (${error.message}; trying again)`);
    await sleep(options.intervalMs, undefined, { signal: options.abort });
    return fetchJob(client, id, options, failures + 1);
  }
}

/**
 * Polls until the job is SUCCEEDED, FAILED or CANCELLED; the final job. Rejects (AbortError) when aborted.
 * What `submitted` already said (the caller printed it) is not printed again.
 */
export async function follow(client: JobsClient, submitted: Job, options: FollowOptions): Promise<Job> {
  const seen = new Map<string, string>();
  changes(submitted, seen);
  for (;;) {
    const job = await fetchJob(client, submitted.id, options, 0);
    for (const line of changes(job, seen)) options.print(line);
    if (isTerminalJobState(job.state)) return job;
    await sleep(options.intervalMs, undefined, { signal: options.abort });
  }
}
