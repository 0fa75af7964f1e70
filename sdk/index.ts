/**
 * Mantle's SDK: the scheduler driver (a SUBSCRIBE stream) and the queue-delivered scheduler for frameworks, the
 * executor driver for custom executors, the operator API client, the Jobs API client, and tasks' output (the files
 * API). Also importable one by one: `mantle/scheduler`, `mantle/queue-scheduler`, `mantle/executor`, `mantle/operator`,
 * `mantle/jobs`, `mantle/task-output`.
 */
export {
  CallError,
  inProcess,
  SchedulerDriver,
  type Fetch,
  type Scheduler,
  type SchedulerDriverOptions,
} from './scheduler.js';
export * from './queue-scheduler.js';
export {
  ExecutorDriver,
  executorEnvironment,
  parseMesosDuration,
  type Executor,
  type ExecutorEnvironment,
  type ExecutorStatus,
} from './executor.js';
export * from './operator.js';
export * from './jobs.js';
export * from './task-output.js';
export type { ConnectionOptions } from './calls.js';
