/** Reads what a task left in its sandbox (`<work_dir>/frameworks/<fw>/executors/<executor>/runs/<container>`). */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathComponent } from '../../agent/checkpoint.js';
import { FRAMEWORK_ID } from './agent.js';

export async function sandboxes(workDir: string, executorId: string, frameworkId = FRAMEWORK_ID): Promise<string[]> {
  const runs = join(workDir, 'frameworks', pathComponent(frameworkId), 'executors', pathComponent(executorId), 'runs');
  return (await readdir(runs).catch(() => [] as string[])).map((run) => join(runs, run));
}

export async function sandboxFile(workDir: string, executorId: string, file: 'stdout' | 'stderr'): Promise<string> {
  const [sandbox] = await sandboxes(workDir, executorId);
  if (!sandbox) throw new Error(`No sandbox for ${executorId}`);
  return readFile(join(sandbox, file), 'utf8');
}
