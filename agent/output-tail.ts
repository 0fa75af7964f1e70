/**
 * The tail of a task's output for its terminal status update. Mesos leaves `TaskStatus.data` to
 * executors and its command executor sends none; Mantle's agent puts the last few KiB of the sandbox's
 * stdout and stderr there, so that `mantle execute` (and any framework) can show why a task ended
 * without reaching the agent's sandbox, which in AWS sits on a private network.
 */
import { open } from 'node:fs/promises';
import { join } from 'node:path';

/** Per stream: small enough for every SQS message, DynamoDB item and event that carries the status. */
export const OUTPUT_TAIL_BYTES = 2048;

async function tail(file: string, limit: number): Promise<Buffer> {
  let handle;
  try {
    handle = await open(file, 'r');
  } catch {
    return Buffer.alloc(0);
  }
  try {
    const { size } = await handle.stat();
    const length = Math.min(size, limit);
    const buffer = Buffer.alloc(length);
    await handle.read(buffer, 0, length, size - length);
    return buffer;
  } finally {
    await handle.close();
  }
}

/** Base64 of stdout's tail then stderr's; undefined when the task wrote nothing. */
export async function outputTail(sandbox: string, limit = OUTPUT_TAIL_BYTES): Promise<string | undefined> {
  const [stdout, stderr] = await Promise.all([
    tail(join(sandbox, 'stdout'), limit),
    tail(join(sandbox, 'stderr'), limit),
  ]);
  const both = Buffer.concat([stdout, stderr]);
  return both.length > 0 ? both.toString('base64') : undefined;
}
