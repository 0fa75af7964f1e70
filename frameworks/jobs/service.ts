/**
 * The Jobs service (docs/jobs.md): submit, read, list, cancel, logs, and the queues (a queue is a Mesos role: its
 * weight and quota are the registrar's roles'). What the REST API and the CLI stand on; authorization is theirs
 * (a principal uses only the queues of its roles). A caller's mistake is a Result, never a throw.
 *
 * The service records; the framework (framework.ts) places and launches, and the timer (ticker.ts) does what
 * waits for a time. `actions` let a service beside the framework wake it at once (new work to offer for, tasks
 * to kill); without them the timer does the same within its period.
 */
import type { TaskLogReader } from '#shared/task-logs/store.js';
import { taskOutputText } from '#shared/task-logs/task-output.js';
import type { Logger } from '#shared/log.js';
import type { Metrics } from '#shared/metrics.js';
import { failure, ok, type Failure, type Result } from '#shared/result.js';
import type { RoleRecord, RoleRegistry } from '../../functions/registrar/roles.js';
import {
  JOB_STATES,
  newJobId,
  parseJobSpec,
  validateQueueName,
  DEFAULT_QUEUE,
  type ChildSummary,
  type Job,
  type JobSpec,
  type JobState,
  type QueueSpec,
} from './model.js';
import { newJob } from './lifecycle.js';
import { cancelled, DEPS_RECHECK_MS, EXPAND_RECHECK_MS, JobsEngine } from './engine.js';
import { expandArray } from './children.js';
import type { AttemptRecord } from './items.js';
import { decodeCursor, encodeCursor, listOrder, type JobsStore, type ListPartition, type StoredJob } from './store.js';
import { JOBS_INDEX } from './tables.js';
import { behind, isQueuePlace } from './placement.js';

export type JobsErrorCode = 'NOT_FOUND' | 'INVALID_JOB' | 'INVALID_QUEUE' | 'CONFLICT';
export type JobsError = Failure<JobsErrorCode>;

export interface Queue {
  readonly name: string;
  readonly weight: number;
  readonly quota: { readonly guarantees: Record<string, number>; readonly limits: Record<string, number> };
  /** Its top-level jobs by state. */
  readonly counts: ChildSummary;
}

export interface ListQuery {
  readonly queues?: readonly string[];
  readonly state?: JobState;
  readonly parent?: string;
  readonly limit: number;
  readonly next?: string;
}

export interface JobsService {
  submit(spec: JobSpec): Promise<Result<Job, JobsError>>;
  get(id: string): Promise<Job | undefined>;
  list(query: ListQuery): Promise<{ jobs: Job[]; next: string | null }>;
  cancel(id: string, reason: string): Promise<Result<Job, JobsError>>;
  logs(id: string): Promise<Result<string, JobsError>>;
  putQueue(name: string, spec: QueueSpec): Promise<Result<Queue, JobsError>>;
  getQueue(name: string): Promise<Queue | undefined>;
  listQueues(): Promise<Queue[]>;
}

/** What a service beside the framework may ask of it at once (otherwise the timer does within a period). */
export interface JobsActions {
  /** New work in these queues: add their roles, REVIVE. */
  wake(queues: readonly string[]): Promise<void>;
  /** Kill a cancelled job's live tasks. */
  kill(jobId: string): Promise<void>;
}

export type RoleStore = Pick<RoleRegistry, 'get' | 'list' | 'setWeight' | 'setQuota'>;

export interface JobsServiceOptions {
  readonly store: JobsStore;
  readonly roles: RoleStore;
  readonly now?: () => number;
  readonly logger?: Logger;
  readonly metrics?: Metrics;
  /** Late-bound: the framework may start after the service. */
  readonly actions?: () => JobsActions | undefined;
  /** The tasks' output as the agents ship it (the master's task log store): logs live while a job runs. */
  readonly taskLogs?: TaskLogReader;
}

/** Whether a listing cursor is one this service handed out (the API answers 400 for one that is not). */
export function isValidCursor(next: string): boolean {
  return decodeCursor(next) !== undefined;
}

/** A listing's page size is 1 to this. */
export const MAX_LIST_LIMIT = 1000;

export function createJobsService(options: JobsServiceOptions): JobsService {
  return new Service(options);
}

class Service implements JobsService {
  private readonly engine: JobsEngine;
  private readonly metrics: Metrics;
  /** Queues this process has marked in use: marked once (a conditional write that fails every other time). */
  private readonly marked = new Set<string>();

  constructor(private readonly options: JobsServiceOptions) {
    this.engine = new JobsEngine({
      store: options.store,
      now: options.now ?? Date.now,
      ...(options.logger ? { logger: options.logger } : {}),
    });
    this.metrics = options.metrics ?? options.store.metrics;
  }

  private get store(): JobsStore {
    return this.options.store;
  }

  /** The spec is validated again (it may come straight from a client's JSON). */
  async submit(input: JobSpec): Promise<Result<Job, JobsError>> {
    const parsed = parseJobSpec(input);
    if (!parsed.ok) return parsed;
    const now = this.engine.now();
    const job = newJob(parsed.value, { id: newJobId(now), now });
    const stored = initialRecord(job, now);
    if (!this.marked.has(job.queue)) {
      await this.store.markQueue(job.queue);
      this.marked.add(job.queue);
    }
    if (!(await this.store.put(stored, 'absent'))) throw new Error(`Job id ${job.id} was taken`);
    this.metrics.increment('jobs/submitted');
    this.options.logger?.info('Job submitted', { job: job.id, queue: job.queue, name: job.name });
    const settles = job.depends_on.length > 0 || stored.wait?.kind === 'expand';
    if (job.depends_on.length > 0) {
      await this.store.addDependents(
        job.id,
        job.depends_on.map((dependency) => dependency.job),
      );
      await this.engine.evaluateDependencies(job.id);
    }
    if (stored.wait?.kind === 'expand') await expandArray(this.engine, stored, true);
    await this.options.actions?.()?.wake([job.queue]);
    // A job without dependencies or children is as written; the others may have moved (released, expanded).
    return ok(settles ? ((await this.get(job.id)) ?? stored.job) : stored.job);
  }

  async get(id: string): Promise<Job | undefined> {
    const job = await this.read(id);
    return job === undefined ? undefined : (await this.withPlaces([job]))[0];
  }

  private async read(id: string): Promise<Job | undefined> {
    return (await this.store.get(id, { attempts: true }))?.job;
  }

  /** A job waiting behind others gets its place as it is now (the framework writes only that it waits so). */
  private async withPlaces(jobs: readonly Job[]): Promise<Job[]> {
    const waiting = jobs.filter((job) => job.state === 'PENDING' && isQueuePlace(job.pending_reason));
    if (waiting.length === 0) return [...jobs];
    const places = await this.store.places(waiting);
    return jobs.map((job) => {
      const place = places.get(job.id);
      return place === undefined
        ? job
        : { ...job, pending_reason: behind(job.queue, place.higher, place.earlier).message };
    });
  }

  async list(query: ListQuery): Promise<{ jobs: Job[]; next: string | null }> {
    const limit = Math.max(1, Math.min(MAX_LIST_LIMIT, Math.floor(query.limit) || 1));
    const after = query.next === undefined ? undefined : decodeCursor(query.next);
    if (query.next !== undefined && after === undefined) return { jobs: [], next: null };
    if (query.parent !== undefined) return this.listChildren(query, limit, after);
    const pages = await Promise.all(
      listPartitions(query).map((partition) => this.store.listPartition(partition, limit, after)),
    );
    const merged = pages
      .flatMap((page) => page.jobs)
      .sort((a, b) => (orderOf(a) < orderOf(b) ? 1 : orderOf(a) > orderOf(b) ? -1 : 0));
    const jobs = merged.slice(0, limit);
    const more = merged.length > limit || pages.some((page) => page.more);
    const last = jobs.at(-1);
    const withAttempts = await Promise.all(jobs.map((stored) => this.read(stored.job.id)));
    return {
      jobs: await this.withPlaces(withAttempts.filter((job): job is Job => job !== undefined)),
      next: more && last ? encodeCursor(orderOf(last)) : null,
    };
  }

  /** A parent's children, by index or tick, filtered by queue and state. */
  private async listChildren(
    query: ListQuery,
    limit: number,
    after: string | undefined,
  ): Promise<{ jobs: Job[]; next: string | null }> {
    const found: StoredJob[] = [];
    let cursor = after;
    let more = true;
    while (found.length < limit && more) {
      const page = await this.store.children(query.parent as string, limit, cursor);
      more = page.more;
      for (const [index, stored] of page.jobs.entries()) {
        cursor = orderOf(stored);
        if (query.state !== undefined && stored.job.state !== query.state) continue;
        if (query.queues !== undefined && !query.queues.includes(stored.job.queue)) continue;
        found.push(stored);
        if (found.length === limit) {
          more ||= index < page.jobs.length - 1;
          break;
        }
      }
    }
    const jobs = await Promise.all(found.map((stored) => this.read(stored.job.id)));
    const last = found.at(-1);
    return {
      jobs: await this.withPlaces(jobs.filter((job): job is Job => job !== undefined)),
      next: more && last ? encodeCursor(orderOf(last)) : null,
    };
  }

  async cancel(id: string, reason: string): Promise<Result<Job, JobsError>> {
    const current = await this.store.get(id);
    if (current === undefined) return failure('NOT_FOUND', `No job ${id}`);
    if (current.job.state === 'SUCCEEDED' || current.job.state === 'FAILED') {
      return failure('CONFLICT', `Job ${id} has already ended ${current.job.state}`);
    }
    const now = this.engine.now();
    const written = await this.engine.mutate(
      id,
      (stored) => (stored.job.state === 'CANCELLED' || isEnded(stored) ? undefined : cancelled(stored, reason, now)),
      { attempts: true },
    );
    if (written) {
      this.metrics.increment('jobs/cancelled');
      this.options.logger?.info('Job cancelled', { job: id, reason });
      await this.cancelChildren(id, reason);
      if (written.wait?.kind === 'kill') await this.options.actions?.()?.kill(id);
    }
    const after = await this.get(id);
    if (after && (after.state === 'SUCCEEDED' || after.state === 'FAILED')) {
      return failure('CONFLICT', `Job ${id} has already ended ${after.state}`);
    }
    return after ? ok(after) : failure('NOT_FOUND', `No job ${id}`);
  }

  /** An array's or scheduled job's children that have not ended are cancelled with it. */
  private async cancelChildren(id: string, reason: string): Promise<void> {
    let after: string | undefined;
    for (;;) {
      const page = await this.store.children(id, 100, after);
      for (const child of page.jobs) {
        if (!isEnded(child) && child.job.state !== 'CANCELLED') await this.cancel(child.job.id, reason);
      }
      const last = page.jobs.at(-1);
      if (!page.more || last === undefined) return;
      after = orderOf(last);
    }
  }

  /**
   * The latest attempt's output: from the task log store while it runs and after (the last MiB of
   * stdout then stderr per task), else the tail each task delivered with its terminal status.
   */
  async logs(id: string): Promise<Result<string, JobsError>> {
    const stored = await this.store.get(id);
    if (stored === undefined) return failure('NOT_FOUND', `No job ${id}`);
    const attempts = await this.store.attempts(id);
    const latest = attempts
      .filter((record) => record.tasks.some((task) => task.started_at !== null || task.ended_at !== null))
      .at(-1);
    if (latest === undefined) return ok('');
    const live = await this.liveOutput(latest);
    const output = (taskId: string): string => live[taskId] ?? latest.output[taskId] ?? '';
    if (latest.tasks.length === 1) return ok(output(latest.tasks[0]?.task_id ?? ''));
    return ok(latest.tasks.map((task) => `==> ${task.task_id} <==\n${output(task.task_id)}`).join('\n'));
  }

  /** Each task's output in the task log store, by task id (none where the store has none). */
  private async liveOutput(record: AttemptRecord): Promise<Record<string, string>> {
    const reader = this.options.taskLogs;
    const frameworkId = reader ? (await this.store.subscription())?.frameworkId : undefined;
    if (!reader || !frameworkId) return {};
    const texts = await Promise.all(
      record.tasks.map(async (task) => {
        const text = await taskOutputText(reader, { frameworkId, taskId: task.task_id }).catch((error: unknown) => {
          this.options.logger?.warn('Reading task output failed', { taskId: task.task_id, error: String(error) });
          return undefined;
        });
        return [task.task_id, text] as const;
      }),
    );
    return Object.fromEntries(texts.filter((entry): entry is readonly [string, string] => entry[1] !== undefined));
  }

  async putQueue(name: string, spec: QueueSpec): Promise<Result<Queue, JobsError>> {
    const nameError = validateQueueName(name);
    if (nameError) return failure('INVALID_QUEUE', `Invalid queue: ${nameError}`);
    const weight = await this.options.roles.setWeight(name, spec.weight);
    if (!weight.ok) return failure('INVALID_QUEUE', `Invalid queue '${name}': ${weight.error.message}`);
    const quota = await this.options.roles.setQuota(name, spec.quota);
    if (!quota.ok) return failure('INVALID_QUEUE', `Invalid queue '${name}': ${quota.error.message}`);
    await this.store.markQueue(name);
    this.options.logger?.info('Queue set', { queue: name, weight: spec.weight });
    return ok(await this.queueOf(name, quota.value));
  }

  async getQueue(name: string): Promise<Queue | undefined> {
    if (validateQueueName(name) !== undefined) return undefined;
    const role = await this.options.roles.get(name);
    if (role === undefined && name !== DEFAULT_QUEUE && !(await this.store.queues()).includes(name)) return undefined;
    return this.queueOf(name, role);
  }

  async listQueues(): Promise<Queue[]> {
    const roles = await this.options.roles.list();
    const names = new Set([DEFAULT_QUEUE, ...(await this.store.queues())]);
    for (const role of roles) if (validateQueueName(role.role) === undefined) names.add(role.role);
    const byName = new Map(roles.map((role) => [role.role, role]));
    return Promise.all([...names].sort().map((name) => this.queueOf(name, byName.get(name))));
  }

  private async queueOf(name: string, role: RoleRecord | undefined): Promise<Queue> {
    const counts = Object.fromEntries(
      await Promise.all(JOB_STATES.map(async (state) => [state, await this.store.count(name, state)] as const)),
    ) as Record<JobState, number>;
    return {
      name,
      weight: role?.weight ?? 1,
      quota: { guarantees: { ...(role?.quota.guarantees ?? {}) }, limits: { ...(role?.quota.limits ?? {}) } },
      counts,
    };
  }
}

function isEnded(stored: StoredJob): boolean {
  return stored.job.state === 'SUCCEEDED' || stored.job.state === 'FAILED';
}

function orderOf(stored: StoredJob): string {
  return listOrder(stored.job);
}

/** A new job's first record: waiting for dependencies, its schedule, its expansion, or placeable. */
function initialRecord(job: Job, now: number): StoredJob {
  if (job.depends_on.length > 0) {
    return {
      job: { ...job, pending_reason: `waiting for dependency ${job.depends_on[0]?.job ?? ''}` },
      wait: { kind: 'deps', until: now + DEPS_RECHECK_MS },
      attemptCount: 0,
    };
  }
  if (job.schedule !== null) {
    const next = job.next_tick === null ? null : Date.parse(job.next_tick);
    return {
      job: { ...job, pending_reason: `waiting for its schedule: next run at ${job.next_tick ?? 'never'}` },
      wait: next === null ? null : { kind: 'schedule', until: next },
      attemptCount: 0,
    };
  }
  if (job.array !== null) {
    const children = { PENDING: job.array.size, RUNNING: 0, SUCCEEDED: 0, FAILED: 0, CANCELLED: 0 };
    const reason = `${job.array.size} of ${job.array.size} array children pending`;
    return {
      job: { ...job, children, pending_reason: reason },
      wait: { kind: 'expand', until: now + EXPAND_RECHECK_MS },
      attemptCount: 0,
    };
  }
  return { job, wait: null, attemptCount: 0 };
}

/** The index partitions a listing reads: per queue (and state), or per state, or all. */
function listPartitions(query: ListQuery): ListPartition[] {
  const { queues, state } = query;
  if (queues !== undefined) {
    return queues.map((queue) =>
      state === undefined
        ? { index: JOBS_INDEX.byQueue, key: 'list_queue', value: queue }
        : { index: JOBS_INDEX.byQueueState, key: 'list_queue_state', value: `${queue}#${state}` },
    );
  }
  return state === undefined
    ? [{ index: JOBS_INDEX.all, key: 'list_all', value: 'job' }]
    : [{ index: JOBS_INDEX.byState, key: 'list_state', value: state }];
}
