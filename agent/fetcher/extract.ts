/**
 * Extracting a fetched archive into the directory it lies in (Mesos's fetcher `extract`; the archive is
 * kept beside what it held), with the system's `tar` (gzip, bzip2 and xz found by tar itself) and
 * `unzip`. Members keep their permission bits but not their owner (the agent may run as root); both
 * tools refuse absolute and `..` member names. Setuid and setgid bits are cleared afterwards: what a
 * task downloads must not raise anyone's privileges.
 */
import { execFile } from 'node:child_process';
import { chmod, lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { ArchiveKind } from '#shared/protocol/command-uris.js';
import { FetchError } from './download.js';

const run = promisify(execFile);

export async function extract(
  archive: string,
  directory: string,
  kind: ArchiveKind,
  signal: AbortSignal,
): Promise<void> {
  const [file, args] =
    kind === 'zip'
      ? ['unzip', ['-q', '-o', archive, '-d', directory]]
      : ['tar', ['-x', '-f', archive, '-C', directory, '--no-same-owner']];
  try {
    await run(file, args, { signal, maxBuffer: 1 << 20 });
  } catch (error) {
    if (signal.aborted) throw error;
    const stderr = String((error as { stderr?: unknown }).stderr ?? '').trim();
    const detail = stderr.split('\n').slice(-3).join('; ') || (error as Error).message;
    throw new FetchError(`extracting it failed (${file}): ${detail}`);
  }
  // The whole directory: a member may have replaced what an earlier URI put there.
  for (const name of await readdir(directory)) await clearSetId(join(directory, name));
}

async function clearSetId(path: string): Promise<void> {
  const stats = await lstat(path);
  if (stats.isSymbolicLink()) return;
  if ((stats.mode & 0o6000) !== 0) await chmod(path, stats.mode & 0o1777);
  if (stats.isDirectory()) {
    for (const name of await readdir(path)) await clearSetId(join(path, name));
  }
}
