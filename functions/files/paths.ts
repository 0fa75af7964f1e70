/**
 * The files API's paths (docs/operator.md "Task output"): Mesos's virtual sandbox paths,
 * `/frameworks/<fid>/executors/<eid>/runs/<run>[/<file>]`, where `<run>` is a container id or `latest`
 * (the executor's newest run) and `<file>` is `stdout`, `stderr`, or `tasks/<tid>/stdout` inside a task
 * group's run. Whatever comes before `/frameworks/` is ignored, so a Mesos agent's work-dir path
 * (`/var/lib/mesos/slaves/<aid>/frameworks/...`, as `state.json`'s `directory` reads) works too. Pure.
 */
import { err, ok, type Result } from '#shared/result.js';

export interface SandboxPath {
  readonly frameworkId: string;
  readonly executorId: string;
  /** A container id, or `latest`. */
  readonly run: string;
  /** The file or folder inside the run, '' for the run itself. */
  readonly file: string;
}

export function parseSandboxPath(path: string): Result<SandboxPath, string> {
  const parts = path.split('/').filter((part) => part !== '' && part !== '.');
  if (parts.includes('..')) return err(`'${path}' is inaccessible`);
  for (let at = 0; at + 5 < parts.length; at++) {
    if (parts[at] !== 'frameworks' || parts[at + 2] !== 'executors' || parts[at + 4] !== 'runs') continue;
    const [frameworkId, executorId, run] = [parts[at + 1], parts[at + 3], parts[at + 5]];
    if (!frameworkId || !executorId || !run) break;
    return ok({ frameworkId, executorId, run, file: parts.slice(at + 6).join('/') });
  }
  return err(`'${path}' is not a task's sandbox: expected /frameworks/<id>/executors/<id>/runs/<id|latest>/...`);
}

/** The largest read Mesos answers (16 pages). */
export const MAX_READ_BYTES = 16 * 4096;

export interface ReadQuery {
  /** -1: only the size. */
  readonly offset: number;
  /** Undefined: to the end, up to MAX_READ_BYTES. */
  readonly length: number | undefined;
}

function integer(raw: string): number | undefined {
  return /^\s*-?\d+\s*$/.test(raw) ? Number(raw) : undefined;
}

/** `offset` and `length` as Mesos's /files/read takes them; messages as Mesos words them. */
export function parseReadQuery(offset: string | undefined, length: string | undefined): Result<ReadQuery, string> {
  let parsedOffset = -1;
  if (offset !== undefined) {
    const value = integer(offset);
    if (value === undefined) return err(`Failed to parse offset: Failed to convert '${offset}' to number.\n`);
    if (value < -1) return err(`Negative offset provided: ${value}.\n`);
    parsedOffset = value;
  }
  let parsedLength: number | undefined;
  if (length !== undefined) {
    const value = integer(length);
    if (value === undefined) return err(`Failed to parse length: Failed to convert '${length}' to number.\n`);
    if (value < -1) return err(`Negative length provided: ${value}.\n`);
    if (value > -1) parsedLength = value;
  }
  return ok({ offset: parsedOffset, length: parsedLength });
}

/** The longest prefix of `bytes` that is whole UTF-8 characters (JSON carries text, not bytes). */
export function wholeCharacters(bytes: Buffer): Buffer {
  let start = bytes.length - 1;
  let continuation = 0;
  while (start >= 0 && continuation < 3 && ((bytes[start] as number) & 0xc0) === 0x80) {
    start--;
    continuation++;
  }
  if (start < 0) return bytes;
  const lead = bytes[start] as number;
  const needed = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : lead >= 0xc0 ? 2 : 1;
  return bytes.length - start >= needed ? bytes : bytes.subarray(0, start);
}
