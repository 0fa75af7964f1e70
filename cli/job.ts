/**
 * `mantle job submit|list|show|cancel|logs`: Mantle Jobs through its REST API (docs/jobs.md). Tables for
 * people, the API's JSON with --json.
 */
import type { Job } from '../frameworks/jobs/model.js';
import { jobsTable, showJob } from './job-format.js';
import { buildSpec, SUBMIT_OPTIONS } from './job-spec.js';
import { follow } from './job-wait.js';
import { CONNECTION_USAGE, JobsApiError, segment, UsageError } from './jobs-client.js';
import { EXIT, printJson, runVerbs, type Invocation, type Verb, type VerbTable } from './verbs.js';

export const JOB_USAGE = `Usage: mantle job <submit|list|show|cancel|logs> [options]

  submit [options] [-- command words...]   submit a job; prints it (its id first)
    --file, -f <job.json|job.yaml>  a job spec (docs/jobs.md); the flags below override its fields
    --name <name>                   (default: the command's first word)
    --queue <queue>                 (default: default)
    --priority <n>                  higher runs first within the queue (default 0)
    --command <cmd>                 a shell command (or the words after --)
    --image <image>                 a Docker image to run it in
    --resources <text>              e.g. cpus:4;mem:8192;gpus:1 (default cpus:1;mem:128)
    --env KEY=VALUE                 an environment variable (repeat it; added to the file's)
    --retries <n>                   failed attempts retried (default 0)
    --retry-backoff <seconds>       wait before each retry (default 0)
    --timeout <seconds>             an attempt running longer is killed and fails
    --array <n>                     an array job of n children (MANTLE_ARRAY_INDEX 0..n-1)
    --depends-on <id>[:succeeded|:finished]  wait for a job (repeat it)
    --schedule <cron|R[n]/start/duration>    run on a schedule: '0 2 * * *', 'R5//PT30S'
    --gang <n>                      n tasks started together or not at all
    --wait                          follow the job to its end, printing its changes
  list [--queue q] [--state S] [--parent id] [--limit n] [--next cursor]
  show <id>                         the job and its attempts
  cancel <id>... [--reason text]    cancel jobs (running tasks are killed)
  logs <id>                         the latest attempt's output (live while it runs)

${CONNECTION_USAGE}
Exit status: 0 done (with --wait: the job SUCCEEDED); 1 the request failed (refused by the API, or no
master); 2 bad arguments; 3 the job FAILED, 4 it was CANCELLED (--wait); 130 interrupted while waiting
(the job goes on: mantle job cancel <id> stops it).`;

function defaultName(spec: Record<string, unknown>): Record<string, unknown> {
  if (spec.name !== undefined) return spec;
  const from =
    typeof spec.command === 'string' ? spec.command : typeof spec.docker_image === 'string' ? spec.docker_image : '';
  const word = from.trim().split(/\s+/)[0]?.split('/').pop() ?? '';
  return { ...spec, name: word.slice(0, 255) || 'job' };
}

async function waitFor(invocation: Invocation, job: Job): Promise<number> {
  const abort = new AbortController();
  const interrupt = () => abort.abort();
  process.once('SIGINT', interrupt);
  try {
    const print = invocation.json ? () => undefined : invocation.print;
    const final = await follow(invocation.client, job, { print, intervalMs: 1000, abort: abort.signal });
    if (invocation.json) printJson(invocation, final);
    return final.state === 'SUCCEEDED' ? EXIT.ok : final.state === 'CANCELLED' ? EXIT.cancelled : EXIT.failed;
  } catch (error) {
    if (!abort.signal.aborted) throw error;
    console.error(`Interrupted: no longer following job ${job.id}; it goes on (mantle job cancel ${job.id} stops it)`);
    return EXIT.interrupted;
  } finally {
    process.off('SIGINT', interrupt);
  }
}

const submit: Verb = async (invocation) => {
  const spec = defaultName(await buildSpec(invocation.values, invocation.positionals));
  const job = (await invocation.client.request('POST', '/jobs', spec)) as Job;
  if (invocation.json && !invocation.values.wait) printJson(invocation, job);
  if (!invocation.json) {
    const reason = job.pending_reason ? ` (${job.pending_reason})` : '';
    invocation.print(`job ${job.id} submitted to queue ${job.queue}: ${job.state}${reason}`);
  }
  return invocation.values.wait ? waitFor(invocation, job) : EXIT.ok;
};

const list: Verb = async (invocation) => {
  const query = new URLSearchParams();
  for (const name of ['queue', 'state', 'parent', 'limit', 'next']) {
    const value = invocation.values[name];
    if (typeof value === 'string') query.set(name, name === 'state' ? value.toUpperCase() : value);
  }
  const suffix = query.size > 0 ? `?${query.toString()}` : '';
  const page = (await invocation.client.request('GET', `/jobs${suffix}`)) as { jobs: Job[]; next: string | null };
  if (invocation.json) printJson(invocation, page);
  else {
    for (const line of jobsTable(page.jobs)) invocation.print(line);
    if (page.next !== null) invocation.print(`more: mantle job list --next ${page.next}`);
  }
  return EXIT.ok;
};

function oneId(invocation: Invocation): string {
  const [id, ...more] = invocation.positionals;
  if (id === undefined || more.length > 0) throw new UsageError('give one job id');
  return id;
}

const show: Verb = async (invocation) => {
  const job = (await invocation.client.request('GET', `/jobs/${segment(oneId(invocation))}`)) as Job;
  if (invocation.json) printJson(invocation, job);
  else for (const line of showJob(job)) invocation.print(line);
  return EXIT.ok;
};

const cancel: Verb = async (invocation) => {
  if (invocation.positionals.length === 0) throw new UsageError('give the id of the job to cancel');
  const reason = invocation.values.reason;
  const suffix = typeof reason === 'string' ? `?${new URLSearchParams({ reason }).toString()}` : '';
  let code: number = EXIT.ok;
  for (const id of invocation.positionals) {
    try {
      const job = (await invocation.client.request('DELETE', `/jobs/${segment(id)}${suffix}`)) as Job;
      if (invocation.json) printJson(invocation, job);
      else invocation.print(`job ${job.id} ${job.state}${job.status_reason ? `: ${job.status_reason}` : ''}`);
    } catch (error) {
      if (!(error instanceof JobsApiError)) throw error;
      console.error(`mantle job cancel: ${id}: ${error.message}`);
      code = EXIT.request;
    }
  }
  return code;
};

const logs: Verb = async (invocation) => {
  const id = oneId(invocation);
  const output = await invocation.client.request('GET', `/jobs/${segment(id)}/logs`);
  const text = typeof output === 'string' ? output : JSON.stringify(output);
  if (invocation.json) {
    printJson(invocation, { id, output: text });
    return EXIT.ok;
  }
  process.stdout.write(text);
  // On stderr, so that `mantle job logs <id> > out.txt` stays the output alone.
  if (text === '') console.error('(no output: no attempt has ended yet, or it wrote nothing)');
  return EXIT.ok;
};

const VERBS: VerbTable = {
  submit: { verb: submit, options: SUBMIT_OPTIONS, positionals: true },
  list: {
    verb: list,
    options: {
      queue: { type: 'string' },
      state: { type: 'string' },
      parent: { type: 'string' },
      limit: { type: 'string' },
      next: { type: 'string' },
    },
    positionals: false,
  },
  show: { verb: show, options: {}, positionals: true },
  cancel: { verb: cancel, options: { reason: { type: 'string' } }, positionals: true },
  logs: { verb: logs, options: {}, positionals: true },
};

export function runJobCli(argv: readonly string[]): Promise<number> {
  return runVerbs('job', JOB_USAGE, VERBS, argv);
}
