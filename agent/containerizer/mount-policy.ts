/**
 * What a task's mounts are allowed to reach once symlinks are resolved (the lexical checks of the grant
 * are in authorization.ts): a host path stays inside a granted prefix, a sandbox path inside its
 * sandbox; and whatever the grant, no mount reaches what owns the host — the Docker and containerd
 * sockets, the agent's credential, its checkpoint (work_dir/meta) — nor, for host paths, the agent's
 * work dir with every tenant's sandboxes and volumes. A mount that contains one of them (`/`, `/run`)
 * reaches it too. The mounts come back with their sources resolved, so that what is mounted is what
 * was checked.
 */
import { lstat, realpath } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { LaunchGrant } from '#shared/protocol/internal.js';
import { normalAbsolute, underPrefix } from '../authorization.js';
import { LaunchError } from './containerizer.js';
import type { Mount } from './volumes.js';

/** A path no task may mount; `hostPathsOnly`: only host paths are refused (the agent mounts inside it). */
export interface ProtectedPath {
  readonly path: string;
  readonly what: string;
  readonly hostPathsOnly?: boolean;
}

/** The host's sockets that hand out root: refused whatever `--docker_socket` says. */
export const ENGINE_SOCKETS = ['/var/run/docker.sock', '/run/docker.sock', '/run/containerd/containerd.sock'];

export function protectedPaths(options: {
  dockerSocket: string;
  credential?: string;
  workDir: string;
  meta: string;
}): ProtectedPath[] {
  return [
    ...[options.dockerSocket, ...ENGINE_SOCKETS].map((path) => ({ path, what: 'the container engine socket' })),
    ...(options.credential ? [{ path: options.credential, what: "the agent's credential" }] : []),
    { path: options.meta, what: "the agent's checkpoint (work_dir/meta)" },
    { path: options.workDir, what: "the agent's work dir (every task's sandbox)", hostPathsOnly: true },
  ];
}

/**
 * The path with every symlink resolved. A path that does not exist yet (Docker creates a missing bind
 * source) is its deepest existing ancestor resolved, plus the rest.
 */
export async function resolvePath(path: string): Promise<string> {
  const absolute = normalAbsolute(path);
  if (absolute === undefined) throw new LaunchError(`Path '${path}' must be absolute`, 'TASK_ERROR');
  let existing = absolute;
  const rest: string[] = [];
  for (;;) {
    try {
      const resolved = await realpath(existing);
      return join(resolved, ...rest);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      // A dangling symlink is not a missing path: where it points is unknown until it exists.
      if ((code !== 'ENOENT' && code !== 'ENOTDIR') || (await isLink(existing)) || existing === '/') {
        throw new LaunchError(`Cannot resolve the mount source '${path}': ${(error as Error).message}`);
      }
      rest.unshift(basename(existing));
      existing = dirname(existing);
    }
  }
}

async function isLink(path: string): Promise<boolean> {
  return lstat(path).then(
    (stats) => stats.isSymbolicLink(),
    () => false,
  );
}

/** Whether one of the two paths is, or contains, the other. */
function overlaps(a: string, b: string): boolean {
  return a === b || a === '/' || b === '/' || a.startsWith(`${b}/`) || b.startsWith(`${a}/`);
}

function refused(message: string, acl?: string): LaunchError {
  return new LaunchError(
    `Not authorized: ${message}${acl ? ` (acl: ${acl})` : ''}`,
    'TASK_ERROR',
    'REASON_TASK_UNAUTHORIZED',
  );
}

/** Each protected path as given and resolved. */
async function resolvedProtected(paths: readonly ProtectedPath[]): Promise<ProtectedPath[]> {
  const both = await Promise.all(
    paths.map(async (entry) => {
      const resolved = await resolvePath(entry.path).catch(() => entry.path);
      return resolved === entry.path ? [entry] : [entry, { ...entry, path: resolved }];
    }),
  );
  return both.flat();
}

/** The mounts with their sources resolved; throws the refusal of the first that reaches too far. */
export async function checkMounts(
  mounts: readonly Mount[],
  grant: LaunchGrant,
  protectedList: readonly ProtectedPath[],
): Promise<Mount[]> {
  if (mounts.every((mount) => mount.kind === 'docker')) return [...mounts];
  const guarded = await resolvedProtected(protectedList);
  // A granted prefix that is a symlink grants where it points; one that is not absolute grants nothing.
  const prefixes = await Promise.all(
    grant.host_paths
      .filter((prefix) => normalAbsolute(prefix) !== undefined)
      .map((prefix) => resolvePath(prefix).catch(() => prefix)),
  );
  const checked: Mount[] = [];
  for (const mount of mounts) {
    if (mount.kind === 'docker') {
      checked.push(mount);
      continue;
    }
    const source = await resolvePath(mount.source);
    for (const entry of guarded) {
      if ((entry.hostPathsOnly && mount.kind !== 'host') || !overlaps(source, entry.path)) continue;
      throw refused(`the mount of '${mount.source}' (${source}) would reach ${entry.what}, which no task may mount`);
    }
    if (mount.kind === 'host' && !underPrefix(source, prefixes)) {
      throw refused(
        `the host path '${mount.source}' resolves to '${source}', outside the granted host paths`,
        'host_paths',
      );
    }
    if (mount.kind === 'sandbox' && mount.within !== undefined) {
      const base = await resolvePath(mount.within);
      if (source !== base && !source.startsWith(`${base}/`)) {
        throw refused(`the sandbox path '${mount.source}' resolves to '${source}', outside the sandbox`);
      }
    }
    checked.push({ ...mount, source });
  }
  return checked;
}
