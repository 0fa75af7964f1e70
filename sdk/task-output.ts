/**
 * A task's output through the master's files API (Mesos's `/files/read`, docs/operator.md "Task
 * output"): read a stretch of a task's stdout or stderr by byte offset, or follow it as it is written.
 * The master serves the output the agents ship to the cluster's log store, so this works the same
 * against a local cluster and against AWS, where the agents sit on a private network.
 */
import { CallError, masterUrl, requestHeaders, type ConnectionOptions } from './calls.js';

/** Which task's sandbox file: a command task's is its own executor's; a task group's task names its executor. */
export interface TaskOutputTarget {
  readonly frameworkId: string;
  readonly taskId: string;
  /** The executor of a task group's task; a command task's executor id is its task id (the default). */
  readonly executorId?: string;
  /** The run (container id) of the executor; default `latest`, its newest run. */
  readonly run?: string;
  /** The sandbox file: `stdout` (default) or `stderr`. */
  readonly file?: 'stdout' | 'stderr';
}

/** A stretch of output: `data` starts at byte `offset` of the file; the next starts at `next`. */
export interface TaskOutputChunk {
  readonly data: string;
  readonly offset: number;
  readonly next: number;
}

/** The header the master adds while the task's state is known: it ends a follow once the output is read. */
export const TASK_STATE_HEADER = 'Mantle-Task-State';

const TERMINAL = new Set([
  'TASK_FINISHED',
  'TASK_FAILED',
  'TASK_KILLED',
  'TASK_LOST',
  'TASK_ERROR',
  'TASK_DROPPED',
  'TASK_GONE',
  'TASK_GONE_BY_OPERATOR',
]);

/**
 * The files API path of a task's sandbox file, as Mesos's virtual sandbox paths read:
 * `/frameworks/<fid>/executors/<eid>/runs/<run>/stdout`, and `.../runs/<run>/tasks/<tid>/stdout` for
 * a task of a task group.
 */
export function taskSandboxPath(target: TaskOutputTarget): string {
  const executorId = target.executorId ?? target.taskId;
  const run = `/frameworks/${target.frameworkId}/executors/${executorId}/runs/${target.run ?? 'latest'}`;
  const task = executorId === target.taskId ? '' : `/tasks/${target.taskId}`;
  return `${run}${task}/${target.file ?? 'stdout'}`;
}

type Options = ConnectionOptions & TaskOutputTarget;

interface ReadResult extends TaskOutputChunk {
  /** The task's state when the master knows it. */
  readonly state: string | undefined;
  /** The file does not exist (yet): a 404, with `allowMissing`. */
  readonly missing?: true;
}

async function readOnce(
  options: Options,
  master: string,
  offset: number,
  { length, allowMissing = false }: { length?: number; allowMissing?: boolean } = {},
): Promise<ReadResult> {
  const query = new URLSearchParams({ path: taskSandboxPath(options), offset: String(offset) });
  if (length !== undefined) query.set('length', String(length));
  const { 'Content-Type': _json, ...headers } = requestHeaders(options);
  const response = await (options.fetch ?? fetch)(`${master}/files/read?${query.toString()}`, {
    method: 'GET',
    headers,
  });
  const body = await response.text();
  const state = response.headers.get(TASK_STATE_HEADER) ?? undefined;
  if (response.status === 404 && allowMissing) return { data: '', offset, next: offset, state, missing: true };
  if (response.status !== 200) throw new CallError(response.status, body.trim(), 'files/read');
  const parsed = JSON.parse(body) as { data: string; offset: number };
  const next = offset === -1 ? parsed.offset : parsed.offset + Buffer.byteLength(parsed.data, 'utf8');
  return { data: parsed.data, offset: parsed.offset, next, state };
}

/**
 * Reads up to `length` bytes (the master caps a read at 64 KiB) from byte `offset` (default 0); an
 * offset at or past the end answers no data. Throws a CallError: 404 for a task or file the master does
 * not know (or no output yet), 403 for another framework's task.
 */
export async function readTaskOutput(
  options: Options & { readonly offset?: number; readonly length?: number },
): Promise<TaskOutputChunk> {
  const { data, offset, next } = await readOnce(options, masterUrl('readTaskOutput', options), options.offset ?? 0, {
    ...(options.length !== undefined ? { length: options.length } : {}),
  });
  return { data, offset, next };
}

/** The size in bytes of the task's file so far (Mesos's `offset=-1`). */
export async function taskOutputSize(options: Options): Promise<number> {
  return (await readOnce(options, masterUrl('taskOutputSize', options), -1)).offset;
}

export interface FollowOptions {
  /** Where to start: a byte offset, `start` (default) or `end` (only what is written from now on). */
  readonly from?: number | 'start' | 'end';
  /** How often to ask when there is nothing new (default 250 ms: new output shows within a second). */
  readonly pollMs?: number;
  /** Ends the follow (the iterator returns). */
  readonly signal?: AbortSignal;
  /**
   * Keep following when the file does not exist yet (the task has not started or written): default true.
   * 403 and other errors always throw.
   */
  readonly waitForFile?: boolean;
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

/**
 * Follows a task's output as `tail -f` does: yields each new stretch as soon as a poll sees it, and
 * returns once the master says the task has ended and everything it wrote has been read (the agent
 * ships a task's last output before its terminal update), or when `signal` aborts.
 */
export async function* followTaskOutput(options: Options & FollowOptions): AsyncGenerator<TaskOutputChunk> {
  const master = masterUrl('followTaskOutput', options);
  const pollMs = options.pollMs ?? 250;
  const allowMissing = options.waitForFile !== false;
  let offset: number | undefined = typeof options.from === 'number' ? options.from : undefined;
  while (!options.signal?.aborted) {
    let read: ReadResult | undefined;
    if (offset === undefined) {
      const size = await readOnce(options, master, -1, { allowMissing });
      // Only a file that exists has an end to start from; until then `end` and `start` are the same.
      if (size.missing) read = size;
      else offset = options.from === 'end' ? size.offset : 0;
    }
    if (offset !== undefined) read = await readOnce(options, master, offset, { allowMissing });
    if (read && read.data.length > 0) {
      offset = read.next;
      yield { data: read.data, offset: read.offset, next: read.next };
      continue;
    }
    if (read?.state && TERMINAL.has(read.state)) return;
    await sleep(pollMs, options.signal);
  }
}
