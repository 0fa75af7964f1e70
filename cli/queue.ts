/**
 * `mantle queue set|show|list`: the queues of Mantle Jobs (docs/jobs.md). A queue is a Mesos role: `set`
 * gives its weight and quota (an operator's call), replacing what it had; what a flag leaves out is the
 * default (weight 1, no guarantee, no limit), as a Mesos quota update replaces the role's quota.
 */
import type { Queue } from '../frameworks/jobs/service.js';
import { queuesTable } from './job-format.js';
import { CONNECTION_USAGE, segment, UsageError } from './jobs-client.js';
import { parseQuantities } from './quantities.js';
export { parseQuantities } from './quantities.js';
import { EXIT, printJson, runVerbs, type Invocation, type Verb, type VerbTable } from './verbs.js';

export const QUEUE_USAGE = `Usage: mantle queue <set|show|list> [options]

  set <queue> [--weight w] [--guarantee name=n,...] [--limit name=n,...]
                          the queue's share (its role's weight) and quota; replaces both
                          (--guarantee and --limit may be repeated: gpus=2 --guarantee cpus=16)
  show <queue>            its weight, quota and jobs by state
  list                    the queues this principal may use

${CONNECTION_USAGE}
Exit status: 0 done; 1 the request failed (refused by the API, or no master); 2 bad arguments.`;

function oneQueue(invocation: Invocation): string {
  const [name, ...more] = invocation.positionals;
  if (name === undefined || more.length > 0) throw new UsageError('give one queue name');
  return name;
}

function printQueues(invocation: Invocation, queues: readonly Queue[]): void {
  for (const line of queuesTable(queues)) invocation.print(line);
}

const set: Verb = async (invocation) => {
  const name = oneQueue(invocation);
  const { weight, guarantee, limit } = invocation.values as { weight?: string; guarantee?: string[]; limit?: string[] };
  const parsedWeight = weight === undefined ? undefined : Number(weight);
  if (parsedWeight !== undefined && !Number.isFinite(parsedWeight)) {
    throw new UsageError(`--weight must be a number, not '${weight}'`);
  }
  const spec = {
    ...(parsedWeight !== undefined ? { weight: parsedWeight } : {}),
    quota: { guarantees: parseQuantities('guarantee', guarantee ?? []), limits: parseQuantities('limit', limit ?? []) },
  };
  const queue = (await invocation.client.request('PUT', `/queues/${segment(name)}`, spec)) as Queue;
  if (invocation.json) printJson(invocation, queue);
  else printQueues(invocation, [queue]);
  return EXIT.ok;
};

const show: Verb = async (invocation) => {
  const queue = (await invocation.client.request('GET', `/queues/${segment(oneQueue(invocation))}`)) as Queue;
  if (invocation.json) printJson(invocation, queue);
  else printQueues(invocation, [queue]);
  return EXIT.ok;
};

const list: Verb = async (invocation) => {
  const answer = (await invocation.client.request('GET', '/queues')) as { queues: Queue[] };
  if (invocation.json) printJson(invocation, answer);
  else printQueues(invocation, answer.queues);
  return EXIT.ok;
};

const VERBS: VerbTable = {
  set: {
    verb: set,
    options: {
      weight: { type: 'string' },
      guarantee: { type: 'string', multiple: true },
      limit: { type: 'string', multiple: true },
    },
    positionals: true,
  },
  show: { verb: show, options: {}, positionals: true },
  list: { verb: list, options: {}, positionals: false },
};

export function runQueueCli(argv: readonly string[]): Promise<number> {
  return runVerbs('queue', QUEUE_USAGE, VERBS, argv);
}
