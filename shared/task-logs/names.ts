/**
 * Where a task's output lives in the log store (docs/operator.md "Task output"): one log group per
 * cluster, and one stream per sandbox file, named after the file's place in Mesos's sandbox layout —
 * `frameworks/<fid>/executors/<eid>/runs/<run>/stdout`, `.../runs/<run>/tasks/<tid>/stderr` for a task
 * of a task group — so that a files API path maps onto a stream name with no look-up. Pure.
 */

/** The log group of a cluster's task output. */
export function taskLogGroup(cluster: string): string {
  return `/mantle/${cluster}/tasks`;
}

/** The files the agent ships from each sandbox. */
export const SHIPPED_FILES = ['stdout', 'stderr'] as const;

/** One executor run's sandbox: its framework, executor and run (the container id Mesos names runs by). */
export interface SandboxRun {
  readonly frameworkId: string;
  readonly executorId: string;
  readonly run: string;
}

/** CloudWatch stream names may hold anything but ':' and '*', up to 512 characters. */
const MAX_STREAM_NAME = 512;

/** Escapes what a stream name may not hold; ids never hold '/' (Mesos's id rules). */
function component(value: string): string {
  return value.replace(/[%:*]/g, (character) => `%${character.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** The stream-name prefix of a run's files: `frameworks/<fid>/executors/<eid>/runs/<run>/`. */
export function runPrefix(run: SandboxRun): string {
  return `${executorPrefix(run)}${component(run.run)}/`;
}

/** The stream-name prefix of an executor's runs: `frameworks/<fid>/executors/<eid>/runs/`. */
export function executorPrefix(executor: Omit<SandboxRun, 'run'>): string {
  return `frameworks/${component(executor.frameworkId)}/executors/${component(executor.executorId)}/runs/`;
}

/**
 * The stream of a file of a run's sandbox: `file` is relative to the run (`stdout`, `tasks/<tid>/stdout`).
 * Undefined when the name would be too long for the store (ids near Mesos's 255-character limit).
 */
export function streamName(run: SandboxRun, file: string): string | undefined {
  const name = `${runPrefix(run)}${file.split('/').map(component).join('/')}`;
  return name.length <= MAX_STREAM_NAME ? name : undefined;
}

/** The run a stream name was made from, and the file's path in it; the inverse of `streamName`. */
export function parseStreamName(name: string): { run: SandboxRun; file: string } | undefined {
  const parts = name.split('/').map((part) => decodeURIComponent(part));
  const [frameworks, frameworkId, executors, executorId, runs, run, ...file] = parts;
  if (frameworks !== 'frameworks' || executors !== 'executors' || runs !== 'runs' || file.length === 0)
    return undefined;
  if (!frameworkId || !executorId || !run) return undefined;
  return { run: { frameworkId, executorId, run }, file: file.join('/') };
}
