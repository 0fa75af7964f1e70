/**
 * A task's output as a whole, from the task log store: the newest run of the task's executor (Mesos's
 * `runs/latest`), its stdout then stderr, the last `maxBytes` of each. For callers that want text
 * rather than the files API's pages (Mantle Jobs' `/jobs/{id}/logs`).
 */
import { executorPrefix, parseStreamName, streamName, type SandboxRun } from './names.js';
import type { TaskLogReader } from './store.js';

/** The run of an executor whose streams were created last, if it shipped anything. */
export async function newestRun(reader: TaskLogReader, executor: Omit<SandboxRun, 'run'>): Promise<string | undefined> {
  const streams = await reader.list(executorPrefix(executor), 500);
  let newest: { run: string; at: number } | undefined;
  for (const stream of streams) {
    const parsed = parseStreamName(stream.name);
    if (parsed && (!newest || stream.createdAt > newest.at)) newest = { run: parsed.run.run, at: stream.createdAt };
  }
  return newest?.run;
}

/** The end of one stream: its last `maxBytes`, '' when it does not exist. */
async function tailOf(reader: TaskLogReader, stream: string | undefined, maxBytes: number): Promise<string> {
  if (!stream) return '';
  const size = await reader.size(stream);
  if (!size) return '';
  const read = await reader.read(stream, Math.max(0, size - maxBytes), maxBytes);
  return read?.data.toString('utf8') ?? '';
}

/**
 * A command task's stdout then stderr (its executor id is its task id), the last `maxBytes` of each;
 * undefined when the store holds nothing of it.
 */
export async function taskOutputText(
  reader: TaskLogReader,
  task: { readonly frameworkId: string; readonly taskId: string },
  maxBytes = 1024 * 1024,
): Promise<string | undefined> {
  const executor = { frameworkId: task.frameworkId, executorId: task.taskId };
  const run = await newestRun(reader, executor);
  if (run === undefined) return undefined;
  const [stdout, stderr] = await Promise.all(
    (['stdout', 'stderr'] as const).map((file) => tailOf(reader, streamName({ ...executor, run }, file), maxBytes)),
  );
  return `${stdout}${stderr}`;
}
