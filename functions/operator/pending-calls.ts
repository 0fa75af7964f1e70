/**
 * GET_PENDING_REASONS, a Mantle extension of the operator API (docs/operator.md, "Why pending"): for each
 * framework and role the latest full allocation pass offered nothing, the allocator's reason
 * (functions/registrar/pending.ts), and the jobs of Mantle Jobs waiting to run with theirs, where Jobs
 * runs beside this master (code `JOB_PENDING`, `role` the job's queue). An optional filter
 * `get_pending_reasons: {framework_id: {value}, role}` narrows the answer. The same reasons, a framework's
 * own, answer the scheduler call GET_PENDING_REASONS (functions/scheduler/pending.ts).
 */
import { z } from 'zod';
import type { Master } from '../master/master.js';
import { pendingReasonJson } from '../scheduler/pending.js';
import { operatorCall } from './dispatch.js';
import { respond } from './responses.js';

/** At most this many pending jobs are listed (the Jobs API pages through the rest). */
export const PENDING_JOBS_LIMIT = 100;

const FilterSchema = z.object({
  framework_id: z.object({ value: z.string() }).optional(),
  role: z.string().optional(),
});
type Filter = z.infer<typeof FilterSchema>;

async function jobReasons(master: Master, filter: Filter | undefined): Promise<Array<Record<string, unknown>>> {
  // Jobs' reasons belong to the Jobs framework: a filter on another framework leaves them out.
  if (filter?.framework_id || !master.pendingJobs) return [];
  const jobs = await master.pendingJobs(PENDING_JOBS_LIMIT);
  return jobs
    .filter((job) => filter?.role === undefined || job.queue === filter.role)
    .map((job) => ({
      role: job.queue,
      job_id: job.id,
      job_name: job.name,
      code: 'JOB_PENDING',
      message: job.reason,
      since: { nanoseconds: Date.parse(job.createdAt) * 1_000_000 },
    }));
}

export const GET_PENDING_REASONS = operatorCall<Filter | undefined>({
  type: 'GET_PENDING_REASONS',
  field: 'get_pending_reasons',
  payload: FilterSchema,
  optional: true,
  handle: async (master, call) => {
    const filter = call.payload;
    const [stored, jobs] = await Promise.all([
      master.registrar.pending.list(filter?.framework_id?.value),
      jobReasons(master, filter),
    ]);
    const reasons = stored.filter((reason) => filter?.role === undefined || reason.role === filter.role);
    return respond('GET_PENDING_REASONS', 'get_pending_reasons', {
      reasons: [...reasons.map(pendingReasonJson), ...jobs],
    });
  },
});
