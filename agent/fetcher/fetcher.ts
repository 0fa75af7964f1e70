/**
 * The fetcher (Mesos `Fetcher`, src/slave/containerizer/fetcher.cpp, and docs/fetcher.md): before a
 * task starts, each of its `CommandInfo.uris` is fetched into its sandbox, in order — through the cache
 * when `cache` is set — under its last path segment or `output_file`; then made executable (`executable`,
 * 0755, never extracted) or, with `extract`, unpacked when its name is an archive. The first URI that
 * fails ends the fetch with a `FetchError` naming it and why; the task never starts.
 * Counted as `containerizer/fetcher/task_fetches_succeeded` / `_failed` (Mesos's names), with the cache's
 * `containerizer/fetcher/cache_size_total_bytes` / `_used_bytes`.
 */
import { chmod, lchown, lstat, mkdir, readdir, realpath, unlink, copyFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Logger } from '#shared/log.js';
import type { Metrics } from '#shared/metrics.js';
import type { LaunchGrant } from '#shared/protocol/internal.js';
import {
  archiveKind,
  parseUriSource,
  redactedUri,
  sandboxName,
  type CommandUri,
} from '#shared/protocol/command-uris.js';
import { FetcherCache } from './cache.js';
import { download, FetchError, type DownloadOptions } from './download.js';
import { extract } from './extract.js';
import { checkBucket, S3Objects, type S3Settings } from './s3.js';

export { FetchError };

/** Mesos --fetcher_stall_timeout (`stallTimeoutMs`), what no task may copy, `--block_metadata` (download.ts). */
export interface FetcherOptions extends Pick<DownloadOptions, 'stallTimeoutMs' | 'protectedPaths' | 'blocked'> {
  readonly cacheDirectory: string;
  /** Mesos --fetcher_cache_size, in bytes. */
  readonly cacheSizeBytes: number;
  readonly logger: Logger;
  readonly metrics: Metrics;
  /** Where `s3://` URIs are read (the agent's region, or an S3-compatible endpoint). */
  readonly s3: S3Settings;
}

export interface FetchRequest {
  readonly taskId: string;
  readonly uris: readonly CommandUri[];
  readonly sandbox: string;
  readonly grant: LaunchGrant;
  /** Aborts the fetch (the task was killed meanwhile). */
  readonly signal: AbortSignal;
}

export class Fetcher {
  readonly cache: FetcherCache;
  private readonly s3: S3Objects;

  constructor(private readonly options: FetcherOptions) {
    this.cache = new FetcherCache(options.cacheDirectory, options.cacheSizeBytes);
    this.s3 = new S3Objects(options.s3);
    options.metrics.gauge('containerizer/fetcher/cache_size_total_bytes', () => this.cache.capacity);
    options.metrics.gauge('containerizer/fetcher/cache_size_used_bytes', () => this.cache.usedBytes);
  }

  /** Empties the cache (at agent start). */
  start(): Promise<void> {
    return this.cache.reset();
  }

  /** Fetches every URI of the task into its sandbox; throws a FetchError naming the first that failed. */
  async fetch(request: FetchRequest): Promise<void> {
    if (request.uris.length === 0) return;
    const { logger, metrics } = this.options;
    const started = performance.now();
    for (const uri of request.uris) {
      try {
        const hit = await this.fetchOne(uri, request);
        await checkOutputFiles(request.sandbox);
        logger.info('Fetched a URI', { taskId: request.taskId, uri: redactedUri(uri.value), cache: hit });
      } catch (error) {
        if (request.signal.aborted) throw error;
        metrics.increment('containerizer/fetcher/task_fetches_failed');
        const why = error instanceof FetchError ? error.message : (error as Error).message;
        const message = `Failed to fetch '${redactedUri(uri.value)}': ${why}`;
        logger.warn('Fetching a URI failed', { taskId: request.taskId, uri: redactedUri(uri.value), error: why });
        throw new FetchError(message);
      }
    }
    metrics.increment('containerizer/fetcher/task_fetches_succeeded');
    logger.info('Fetched the task URIs', {
      taskId: request.taskId,
      uris: request.uris.length,
      ms: Math.round(performance.now() - started),
    });
  }

  /** One URI into the sandbox; whether the cache had it (undefined when not cached). */
  private async fetchOne(uri: CommandUri, request: FetchRequest): Promise<boolean | undefined> {
    const source = parseUriSource(uri.value);
    if (!source.ok) throw new FetchError(source.error);
    const name = sandboxName(uri, source.value);
    if (!name.ok) throw new FetchError(name.error);
    const destination = await sandboxDestination(request.sandbox, name.value);
    const { stallTimeoutMs, protectedPaths, blocked } = this.options;
    const { s3 } = this;
    const options = { signal: request.signal, grant: request.grant, stallTimeoutMs, protectedPaths, blocked, s3 };
    // Before the cache: a copy cached for a task that may read the bucket is not for one that may not.
    if (source.value.scheme === 's3') checkBucket(request.grant, source.value.bucket);
    let hit: boolean | undefined;
    // Local files are copied each time: a cached copy would skip the grant check of the next task.
    if (uri.cache && source.value.scheme !== 'file') {
      hit = await this.cache.use(
        uri.value,
        (path) => download(source.value, path, options),
        async (path, cached) => {
          await copyFile(path, destination);
          return cached;
        },
      );
    } else {
      await download(source.value, destination, options);
    }
    if (uri.executable) {
      await chmod(destination, 0o755);
    } else {
      await chmod(destination, 0o644);
      const kind = archiveKind(name.value);
      if (uri.extract !== false && kind !== undefined) {
        await extract(destination, dirname(destination), kind, request.signal);
      }
    }
    return hit;
  }
}

/**
 * Where a name goes in the sandbox: its folder made and still inside the sandbox once symlinks are
 * resolved (an archive fetched earlier may have left a link out), and no link in its place.
 */
async function sandboxDestination(sandbox: string, name: string): Promise<string> {
  const destination = join(sandbox, name);
  await mkdir(dirname(destination), { recursive: true });
  const [root, folder] = await Promise.all([realpath(sandbox), realpath(dirname(destination))]);
  if (folder !== root && !folder.startsWith(`${root}/`)) {
    throw new FetchError(`'${name}' would be written outside the sandbox`);
  }
  const existing = await lstat(destination).catch(() => undefined);
  if (existing?.isSymbolicLink()) await unlink(destination);
  else if (existing?.isDirectory()) throw new FetchError(`'${name}' is a directory in the sandbox`);
  return join(folder, name.split('/').pop() as string);
}

/**
 * The sandbox's `stdout` and `stderr` are the agent's to write (as root): what a URI brings may not
 * take their place with a link (which would send the task's output, or the file it names, elsewhere).
 */
async function checkOutputFiles(sandbox: string): Promise<void> {
  for (const name of ['stdout', 'stderr']) {
    const stats = await lstat(join(sandbox, name)).catch(() => undefined);
    if (stats && (!stats.isFile() || stats.nlink > 1)) {
      throw new FetchError(`it put a link or folder at the sandbox's '${name}', which is the task's output`);
    }
  }
}

/**
 * Gives the sandbox and what was fetched into it to the task's user (Mesos runs the fetcher as that
 * user); links are changed themselves, never what they point to.
 */
export async function ownTree(path: string, uid: number, gid: number): Promise<void> {
  await lchown(path, uid, gid);
  const stats = await lstat(path);
  if (!stats.isDirectory()) return;
  for (const entry of await readdir(path)) await ownTree(join(path, entry), uid, gid);
}
