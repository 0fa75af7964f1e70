/**
 * Getting one URI's bytes into a file (Mesos src/launcher/fetcher.cpp `download`): http and https with
 * Node's fetch (redirects followed, each hop refused if it leads to a `--block_metadata` address; a status other than 2xx fails), local files copied once the path is
 * allowed (the task's granted host paths, resolved through symlinks, never the agent's own files, as for
 * host path volumes), and a download that receives nothing for `--fetcher_stall_timeout` fails (Mesos's
 * stall timeout). `s3://` objects come through the AWS SDK (s3.ts), for the buckets the grant names.
 */
import { createWriteStream } from 'node:fs';
import { copyFile, stat } from 'node:fs/promises';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import type { LaunchGrant } from '#shared/protocol/internal.js';
import type { UriSource } from '#shared/protocol/command-uris.js';
import { checkMounts, type ProtectedPath } from '../containerizer/mount-policy.js';
import type { MetadataTarget } from '../isolation/firewall-rules.js';
import { blockedReason } from './blocked-hosts.js';
import { FetchError } from './fetch-error.js';
import type { S3Objects } from './s3.js';

/** Redirects followed at most (fetch's own limit is 20). */
const MAX_REDIRECTS = 10;

export { FetchError };

/** The fetcher's settings a download needs (fetcher.ts), and the task's grant and abort signal. */
export interface DownloadOptions {
  readonly signal: AbortSignal;
  readonly stallTimeoutMs: number;
  readonly grant: LaunchGrant;
  readonly protectedPaths: readonly ProtectedPath[];
  /** `--block_metadata`: addresses no URI, nor any redirect, may lead to. */
  readonly blocked: readonly MetadataTarget[];
  /** Where `s3://` URIs are read from (the agent's own AWS credentials). */
  readonly s3: S3Objects;
}

export async function download(source: UriSource, destination: string, options: DownloadOptions): Promise<void> {
  switch (source.scheme) {
    case 'http':
    case 'https':
      return downloadHttp(source.url, destination, options);
    case 'file':
      return copyLocal(source.path, destination, options);
    case 's3':
      return options.s3.download(
        { ...source, signal: options.signal, answered: (request) => untilAnswered(options, request) },
        options.grant,
        (body) => writeWatched(body, destination, options),
      );
  }
}

async function downloadHttp(url: string, destination: string, options: DownloadOptions): Promise<void> {
  try {
    const response = await untilAnswered(options, (signal) => fetchFollowing(url, signal, options.blocked));
    if (!response.ok || response.body === null) {
      await response.body?.cancel().catch(() => undefined);
      throw new FetchError(`the server answered ${response.status} ${response.statusText}`.trim());
    }
    await writeWatched(Readable.fromWeb(response.body as WebReadableStream<Uint8Array>), destination, options);
  } catch (error) {
    if (error instanceof FetchError || options.signal.aborted) throw error;
    throw new FetchError(describeNetworkError(error));
  }
}

/**
 * Waits for a request's answer (headers), failing it as stalled when none comes within the stall
 * timeout; the signal it hands over stays live afterwards, for the body (which writeWatched watches).
 */
async function untilAnswered<T>(
  options: Pick<DownloadOptions, 'signal' | 'stallTimeoutMs'>,
  request: (signal: AbortSignal) => Promise<T>,
): Promise<T> {
  const stall = new AbortController();
  const timer = setTimeout(() => stall.abort(), options.stallTimeoutMs);
  try {
    return await request(AbortSignal.any([options.signal, stall.signal]));
  } catch (error) {
    if (stall.signal.aborted && !options.signal.aborted) throw stalled(options.stallTimeoutMs);
    throw error;
  } finally {
    clearTimeout(timer);
  }
}

const stalled = (ms: number) => new FetchError(`the download stalled: nothing received for ${ms / 1000}s`);

/** Writes a body to a file; one that sends nothing for the stall timeout fails (FetchError). */
async function writeWatched(
  body: Readable,
  destination: string,
  options: Pick<DownloadOptions, 'signal' | 'stallTimeoutMs'>,
): Promise<void> {
  const stall = new AbortController();
  const signal = AbortSignal.any([options.signal, stall.signal]);
  let timer = setTimeout(() => stall.abort(), options.stallTimeoutMs);
  const watch = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      clearTimeout(timer);
      timer = setTimeout(() => stall.abort(), options.stallTimeoutMs);
      done(null, chunk);
    },
  });
  try {
    await pipeline(body, watch, createWriteStream(destination, { mode: 0o644 }), { signal });
  } catch (error) {
    if (stall.signal.aborted && !options.signal.aborted) throw stalled(options.stallTimeoutMs);
    throw error;
  } finally {
    clearTimeout(timer);
  }
}

/** fetch() following redirects itself, so that every hop's address is checked against the blocked ones. */
async function fetchFollowing(url: string, signal: AbortSignal, blocked: readonly MetadataTarget[]): Promise<Response> {
  let next = new URL(url);
  for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
    const refused = await blockedReason(next, blocked);
    if (refused !== undefined) throw new FetchError(`refused: ${refused}`);
    const response = await fetch(next, { signal, redirect: 'manual' });
    const location = response.headers.get('location');
    if (response.status < 300 || response.status >= 400 || location === null) return response;
    await response.body?.cancel().catch(() => undefined);
    next = new URL(location, next);
    if (next.protocol !== 'http:' && next.protocol !== 'https:') {
      throw new FetchError(`a redirect to ${next.protocol} is not followed`);
    }
  }
  throw new FetchError(`more than ${MAX_REDIRECTS} redirects`);
}

/** fetch() says "fetch failed" and keeps the cause (ECONNREFUSED, ENOTFOUND) beneath. */
function describeNetworkError(error: unknown): string {
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  const detail = cause?.code ?? cause?.message;
  return detail ? `${(error as Error).message}: ${detail}` : (error as Error).message;
}

async function copyLocal(path: string, destination: string, options: DownloadOptions): Promise<void> {
  let source: string;
  try {
    const [checked] = await checkMounts(
      [{ kind: 'host', source: path, target: path, readOnly: true }],
      options.grant,
      options.protectedPaths,
    );
    source = checked?.source ?? path;
  } catch (error) {
    throw new FetchError((error as Error).message);
  }
  const stats = await stat(source).catch((error: NodeJS.ErrnoException) => {
    throw new FetchError(error.code === 'ENOENT' ? 'no such file' : error.message);
  });
  if (!stats.isFile()) throw new FetchError('not a regular file');
  await copyFile(source, destination);
}
