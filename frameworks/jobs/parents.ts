/** An array's or scheduled job's summary of its children, and the state the summary gives it (pure). */
import { isTerminalJobState, type Job, type JobState } from './model.js';
import { arrayState, scheduledState } from './lifecycle.js';
import type { StoredJob } from './store.js';

/** A parent (array or scheduled job) with a new summary of its children, and the state that summary gives it. */
export function parentWithSummary(parent: StoredJob, summary: Job['children'] & object): StoredJob {
  const job = { ...parent.job, children: summary };
  if (isTerminalJobState(job.state)) return { ...parent, job };
  const derived = job.array !== null ? arrayState(job.array.size, summary) : scheduledState(summary, job.next_tick);
  // An array still expanding (or waiting for its dependencies) stays PENDING with its own reason.
  if (job.array !== null && parent.wait?.kind === 'deps') return { ...parent, job };
  return { ...parent, job: { ...job, state: derived.state, pending_reason: derived.pending_reason } };
}

export function emptyChildren(): Record<JobState, number> {
  return { PENDING: 0, RUNNING: 0, SUCCEEDED: 0, FAILED: 0, CANCELLED: 0 };
}
