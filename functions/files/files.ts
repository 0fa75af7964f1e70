/**
 * Mesos's files API over the task log store (docs/operator.md "Task output"): `browse`, `read` and
 * `download` of a task's sandbox stdout and stderr, as the agents shipped them. The master answers from
 * the store, so nothing on the agents' network is opened. Who may read: operators (and anyone, with
 * authentication off) every task's; a framework's principal only its own frameworks' tasks (403 for
 * another's, 404 for a framework the registrar does not know).
 */
import { err, ok, type Result } from '#shared/result.js';
import { executorPrefix, parseStreamName, streamName, type SandboxRun } from '#shared/task-logs/names.js';
import { newestRun } from '#shared/task-logs/task-output.js';
import type { TaskLogReader } from '#shared/task-logs/store.js';
import type { PrincipalRecord } from '../registrar/index.js';
import type { Master } from '../master/master.js';
import { MAX_READ_BYTES, parseSandboxPath, wholeCharacters, type ReadQuery, type SandboxPath } from './paths.js';

export interface FilesFailure {
  readonly status: 400 | 403 | 404;
  readonly message: string;
}

/** Mesos's FileInfo, as its JSON model writes it. */
export interface FileInfo {
  readonly path: string;
  readonly nlink: number;
  readonly size: number;
  readonly mtime: number;
  readonly mode: string;
  readonly uid: string;
  readonly gid: string;
}

export interface ReadAnswer {
  readonly data: string;
  readonly offset: number;
  /** The task's state, when the registrar knows the task: a follower stops at a terminal one. */
  readonly state?: string;
}

const notFound = (message = 'Not found\n'): FilesFailure => ({ status: 404, message });

/** Where a sandbox path's files are in the store, once the caller may see them. */
interface Located {
  readonly reader: TaskLogReader;
  readonly run: SandboxRun;
  readonly file: string;
}

type Caller = PrincipalRecord | undefined;
type FilesMaster = Pick<Master, 'registrar' | 'taskLogs'>;

async function authorize(master: FilesMaster, frameworkId: string, caller: Caller): Promise<FilesFailure | undefined> {
  if (caller === undefined || caller.kind === 'operator') return undefined;
  const framework = await master.registrar.frameworks.get(frameworkId);
  if (!framework) return notFound(`Framework '${frameworkId}' is not known\n`);
  if (framework.principal !== caller.principal) {
    return {
      status: 403,
      message: `Principal '${caller.principal}' may not read framework '${frameworkId}'s sandboxes\n`,
    };
  }
  return undefined;
}

/**
 * `latest` runs, remembered a few seconds: a follower asks several times a second, and CloudWatch's
 * DescribeLogStreams allows few calls a second per account.
 */
const latestRuns = new Map<string, { run: string; until: number }>();
const LATEST_RUN_MS = 5_000;

/** `latest`: the executor run whose streams were created last. */
async function latestRun(reader: TaskLogReader, path: SandboxPath): Promise<string | undefined> {
  const prefix = executorPrefix(path);
  const cached = latestRuns.get(prefix);
  if (cached && cached.until > Date.now()) return cached.run;
  const run = await newestRun(reader, path);
  if (run) {
    if (latestRuns.size >= 1_000) latestRuns.clear();
    latestRuns.set(prefix, { run, until: Date.now() + LATEST_RUN_MS });
  }
  return run;
}

async function locate(
  master: FilesMaster,
  rawPath: string | undefined,
  caller: Caller,
): Promise<Result<Located, FilesFailure>> {
  if (!rawPath) return err({ status: 400, message: "Expecting 'path=value' in query.\n" });
  const parsed = parseSandboxPath(rawPath);
  if (!parsed.ok) return err(notFound(`${parsed.error}\n`));
  const path = parsed.value;
  const reader = master.taskLogs;
  if (!reader) return err(notFound('This master keeps no task output (no task log group is configured)\n'));
  const refused = await authorize(master, path.frameworkId, caller);
  if (refused) return err(refused);
  const run = path.run === 'latest' ? await latestRun(reader, path) : path.run;
  if (!run) return err(notFound());
  return ok({ reader, run: { frameworkId: path.frameworkId, executorId: path.executorId, run }, file: path.file });
}

async function taskState(master: FilesMaster, located: Located): Promise<string | undefined> {
  const inGroup = /^tasks\/([^/]+)\//.exec(located.file);
  const taskId = inGroup?.[1] ?? located.run.executorId;
  const task = await master.registrar.tasks.get(located.run.frameworkId, taskId).catch(() => undefined);
  return task?.state;
}

/** `/files/browse`: the files and folders of a run (or of a folder in it). */
export async function browse(
  master: FilesMaster,
  path: string | undefined,
  caller: Caller,
): Promise<Result<FileInfo[], FilesFailure>> {
  const located = await locate(master, path, caller);
  if (!located.ok) return located;
  const { reader, run, file } = located.value;
  const prefix = streamName(run, file === '' ? 'x' : `${file}/x`)?.slice(0, -1);
  if (!prefix) return err(notFound());
  const streams = await reader.list(prefix, 500);
  if (streams.length === 0) return err(notFound());
  const entries = new Map<string, FileInfo>();
  for (const stream of streams) {
    const rest = parseStreamName(stream.name)?.file.slice(file === '' ? 0 : file.length + 1);
    if (!rest) continue;
    const [name, ...below] = rest.split('/');
    if (!name || entries.has(name)) continue;
    const entryPath = `${(path ?? '').replace(/\/+$/, '')}/${name}`;
    const mtime = Math.floor((stream.lastEventAt ?? stream.createdAt) / 1000);
    entries.set(
      name,
      below.length > 0
        ? { path: entryPath, nlink: 2, size: 0, mtime, mode: 'drwxr-xr-x', uid: '', gid: '' }
        : {
            path: entryPath,
            nlink: 1,
            size: (await reader.size(stream.name)) ?? 0,
            mtime,
            mode: '-rw-r--r--',
            uid: '',
            gid: '',
          },
    );
  }
  return ok([...entries.values()].sort((a, b) => a.path.localeCompare(b.path)));
}

/** Why a path that names no stream cannot be read: a folder (400), or nothing there (404). */
async function notAFile(located: Located, action: string): Promise<FilesFailure> {
  const { reader, run, file } = located;
  const folder = streamName(run, file === '' ? 'x' : `${file}/x`)?.slice(0, -1);
  if (folder && (await reader.list(folder, 1)).length > 0) {
    return { status: 400, message: `Cannot ${action} a directory.\n` };
  }
  return notFound();
}

/** Reads the named file: the size (offset -1), or a stretch; undefined when no such stream. */
async function readStream(located: Located, query: ReadQuery): Promise<{ data: Buffer; size?: number } | undefined> {
  const { reader, run, file } = located;
  const stream = file === '' ? undefined : streamName(run, file);
  if (!stream) return undefined;
  if (query.offset === -1) {
    const size = await reader.size(stream);
    return size === undefined ? undefined : { data: Buffer.alloc(0), size };
  }
  const length = Math.min(query.length ?? MAX_READ_BYTES, MAX_READ_BYTES);
  // A zero-length read still has to find out whether the file exists.
  const chunk = await reader.read(stream, query.offset, Math.max(length, 1));
  return chunk && { data: length === 0 ? Buffer.alloc(0) : wholeCharacters(chunk.data) };
}

/** `/files/read`: Mesos's `{"data", "offset"}`; offset -1 answers the size. */
export async function read(
  master: FilesMaster,
  path: string | undefined,
  query: ReadQuery,
  caller: Caller,
): Promise<Result<ReadAnswer, FilesFailure>> {
  const located = await locate(master, path, caller);
  if (!located.ok) return located;
  const [chunk, state] = await Promise.all([readStream(located.value, query), taskState(master, located.value)]);
  if (!chunk) return err(await notAFile(located.value, 'read'));
  return ok({
    data: chunk.data.toString('utf8'),
    offset: chunk.size ?? query.offset,
    ...(state ? { state } : {}),
  });
}

/** `/files/download`: the whole file, streamed a page at a time. */
export async function download(
  master: FilesMaster,
  path: string | undefined,
  caller: Caller,
): Promise<Result<{ name: string; body: ReadableStream<Uint8Array> }, FilesFailure>> {
  const located = await locate(master, path, caller);
  if (!located.ok) return located;
  const { reader, run, file } = located.value;
  const name = file === '' ? undefined : streamName(run, file);
  if (!name || (await reader.size(name)) === undefined) return err(await notAFile(located.value, 'download'));
  const stream = ok(name);
  let offset = 0;
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      const chunk = await reader.read(stream.value, offset, 1024 * 1024);
      if (!chunk || chunk.data.length === 0) return controller.close();
      offset += chunk.data.length;
      controller.enqueue(new Uint8Array(chunk.data));
    },
  });
  return ok({ name: file.split('/').at(-1) ?? 'file', body });
}
