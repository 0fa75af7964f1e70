/**
 * Mantle Jobs' DynamoDB table, defined once: the local bootstrap creates it from this definition and the CDK
 * stack declares it from the same one (as functions/registrar/tables.ts does for the registrar).
 *
 * One table, `<cluster>-jobs`, keys `pk` / `sk`:
 * - a job: `pk=job#<id>`, `sk=job` (the job less its attempts, plus `attempt_count`);
 * - its attempts: `pk=job#<id>`, `sk=attempt#<6-digit n>`, each holding that attempt's tasks (one, or a gang's N):
 *   every attempt is kept, and a list of them could pass DynamoDB's 400 KB item limit where one cannot;
 * - the jobs waiting for it: `pk=job#<id>`, `sk=dependent#<dependent id>` (a job depends on up to 100 jobs, so
 *   the edge lives with the dependency: when it ends, one query finds whom to release or cancel);
 * - the framework's own state: `pk=framework`, `sk=subscription` (framework id, stream id), one
 *   `sk=queue#<name>` per queue in use (the framework's roles), `sk=held#<offer id>` per offer a gang holds;
 * - the events handled: `pk=event#<SQS message id>`, `sk=handled`, expiring a day later (`expires_at`), so a
 *   message the queue delivers again is not handled twice.
 *
 * The indexes are sparse: an attribute is set only while the item belongs in the index. Plain data (no AWS SDK),
 * so the CDK stack can import it.
 */
import type { KeyAttribute, TableDefinition } from '../common/table.js';

export type JobsKeyAttribute = KeyAttribute;
export type JobsTableDefinition = TableDefinition;

/** The indexes by name, for the store's queries. */
export const JOBS_INDEX = {
  /** Jobs ready to place, per queue, in placement order: priority (higher first), created_at, id. */
  pending: 'pending',
  /** Children of an array or scheduled job, oldest first. */
  children: 'children',
  /** Jobs the timer must look at, by what they wait for (retry, schedule, timeout, kill, launch, deps) and when. */
  waits: 'waits',
  /** Top-level jobs (not children) for listing, newest first: per queue, per queue and state, per state, all. */
  byQueue: 'by_queue',
  byQueueState: 'by_queue_state',
  byState: 'by_state',
  all: 'all',
} as const;

const S = (name: string): JobsKeyAttribute => ({ name, type: 'S' });

export const JOBS_TABLE: JobsTableDefinition = {
  description: 'Mantle Jobs: jobs, their attempts, dependency edges, and the framework subscription',
  partitionKey: S('pk'),
  sortKey: S('sk'),
  timeToLiveAttribute: 'expires_at',
  indexes: [
    {
      name: JOBS_INDEX.pending,
      description: 'Jobs ready to place (PENDING, dependencies met, no backoff) per queue, in placement order',
      partitionKey: S('pending_queue'),
      sortKey: S('pending_order'),
    },
    {
      name: JOBS_INDEX.children,
      description: "An array or scheduled job's children",
      partitionKey: S('parent'),
      sortKey: S('order'),
    },
    {
      name: JOBS_INDEX.waits,
      description:
        'Jobs waiting for the timer: retry backoff, schedule tick, timeout, kill, launch check, dependencies',
      partitionKey: S('wait'),
      sortKey: S('wait_until'),
    },
    {
      name: JOBS_INDEX.byQueue,
      description: 'Top-level jobs per queue',
      partitionKey: S('list_queue'),
      sortKey: S('order'),
    },
    {
      name: JOBS_INDEX.byQueueState,
      description: 'Top-level jobs per queue and state (`<queue>#<state>`)',
      partitionKey: S('list_queue_state'),
      sortKey: S('order'),
    },
    {
      name: JOBS_INDEX.byState,
      description: 'Top-level jobs per state',
      partitionKey: S('list_state'),
      sortKey: S('order'),
    },
    {
      name: JOBS_INDEX.all,
      description: 'Every top-level job',
      partitionKey: S('list_all'),
      sortKey: S('order'),
    },
  ],
};

/** The table's name for a cluster: `<cluster>-jobs`. */
export function jobsTableName(cluster: string): string {
  return `${cluster}-jobs`;
}

/** The environment variable that carries the table's name into a Lambda function. */
export const JOBS_TABLE_ENV = 'MANTLE_JOBS_TABLE';

export function jobsTableFromEnvironment(env: NodeJS.ProcessEnv = process.env): string {
  const name = env[JOBS_TABLE_ENV];
  if (!name) throw new Error(`${JOBS_TABLE_ENV} is not set`);
  return name;
}
