/**
 * How a job's record moves, over the store: every change is read → decide (the pure lifecycle) → conditional
 * write, retried when another handler wrote first. A child's change moves its parent's summary in the same
 * transaction (so a redelivered update can never count a child twice), and a job that ends releases or
 * cancels the jobs that wait for it. Shared by the service (submit, cancel), the framework (status updates)
 * and the timer.
 */
import type { Logger } from '#shared/log.js';
import { TERMINAL_STATES } from '#shared/tasks/state-machine.js';
import { FIRST_CHECK_MS } from '../common/reconciliation.js';
import { isTerminalJobState, type Job, type JobState } from './model.js';
import { attemptGroups, dependencyStatus, moveChild, settleAttempts, tasksToKill, timeoutAt } from './lifecycle.js';
import type { JobsStore, JobWrite, StoredJob, Wait } from './store.js';
import { emptyChildren, parentWithSummary } from './parents.js';
import { expandArray } from './children.js';

/** How long a recorded attempt may go without a word from the master before the timer asks (reconciles). */
export const LAUNCH_CHECK_MS = FIRST_CHECK_MS;
/** How often the timer looks again at a job waiting for dependencies (the edges release it sooner). */
export const DEPS_RECHECK_MS = 60_000;
/** How long an array's expansion may take before the timer finishes it. */
export const EXPAND_RECHECK_MS = 60_000;
const WRITE_ATTEMPTS = 16;

export interface EngineOptions {
  readonly store: JobsStore;
  readonly now: () => number;
  readonly logger?: Logger;
  /** How long a recorded attempt may go unheard of before the timer reconciles it (default LAUNCH_CHECK_MS). */
  readonly launchCheckMs?: number;
}

export interface MutateOptions {
  /** Read the job's attempts too (for the lifecycle's decisions). */
  readonly attempts?: boolean;
  /** Other items written in the same transaction (a new attempt). */
  readonly extra?: (next: StoredJob) => JobWrite[];
}

/** A change: the next record, or undefined for "nothing to do". */
export type Change = (current: StoredJob) => StoredJob | undefined;

export class JobsEngine {
  readonly store: JobsStore;
  readonly now: () => number;
  readonly logger: Logger | undefined;
  readonly launchCheckMs: number;

  constructor(options: EngineOptions) {
    this.store = options.store;
    this.now = options.now;
    this.logger = options.logger;
    this.launchCheckMs = options.launchCheckMs ?? LAUNCH_CHECK_MS;
  }

  /**
   * Applies `change` to the job as it is now, conditional on its version (and its parent's, when its state moves),
   * retrying on a lost race. Resolves with the record written, or undefined when there was nothing to do. A job
   * that ended releases or cancels its dependents afterwards.
   */
  async mutate(id: string, change: Change, options: MutateOptions = {}): Promise<StoredJob | undefined> {
    for (let round = 0; round < WRITE_ATTEMPTS; round++) {
      const current = await this.store.get(id, { attempts: options.attempts ?? false });
      if (current === undefined) return undefined;
      const next = change(current);
      if (next === undefined) return undefined;
      const bumped = withVersion(next, current.job.version + 1);
      const parentWrite = await this.parentWrite(current.job.state, bumped);
      if (parentWrite === 'retry') continue;
      const writes: JobWrite[] = [{ kind: 'job', stored: bumped, expected: current.job.version }];
      if (parentWrite) writes.push(parentWrite.write);
      writes.push(...(options.extra?.(bumped) ?? []));
      if (!(await this.store.transact(writes))) {
        await jitter(round);
        continue;
      }
      await this.afterWrite(current.job, bumped.job);
      if (parentWrite) await this.afterWrite(parentWrite.before, parentWrite.write.stored.job);
      return bumped;
    }
    throw new Error(`Job ${id} kept changing; the update gave up`);
  }

  /** The parent's summary moved by a child's state change (and its state with it); 'retry' if it vanished. */
  private async parentWrite(
    before: JobState,
    child: StoredJob,
  ): Promise<{ write: JobWrite & { kind: 'job' }; before: Job } | undefined | 'retry'> {
    const parentId = child.job.parent;
    if (parentId === null || before === child.job.state) return undefined;
    const parent = await this.store.get(parentId);
    if (parent === undefined) return undefined;
    const summary = moveChild(parent.job.children ?? emptyChildren(), before, child.job.state);
    const moved = parentWithSummary(parent, summary);
    return {
      write: { kind: 'job', stored: withVersion(moved, parent.job.version + 1), expected: parent.job.version },
      before: parent.job,
    };
  }

  /** After a write: a job that ended frees (or cancels) those waiting for it. */
  private async afterWrite(before: Job, after: Job): Promise<void> {
    if (isTerminalJobState(after.state) && !isTerminalJobState(before.state)) {
      this.logger?.info('Job ended', { job: after.id, state: after.state, reason: after.status_reason ?? undefined });
      await this.releaseDependents(after.id);
    }
  }

  /** Re-evaluates every job waiting for `id`. */
  async releaseDependents(id: string): Promise<void> {
    for (const dependent of await this.store.dependents(id)) await this.evaluateDependencies(dependent);
  }

  /**
   * A job waiting for dependencies: released when they are met (an array then expands), CANCELLED when one can
   * no longer be, or left waiting with the reason.
   */
  async evaluateDependencies(id: string): Promise<StoredJob | undefined> {
    const current = await this.store.get(id);
    if (current === undefined || current.wait?.kind !== 'deps' || current.job.state !== 'PENDING') return undefined;
    const states = new Map<string, JobState>();
    for (const dependency of current.job.depends_on) {
      const found = await this.store.get(dependency.job);
      if (found) states.set(dependency.job, found.job.state);
    }
    const status = dependencyStatus(current.job.depends_on, states);
    const now = this.now();
    const written = await this.mutate(id, (job) => {
      if (job.wait?.kind !== 'deps' || job.job.state !== 'PENDING') return undefined;
      if (status.kind === 'never') return cancelled(job, status.reason, now);
      if (status.kind === 'waiting') {
        const wait: Wait = { kind: 'deps', until: now + DEPS_RECHECK_MS };
        return { ...job, job: { ...job.job, pending_reason: status.reason }, wait };
      }
      return released(job, now);
    });
    if (written?.wait?.kind === 'expand') await expandArray(this, written, true);
    return written;
  }

  /** The state a leaf job's attempts give it, with what it then waits for (retry, launch check, timeout, kill). */
  async settle(id: string): Promise<StoredJob | undefined> {
    const now = this.now();
    return this.mutate(id, (current) => settled(current, now, this.launchCheckMs), { attempts: true });
  }
}

/** A job's record after its attempts changed, or undefined when nothing did. */
export function settled(current: StoredJob, now: number, launchCheckMs = LAUNCH_CHECK_MS): StoredJob | undefined {
  const { job } = current;
  if (job.array !== null || job.schedule !== null) return undefined;
  const outcome = settleAttempts(job);
  const next: Job = {
    ...job,
    state: outcome.state,
    status_reason: outcome.status_reason,
    retry_at: outcome.retry_at,
    pending_reason: outcome.state === 'PENDING' ? job.pending_reason : null,
  };
  const wait = leafWait(next, current.wait, now, launchCheckMs);
  const same =
    next.state === job.state &&
    next.status_reason === job.status_reason &&
    next.retry_at === job.retry_at &&
    JSON.stringify(wait) === JSON.stringify(current.wait);
  return same ? undefined : { ...current, job: next, wait };
}

/** What a leaf job waits for the timer to do next, given its record. */
export function leafWait(job: Job, previous: Wait | null, now: number, launchCheckMs = LAUNCH_CHECK_MS): Wait | null {
  if (job.state === 'PENDING') {
    if (previous?.kind === 'deps') return previous;
    const retryAt = job.retry_at === null ? 0 : Date.parse(job.retry_at);
    return retryAt > now ? { kind: 'retry', until: retryAt } : null;
  }
  if (tasksToKill(job, now) !== undefined) return previous?.kind === 'kill' ? previous : { kind: 'kill', until: now };
  if (job.state !== 'RUNNING') return null;
  const last = attemptGroups(job.attempts).at(-1) ?? [];
  const unheard = last.some((task) => task.state === 'TASK_STAGING' && !TERMINAL_STATES.has(task.state));
  if (unheard) return previous?.kind === 'launch' ? previous : { kind: 'launch', until: now + launchCheckMs };
  const timeout = timeoutAt(job);
  return timeout === undefined ? null : { kind: 'timeout', until: timeout };
}

/** A job cancelled (by a client or a dependency that cannot be met): its live tasks are to be killed. */
export function cancelled(current: StoredJob, reason: string, now: number): StoredJob {
  const job: Job = { ...current.job, state: 'CANCELLED', status_reason: reason, pending_reason: null, retry_at: null };
  const last = attemptGroups(current.job.attempts).at(-1) ?? [];
  const alive = last.some((task) => !TERMINAL_STATES.has(task.state)) || current.job.state === 'RUNNING';
  return { ...current, job, wait: alive ? { kind: 'kill', until: now } : null };
}

/** A job whose dependencies are met: placeable now (an array: its children are created first). */
export function released(current: StoredJob, now: number): StoredJob {
  const job = { ...current.job, pending_reason: null };
  if (job.array !== null) {
    const children = { ...emptyChildren(), PENDING: job.array.size };
    return { ...current, job: { ...job, children }, wait: { kind: 'expand', until: now + EXPAND_RECHECK_MS } };
  }
  return { ...current, job, wait: null };
}

function withVersion(stored: StoredJob, version: number): StoredJob {
  return { ...stored, job: { ...stored.job, version } };
}

async function jitter(round: number): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, Math.random() * Math.min(50, 2 ** round)));
}
