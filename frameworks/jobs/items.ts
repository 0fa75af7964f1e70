/** How Mantle Jobs' records are laid out as items of the jobs table (tables.ts), and the index keys they carry. */
import type { Attempt, Job } from './model.js';
import type { Item } from '../common/framework-state.js';

export { condition } from '../common/framework-state.js';
export type { Item };

/** What a job waits for the timer to do, and from when. */
export type WaitKind = 'deps' | 'retry' | 'schedule' | 'timeout' | 'kill' | 'launch' | 'expand';

export interface Wait {
  readonly kind: WaitKind;
  /** ms since the epoch. */
  readonly until: number;
  /** A check that repeats (a launch nobody heard of): how long this wait was, to back off from. */
  readonly every?: number;
}

/** A job as stored: the record (attempts only when asked for) and what it waits for. */
export interface StoredJob {
  readonly job: Job;
  readonly wait: Wait | null;
  /** Attempts recorded so far (the job's attempts are read only when asked for). */
  readonly attemptCount: number;
}

/** One attempt's item: its tasks (one, or a gang's N) and their captured output. */
export interface AttemptRecord {
  readonly jobId: string;
  readonly attempt: number;
  readonly tasks: readonly Attempt[];
  /** The output tail each task delivered with its terminal status, by task id. */
  readonly output: Readonly<Record<string, string>>;
  /** The offers the attempt was placed on, for the launch and its checks. */
  readonly offerIds: readonly string[];
  readonly version: number;
}

const JOB_SK = 'job';
const PRIORITY_OFFSET = 1_000_000;

export const jobKey = (id: string) => ({ pk: `job#${id}`, sk: JOB_SK });
export const attemptKey = (id: string, n: number) => ({ pk: `job#${id}`, sk: `attempt#${String(n).padStart(6, '0')}` });

/** Where a job sorts in listings: by creation, then id (array children by index). */
export function listOrder(job: Pick<Job, 'created_at' | 'id' | 'array_index' | 'parent'>): string {
  const tail = job.array_index === null ? job.id : `${job.parent ?? ''}:${String(job.array_index).padStart(5, '0')}`;
  return `${job.created_at}#${tail}`;
}

/** Placement order as a string key: higher priority first, then FIFO. */
export function pendingOrder(job: Job): string {
  return `${String(PRIORITY_OFFSET - job.priority).padStart(7, '0')}#${listOrder(job)}`;
}

/** Whether a job is one the framework may place now (its dependencies met, no backoff or other wait). */
export function isPlaceable(stored: StoredJob): boolean {
  const { job } = stored;
  return job.state === 'PENDING' && job.array === null && job.schedule === null && stored.wait === null;
}

/** The sparse index attributes a job's state puts it under. */
export function indexAttributes(stored: StoredJob): Item {
  const { job, wait } = stored;
  const order = listOrder(job);
  const attributes: Item = { order };
  if (isPlaceable(stored)) {
    attributes.pending_queue = job.queue;
    attributes.pending_order = pendingOrder(job);
  }
  if (wait !== null) {
    attributes.wait = wait.kind;
    attributes.wait_until = new Date(wait.until).toISOString();
  }
  if (job.parent !== null) attributes.parent = job.parent;
  else {
    attributes.list_queue = job.queue;
    attributes.list_queue_state = `${job.queue}#${job.state}`;
    attributes.list_state = job.state;
    attributes.list_all = 'job';
  }
  return attributes;
}

export function jobItem(stored: StoredJob): Item {
  const { attempts: _attempts, version, ...record } = stored.job;
  return {
    ...jobKey(stored.job.id),
    version,
    job: JSON.parse(JSON.stringify(record)) as Item,
    attempt_count: stored.attemptCount,
    ...(stored.wait ? { wait_kind: stored.wait.kind, wait_at: stored.wait.until } : {}),
    ...(stored.wait?.every === undefined ? {} : { wait_every: stored.wait.every }),
    ...indexAttributes(stored),
  };
}

export function storedFromItem(item: Item, attempts: readonly Attempt[] = []): StoredJob {
  const job = { ...(item.job as Omit<Job, 'attempts' | 'version'>), attempts, version: item.version as number };
  const kind = item.wait_kind as WaitKind | undefined;
  const every = item.wait_every as number | undefined;
  const wait = kind ? { kind, until: item.wait_at as number, ...(every === undefined ? {} : { every }) } : null;
  return { job: job as Job, wait, attemptCount: (item.attempt_count ?? 0) as number };
}

export function attemptItem(record: AttemptRecord): Item {
  return {
    ...attemptKey(record.jobId, record.attempt),
    attempt: record.attempt,
    tasks: JSON.parse(JSON.stringify(record.tasks)) as Item[],
    output: record.output,
    offer_ids: [...record.offerIds],
    version: record.version,
  };
}

export function attemptFromItem(item: Item): AttemptRecord {
  return {
    jobId: (item.pk as string).slice('job#'.length),
    attempt: item.attempt as number,
    tasks: item.tasks as Attempt[],
    output: (item.output ?? {}) as Record<string, string>,
    offerIds: (item.offer_ids ?? []) as string[],
    version: item.version as number,
  };
}

/** A listing cursor: the order key of the last job returned, opaque to clients. */
export function encodeCursor(order: string): string {
  return Buffer.from(JSON.stringify({ o: order })).toString('base64url');
}

export function decodeCursor(cursor: string): string | undefined {
  try {
    const parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString()) as { o?: unknown };
    return typeof parsed.o === 'string' && parsed.o.length <= 1024 ? parsed.o : undefined;
  } catch {
    return undefined;
  }
}
