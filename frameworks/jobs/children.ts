/**
 * The children of array and scheduled jobs: an array's N children created once its dependencies are met
 * (idempotently, so the timer can finish an expansion a dead handler began), and a scheduled job's run for one
 * tick, written in one transaction with the parent's move to the next tick (a timer that fires twice, or dies
 * half way, makes the run once).
 */
import { arrayChildId, isTerminalJobState, scheduledRunId } from './model.js';
import { childSpec, newJob, scheduleSince } from './lifecycle.js';
import { dueTick, parseSchedule } from './schedule.js';
import { emptyChildren, parentWithSummary } from './parents.js';
import type { JobsStore, StoredJob, Wait } from './store.js';
import type { Logger } from '#shared/log.js';

/** What this needs of the engine (engine.ts), said here so that the two do not import each other. */
export interface ChildrenEngine {
  readonly store: JobsStore;
  readonly logger: Logger | undefined;
  now(): number;
  mutate(id: string, change: (current: StoredJob) => StoredJob | undefined): Promise<StoredJob | undefined>;
  releaseDependents(id: string): Promise<void>;
}
import { moveChild } from './lifecycle.js';

/** How many of an array's children are written at a time when they may already exist. */
const EXPAND_CONCURRENCY = 16;

function arrayChildren(parent: StoredJob, now: number): StoredJob[] {
  const { job } = parent;
  const size = job.array?.size ?? 0;
  const spec = childSpec(job, 'array');
  return Array.from({ length: size }, (_, index) => ({
    job: newJob(spec, { id: arrayChildId(job.id, index), now, parent: job.id, arrayIndex: index }),
    wait: null,
    attemptCount: 0,
  }));
}

/**
 * Creates an array job's children and clears its `expand` wait. `fresh`: nobody else can have written them (the
 * submission, or the handler that won the release), so they go in batches; otherwise each is written only if
 * absent, leaving a child that already moved on as it is.
 */
export async function expandArray(engine: ChildrenEngine, parent: StoredJob, fresh: boolean): Promise<void> {
  const children = arrayChildren(parent, engine.now());
  if (fresh) await engine.store.createFresh(children);
  else {
    for (let start = 0; start < children.length; start += EXPAND_CONCURRENCY) {
      await Promise.all(children.slice(start, start + EXPAND_CONCURRENCY).map((c) => engine.store.put(c, 'absent')));
    }
  }
  await engine.mutate(parent.job.id, (current) => {
    if (current.wait?.kind !== 'expand') return undefined;
    return parentWithSummary({ ...current, wait: null }, current.job.children ?? emptyChildren());
  });
  engine.logger?.info('Array job expanded', { job: parent.job.id, children: children.length });
}

/** The scheduled job's record moved to `next` (the tick after now), with its wait for the timer. */
function nextTickRecord(parent: StoredJob, lastTick: number | undefined, next: number | undefined): StoredJob {
  const job = {
    ...parent.job,
    ...(lastTick === undefined ? {} : { last_tick: new Date(lastTick).toISOString() }),
    next_tick: next === undefined ? null : new Date(next).toISOString(),
  };
  const wait: Wait | null = next === undefined ? null : { kind: 'schedule', until: next };
  return { ...parent, job, wait };
}

/**
 * A scheduled job's timer: when a tick is due, its run is created (missed ticks collapse into one run, as
 * Chronos does) together with the parent's move to its next tick; when none is, the parent waits for the next.
 * Resolves with the run created, if any.
 */
export async function tickSchedule(engine: ChildrenEngine, id: string): Promise<StoredJob | undefined> {
  for (let round = 0; round < 16; round++) {
    const parent = await engine.store.get(id);
    if (parent === undefined || parent.job.schedule === null || parent.job.state === 'CANCELLED') return undefined;
    const parsed = parseSchedule(parent.job.schedule);
    if (!parsed.ok) return undefined;
    const now = engine.now();
    const due = dueTick(parsed.value, scheduleSince(parent.job), now);
    const moved = nextTickRecord(parent, due.due, due.next);
    const version = parent.job.version + 1;
    if (due.due === undefined) {
      const summary = parent.job.children ?? emptyChildren();
      const stored = parentWithSummary(moved, summary);
      if (!(await engine.store.put({ ...stored, job: { ...stored.job, version } }, parent.job.version))) continue;
      // A schedule that has ended with its runs done ends the job: those waiting for it move on.
      if (isTerminalJobState(stored.job.state) && !isTerminalJobState(parent.job.state)) {
        await engine.releaseDependents(id);
      }
      return undefined;
    }
    const run: StoredJob = {
      job: newJob(childSpec(parent.job, 'run'), { id: scheduledRunId(id, due.due), now, parent: id }),
      wait: null,
      attemptCount: 0,
    };
    const withRun = parentWithSummary(moved, moveChild(parent.job.children ?? emptyChildren(), undefined, 'PENDING'));
    const written = await engine.store.transact([
      { kind: 'job', stored: run, expected: 'absent' },
      { kind: 'job', stored: { ...withRun, job: { ...withRun.job, version } }, expected: parent.job.version },
    ]);
    if (written) {
      engine.logger?.info('Scheduled run created', { job: id, run: run.job.id, skipped: due.skipped });
      return run;
    }
  }
  throw new Error(`Scheduled job ${id} kept changing; its tick gave up`);
}
