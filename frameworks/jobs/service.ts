/** Placeholder for jobs-core's service.ts (the Addendum's interface); replaced by the merge. */
import type { Result } from '#shared/result.js';
import type { Job, JobSpec, JobState, QueueSpec } from './model.js';

export type JobsErrorCode = 'NOT_FOUND' | 'INVALID_JOB' | 'INVALID_QUEUE' | 'CONFLICT';
export interface JobsError {
  readonly code: JobsErrorCode;
  readonly message: string;
}
export interface Queue extends QueueSpec {
  readonly name: string;
  readonly counts: Record<JobState, number>;
}
export interface JobsService {
  submit(spec: JobSpec): Promise<Result<Job, JobsError>>;
  get(id: string): Promise<Job | undefined>;
  list(query: {
    queues?: readonly string[];
    state?: JobState;
    parent?: string;
    limit: number;
    next?: string;
  }): Promise<{ jobs: Job[]; next: string | null }>;
  cancel(id: string, reason: string): Promise<Result<Job, JobsError>>;
  logs(id: string): Promise<Result<string, JobsError>>;
  putQueue(name: string, spec: QueueSpec): Promise<Result<Queue, JobsError>>;
  getQueue(name: string): Promise<Queue | undefined>;
  listQueues(): Promise<Queue[]>;
}
