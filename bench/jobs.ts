/**
 * Mantle Jobs at volume on the local cluster (`npm start`'s code: DynamoDB Local, the SQS stand-in, the
 * master's handlers, the Jobs framework on its queue and its timer, in-process agents running processes):
 * N jobs (`--jobs`, default 10,000) of `true` submitted through the REST API (`POST /api/jobs/v1/jobs`,
 * 32 at a time), then waited for until every one has ended. Reported (bench/support/jobs-metrics.ts):
 *
 * - time to all done (first submission sent → last job's task ended) and jobs/s over it;
 * - the API's submit latency (request sent → 201 received), p50/p99;
 * - submit → TASK_RUNNING per job (queue wait included);
 * - the scheduling overhead per job, queue wait excluded: start − max(submission, the moment a slot was
 *   free for it), slots = agents × jobs that fit one agent.
 *
 * Prints progress every 5 s; `--timeout` (seconds, default 1800) bounds the run, and a run cut short
 * writes what it measured with `timed_out: true`. Writes bench/results/jobs.json.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { serve, type ServerType } from '@hono/node-server';
import type { AddressInfo } from 'node:net';
import type { Job } from '../frameworks/jobs/model.js';
import type { JobsService } from '../frameworks/jobs/service.js';
import { createApp } from '../functions/handlers/app.js';
import {
  benchCluster,
  THROUGHPUT_AGENT_RESOURCES,
  THROUGHPUT_AGENTS,
  type BenchCluster,
} from './support/throughput.js';
import { distribution, schedulingOverheads, type JobTimes } from './support/jobs-metrics.js';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
process.env.POWERTOOLS_LOG_LEVEL ??= 'ERROR';

const JOB_RESOURCES = 'cpus:0.1;mem:16';
/** What fits one agent of THROUGHPUT_AGENT_RESOURCES (cpus:4;mem:4096): 40 jobs of cpus:0.1. */
const SLOTS_PER_AGENT = 40;
const CONCURRENCY = 32;
const FINAL = new Set(['SUCCEEDED', 'FAILED', 'CANCELLED']);

interface Args {
  readonly jobs: number;
  readonly timeoutSeconds: number;
}

function args(): Args {
  const { values } = parseArgs({
    options: { jobs: { type: 'string', default: '10000' }, timeout: { type: 'string', default: '1800' } },
  });
  const jobs = Number(values.jobs);
  const timeoutSeconds = Number(values.timeout);
  if (!Number.isInteger(jobs) || jobs < 1) throw new Error(`--jobs must be a positive integer, not '${values.jobs}'`);
  if (!(timeoutSeconds > 0)) throw new Error(`--timeout must be a positive number of seconds, not '${values.timeout}'`);
  return { jobs, timeoutSeconds };
}

interface Api {
  readonly url: string;
  /** How the REST API was reached: the cluster's own server, or the master's app served beside it. */
  readonly served: string;
  close(): Promise<void>;
}

/** The cluster's REST API; where its server does not mount Jobs (503), the master's app with the Jobs service. */
async function jobsApi(cluster: BenchCluster, service: JobsService): Promise<Api> {
  const probe = await fetch(`${cluster.url}/api/jobs/v1/jobs?limit=1`);
  if (probe.status === 200) return { url: cluster.url, served: "the local cluster's server", close: async () => {} };
  const app = createApp(cluster.master, { jobs: () => service });
  const server: ServerType = await new Promise((resolve) => {
    const started = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, () => resolve(started));
  });
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    served: `the master's app (createApp with the cluster's JobsService) on its own port: the cluster's server answered ${probe.status}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

interface Submissions {
  /** Job id → when its 201 came back. */
  readonly submitted: Map<string, number>;
  readonly latencies: number[];
  readonly failures: string[];
  readonly firstSentAt: number;
  readonly lastAt: number;
}

/** N POSTs, CONCURRENCY at a time. */
async function submitAll(api: Api, count: number, deadline: number): Promise<Submissions> {
  const submitted = new Map<string, number>();
  const latencies: number[] = [];
  const failures: string[] = [];
  const firstSentAt = Date.now();
  let next = 0;
  const worker = async () => {
    while (next < count && Date.now() < deadline) {
      const i = next++;
      const body = JSON.stringify({ name: `bench-${i}`, command: 'true', resources: JOB_RESOURCES });
      const sent = performance.now();
      const response = await fetch(`${api.url}/api/jobs/v1/jobs`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body,
      });
      const answer = (await response.json()) as { id?: string; message?: string };
      latencies.push(performance.now() - sent);
      if (response.status === 201 && answer.id) submitted.set(answer.id, Date.now());
      else failures.push(`${response.status} ${answer.message ?? ''}`);
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  return { submitted, latencies, failures, firstSentAt, lastAt: Date.now() };
}

interface Outcome {
  readonly final: Map<string, Job>;
  /** The jobs that had not ended by the deadline, as last read. */
  readonly open: Job[];
}

/** Reads every job once it may have ended; re-reads the ones that have not, until all have or the deadline. */
async function finalJobs(service: JobsService, ids: readonly string[], deadline: number): Promise<Outcome> {
  const final = new Map<string, Job>();
  let open = [...ids];
  let last: Job[] = [];
  while (open.length > 0) {
    const still: string[] = [];
    last = [];
    for (let i = 0; i < open.length; i += CONCURRENCY) {
      const batch = open.slice(i, i + CONCURRENCY);
      for (const [j, job] of (await Promise.all(batch.map((id) => service.get(id)))).entries()) {
        if (job && FINAL.has(job.state)) final.set(job.id, job);
        else {
          still.push(batch[j] as string);
          if (job) last.push(job);
        }
      }
    }
    open = still;
    if (open.length === 0 || Date.now() > deadline) break;
    await new Promise((resolve) => setTimeout(resolve, 2000));
  }
  return { final, open: last };
}

/** What the jobs that had not ended were doing: counts by state, and their pending reasons. */
function notEnded(open: readonly Job[]): Record<string, unknown> | undefined {
  if (open.length === 0) return undefined;
  const byState: Record<string, number> = {};
  const reasons: Record<string, number> = {};
  for (const job of open) {
    byState[job.state] = (byState[job.state] ?? 0) + 1;
    // "behind 12 jobs ..." and "behind 13 jobs ..." are one reason.
    const reason = (job.pending_reason ?? job.attempts.at(-1)?.state ?? '(none)').replace(/\d+/g, 'N');
    reasons[reason] = (reasons[reason] ?? 0) + 1;
  }
  return { count: open.length, by_state: byState, pending_reasons_or_task_states: reasons };
}

/** Waits until the agents have reported as many finished tasks as there are jobs (or the deadline). */
async function waitForTasks(cluster: BenchCluster, count: number, deadline: number): Promise<void> {
  const finished = () => cluster.master.metrics.snapshot()['master/task_updates/TASK_FINISHED'] ?? 0;
  while (finished() < count && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 250));
}

function times(jobs: Iterable<Job>, submitted: ReadonlyMap<string, number>): JobTimes[] {
  const result: JobTimes[] = [];
  for (const job of jobs) {
    const task = job.attempts.at(-1);
    if (!task?.started_at || !task.ended_at) continue;
    result.push({
      submitted: submitted.get(job.id) ?? Date.parse(job.created_at),
      started: Date.parse(task.started_at),
      ended: Date.parse(task.ended_at),
    });
  }
  return result;
}

function report(
  options: Args,
  api: Api,
  subs: Submissions,
  outcome: Outcome,
  timedOut: boolean,
): Record<string, unknown> {
  const jobs = outcome.final;
  const open = notEnded(outcome.open);
  const measured = times(jobs.values(), subs.submitted);
  const byState: Record<string, number> = {};
  for (const job of jobs.values()) byState[job.state] = (byState[job.state] ?? 0) + 1;
  const lastEnd = Math.max(...measured.map((job) => job.ended));
  const seconds = (lastEnd - subs.firstSentAt) / 1000;
  const slots = THROUGHPUT_AGENTS * SLOTS_PER_AGENT;
  return {
    benchmark: 'jobs',
    at: new Date().toISOString(),
    machine: { cpus: cpus().length, load: loadavg().map((l) => Math.round(l * 100) / 100) },
    api: api.served,
    jobs: options.jobs,
    job: { command: 'true', resources: JOB_RESOURCES, containerizer: 'process' },
    agents: { count: THROUGHPUT_AGENTS, resources: THROUGHPUT_AGENT_RESOURCES, slots },
    submitted: subs.submitted.size,
    submit_failures: subs.failures.length,
    ...(subs.failures.length > 0 ? { submit_failure_example: subs.failures[0] } : {}),
    ended_by_state: byState,
    ...(open ? { not_ended: open } : {}),
    timed_out: timedOut,
    // Cut short, there is no "all done": the time to the last end seen, and the rate over it, instead.
    [timedOut ? 'time_to_last_end_s' : 'time_to_all_done_s']: Math.round(seconds * 10) / 10,
    jobs_per_second: Math.round((measured.length / seconds) * 10) / 10,
    submit_rate_per_s: Math.round((subs.submitted.size / ((subs.lastAt - subs.firstSentAt) / 1000)) * 10) / 10,
    api_submit_ms: distribution(subs.latencies),
    submit_to_running_ms: distribution(measured.map((job) => job.started - job.submitted)),
    scheduling_overhead_ms: distribution(schedulingOverheads(measured, slots)),
    definitions: {
      time_to_all_done_s: 'first POST sent -> the last job task ended (its terminal update time)',
      api_submit_ms: 'POST /api/jobs/v1/jobs sent -> 201 received, 32 in flight',
      submit_to_running_ms: '201 received -> TASK_RUNNING at the agent; includes the wait for a free slot',
      scheduling_overhead_ms:
        "TASK_RUNNING - max(201 received, when the slot it took became free); slots = agents x 40, each start takes the slot that freed first: the master's, the Jobs framework's and the agent's time, queue wait excluded",
    },
  };
}

async function main(): Promise<void> {
  const options = args();
  const deadline = Date.now() + options.timeoutSeconds * 1000;
  console.log(`bench:jobs: ${options.jobs} jobs of 'true' (${JOB_RESOURCES}) on ${THROUGHPUT_AGENTS} agents`);
  const cluster = await benchCluster(THROUGHPUT_AGENTS, 'mesos', THROUGHPUT_AGENT_RESOURCES);
  const service = cluster.jobs?.service;
  if (!service) throw new Error('The local cluster runs without Jobs');
  const api = await jobsApi(cluster, service);
  console.log(`  REST API: ${api.url} (${api.served})`);
  const finished = () => cluster.master.metrics.snapshot()['master/task_updates/TASK_FINISHED'] ?? 0;
  let submitting: Submissions | undefined;
  const started = Date.now();
  const progress = setInterval(() => {
    const sent = submitting ? submitting.submitted.size : 'submitting';
    console.log(`  ${Math.round((Date.now() - started) / 1000)} s: submitted ${sent}, tasks finished ${finished()}`);
  }, 5000);
  try {
    submitting = await submitAll(api, options.jobs, deadline);
    console.log(`  submitted ${submitting.submitted.size} in ${(submitting.lastAt - submitting.firstSentAt) / 1000} s`);
    await waitForTasks(cluster, submitting.submitted.size, deadline);
    const outcome = await finalJobs(service, [...submitting.submitted.keys()], deadline);
    const result = report(options, api, submitting, outcome, outcome.open.length > 0);
    const out = join(dirname(fileURLToPath(import.meta.url)), 'results', 'jobs.json');
    mkdirSync(dirname(out), { recursive: true });
    writeFileSync(out, `${JSON.stringify(result, null, 2)}\n`);
    console.log(JSON.stringify(result, null, 2));
    console.log(`bench:jobs: wrote ${out}`);
    if (result.timed_out) process.exitCode = 1;
  } finally {
    clearInterval(progress);
    await api.close();
    await cluster.stopAndRemove();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
