/**
 * The launch grant enforced on the agent (defence in depth behind the master's ACLs, as Mesos's agent
 * authorizes again what its master authorized): what a task asks for in its description — a privileged
 * container, Docker parameters (shm-size, ulimits, IPC mode, added capabilities), a Docker network mode,
 * host paths, a root user — against what its grant
 * allows. A refusal is TASK_ERROR with REASON_TASK_UNAUTHORIZED and names the ACL setting. What only the
 * host can tell (symlinks, the image's user, the user a name maps to) is checked by the containerizers.
 * Pure.
 */
import { isAbsolute, normalize } from 'node:path';
import { dockerParameterRefusal } from '#shared/protocol/docker-parameters.js';
import { SAFE_GRANT, type LaunchGrant } from '#shared/protocol/internal.js';
import type { ContainerInfo, TaskInfo } from '#shared/protocol/mesos.js';
import { LaunchError } from './containerizer/containerizer.js';

/** The grant a launch runs under: the one the master sent, or the safe defaults when it sent none. */
export function launchGrant(grant: LaunchGrant | undefined): LaunchGrant {
  return grant ?? SAFE_GRANT;
}

/** Whether a user spec (`name`, `uid`, `user:group`; empty = the image's default, root) names root. */
export function isRootUser(spec: string): boolean {
  const user = spec.trim().split(':')[0] ?? '';
  return user === '' || user === 'root' || /^0+$/.test(user);
}

/** A path with `.` and `..` resolved and no trailing slash; undefined when it is not absolute. */
export function normalAbsolute(path: string): string | undefined {
  if (!isAbsolute(path)) return undefined;
  const normal = normalize(path);
  return normal.length > 1 && normal.endsWith('/') ? normal.slice(0, -1) : normal;
}

/** Whether `path` (absolute, normalised) is one of `prefixes` or inside one. */
export function underPrefix(path: string, prefixes: readonly string[]): boolean {
  return prefixes.some((raw) => {
    const prefix = normalAbsolute(raw);
    if (prefix === undefined) return false;
    return prefix === '/' || path === prefix || path.startsWith(`${prefix}/`);
  });
}

/** Whether a task goes to the Docker containerizer: a DOCKER container, or a MESOS one with an image. */
export function wantsDocker(container: ContainerInfo | undefined): boolean {
  return container?.type === 'DOCKER' || (container?.type === 'MESOS' && container.mesos?.image !== undefined);
}

function unauthorized(message: string, acl: string): LaunchError {
  return new LaunchError(`Not authorized: ${message} (acl: ${acl})`, 'TASK_ERROR', 'REASON_TASK_UNAUTHORIZED');
}

/** The host paths a task's volumes name (Volume.host_path and HOST_PATH sources). */
function hostPaths(container: ContainerInfo | undefined): string[] {
  return (container?.volumes ?? []).flatMap((volume) => {
    if (volume.source?.type === 'HOST_PATH') return volume.source.host_path ? [volume.source.host_path.path] : [];
    const typed = volume.source?.type !== undefined && volume.source.type !== 'UNKNOWN';
    return !typed && volume.host_path !== undefined ? [volume.host_path] : [];
  });
}

/** The first thing the task asks for that its grant does not allow; undefined when it asks for none. */
export function grantRefusal(task: TaskInfo, grant: LaunchGrant): LaunchError | undefined {
  const container = task.container;
  const docker = wantsDocker(container) ? container?.docker : undefined;
  if (container?.docker?.privileged && !grant.privileged) {
    return unauthorized('the task may not run a privileged container', 'privileged');
  }
  const parameters = container?.docker?.parameters ?? [];
  const parameter = dockerParameterRefusal(parameters, grant);
  if (parameter) return unauthorized(`the task may not ${parameter.what}`, parameter.setting);
  if (wantsDocker(container)) {
    const mode = docker?.network ?? 'HOST';
    if (!grant.network_modes.includes(mode)) {
      return unauthorized(`the task may not use the Docker network mode ${mode}`, 'network_modes');
    }
  }
  for (const path of hostPaths(container)) {
    const normal = normalAbsolute(path);
    if (normal === undefined) {
      return new LaunchError(`Host path '${path}' must be absolute`, 'TASK_ERROR');
    }
    if (!underPrefix(normal, grant.host_paths)) {
      return unauthorized(`the task may not mount the host path '${path}'`, 'host_paths');
    }
  }
  if (!grant.root) {
    const users = [task.command?.user, ...parameters.filter((p) => p.key === 'user').map((p) => p.value)];
    for (const user of users) {
      if (user !== undefined && user.trim() !== '' && isRootUser(user)) {
        return unauthorized(`the task may not run as root (user '${user}'); set a non-root user`, 'run_as_users');
      }
    }
  }
  return undefined;
}
