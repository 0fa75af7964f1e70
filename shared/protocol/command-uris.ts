/**
 * What a `CommandInfo.URI` means (Mesos's fetcher, docs/fetcher.md and src/launcher/fetcher.cpp): where it
 * is fetched from — http(s), `s3://bucket/key`, or a local file (`file:///path` or `/path`) — the name it
 * gets in the sandbox (the last path segment, or `output_file`, which must stay inside the sandbox), and
 * whether that name is an archive the fetcher extracts. The master validates with it and the agent fetches
 * with it. Pure.
 */
import { posix } from 'node:path';
import { err, ok, type Result } from '../result.js';
import type { CommandInfo } from './mesos.js';

export type CommandUri = NonNullable<CommandInfo['uris']>[number];

export type UriSource =
  | { readonly scheme: 'http' | 'https'; readonly url: string }
  | { readonly scheme: 's3'; readonly bucket: string; readonly key: string }
  | { readonly scheme: 'file'; readonly path: string };

export type ArchiveKind = 'tar' | 'zip';

/** Extensions the fetcher extracts (Mesos's list, plus the short forms of compressed tarballs). */
const ARCHIVES: ReadonlyArray<readonly [string, ArchiveKind]> = [
  ['.tar', 'tar'],
  ['.tar.gz', 'tar'],
  ['.tgz', 'tar'],
  ['.tar.bz2', 'tar'],
  ['.tbz2', 'tar'],
  ['.tar.xz', 'tar'],
  ['.txz', 'tar'],
  ['.zip', 'zip'],
];

export function parseUriSource(value: string): Result<UriSource, string> {
  if (value.trim() === '') return err('the URI is empty');
  if (value.includes('\0')) return err('the URI contains a NUL byte');
  if (value.startsWith('/')) return ok({ scheme: 'file', path: posix.normalize(value) });
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return err(`'${value}' is neither a URL nor an absolute path`);
  }
  switch (url.protocol) {
    case 'http:':
    case 'https:':
      return ok({ scheme: url.protocol === 'http:' ? 'http' : 'https', url: url.href });
    case 's3:': {
      const key = decodeURIComponent(url.pathname.replace(/^\//, ''));
      if (url.hostname === '' || key === '') return err('an s3 URI needs a bucket and a key: s3://bucket/key');
      return ok({ scheme: 's3', bucket: url.hostname, key });
    }
    case 'file:':
      if (url.hostname !== '' && url.hostname !== 'localhost') return err('a file URI must name a local path');
      return ok({ scheme: 'file', path: posix.normalize(decodeURIComponent(url.pathname)) });
    default:
      return err(`the scheme '${url.protocol.replace(/:$/, '')}' is not supported (http, https, s3, file)`);
  }
}

/** The name the URI gets in the sandbox, relative to it: `output_file`, else the last segment of its path. */
export function sandboxName(uri: CommandUri, source: UriSource): Result<string, string> {
  if (uri.output_file !== undefined) {
    const name = uri.output_file;
    if (name === '' || name.includes('\0')) return err("'output_file' must name a file");
    if (posix.isAbsolute(name)) return err(`'output_file' must be relative to the sandbox, not '${name}'`);
    const normal = posix.normalize(name);
    if (normal === '..' || normal.startsWith('../') || normal.endsWith('/') || normal === '.') {
      return err(`'output_file' must name a file inside the sandbox, not '${name}'`);
    }
    return ok(normal);
  }
  const path =
    source.scheme === 'file' ? source.path : source.scheme === 's3' ? source.key : new URL(source.url).pathname;
  const base = posix.basename(decodeURIComponentSafe(path));
  if (base === '' || base === '.' || base === '..' || base === '/') {
    return err("the URI's path names no file: set 'output_file'");
  }
  return ok(base);
}

function decodeURIComponentSafe(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/** The archive a sandbox name is, by its extension; undefined for anything else. */
export function archiveKind(name: string): ArchiveKind | undefined {
  const lower = name.toLowerCase();
  return ARCHIVES.find(([extension]) => lower.endsWith(extension))?.[1];
}

/** Why a URI can never be fetched (the master's validation); undefined when it can be tried. */
export function commandUriError(uri: CommandUri): string | undefined {
  const source = parseUriSource(uri.value);
  if (!source.ok) return `URI '${uri.value}': ${source.error}`;
  const name = sandboxName(uri, source.value);
  return name.ok ? undefined : `URI '${uri.value}': ${name.error}`;
}

/** The URI as logs and messages show it: without credentials or a query (a presigned URL's signature). */
export function redactedUri(value: string): string {
  if (value.startsWith('/')) return value;
  try {
    const url = new URL(value);
    return `${url.protocol}//${url.host}${url.pathname}${url.search ? '?…' : ''}`;
  } catch {
    return value;
  }
}
