/**
 * Task authorization at ACCEPT (Mesos `run_tasks` and the container settings it does not cover): what a
 * task asks for — its user, a privileged container, host paths, Docker parameters, a network mode,
 * added capabilities, local files and S3 buckets its URIs fetch — against the ACL of its framework's principal (shared/acl.ts). A refusal is
 * TASK_ERROR with REASON_TASK_UNAUTHORIZED and a message that names the ACL setting. Pure.
 */
import {
  allowsHostPath,
  allowsS3Bucket,
  allowsUser,
  capabilityName,
  effectiveAcl,
  normalAbsolute,
  type Acl,
} from '#shared/acl.js';
import { parseUriSource } from '#shared/protocol/command-uris.js';
import { DOCKER_DEFAULT_CAPABILITIES, dockerParameterRefusal } from '#shared/protocol/docker-parameters.js';
import type { CommandInfo, ContainerInfo, ExecutorInfo, FrameworkInfo, TaskInfo } from '#shared/protocol/mesos.js';
import type { PrincipalRecord } from '../registrar/index.js';

/** Who launches: the ACL that applies and, with authentication on, the authenticated principal. */
export interface Authority {
  readonly acl: Acl;
  /** Undefined with authentication off (the cluster's ACL applies to every framework). */
  readonly principal?: string;
  /** An operator principal: it may act on reservations and volumes of other principals. */
  readonly operator: boolean;
}

/** The authority of a caller: its principal's ACL over the cluster's; the cluster's alone without a principal. */
export function authorityOf(cluster: Acl, principal: PrincipalRecord | undefined): Authority {
  if (!principal) return { acl: cluster, operator: false };
  return {
    acl: effectiveAcl(cluster, principal),
    principal: principal.principal,
    operator: principal.kind === 'operator',
  };
}

function dockerParameters(container: ContainerInfo | undefined): Array<{ key: string; value: string }> {
  return container?.docker?.parameters ?? [];
}

/** The user a task runs as: command.user, else the Docker `user` parameter, else FrameworkInfo.user. */
export function taskUser(task: TaskInfo, framework: FrameworkInfo): string {
  const parameter = dockerParameters(task.container).find((p) => p.key === 'user')?.value;
  const given = [task.command?.user, parameter].find((user) => user !== undefined && user.trim() !== '');
  return given ?? framework.user;
}

/** Whether the task runs in Docker: a DOCKER container, or a MESOS one with an image. */
function usesDocker(container: ContainerInfo | undefined): boolean {
  return container?.type === 'DOCKER' || (container?.type === 'MESOS' && container.mesos?.image !== undefined);
}

/** The host paths a container's volumes name: Volume.host_path, HOST_PATH sources, Docker volumes named by a path. */
export function hostPaths(container: ContainerInfo | undefined): string[] {
  return (container?.volumes ?? []).flatMap((volume) => {
    const source = volume.source;
    if (source?.type === 'HOST_PATH') return source.host_path ? [source.host_path.path] : [];
    // Docker mounts a "volume" whose name is a path as a bind mount of that host path.
    if (source?.type === 'DOCKER_VOLUME')
      return source.docker_volume?.name.includes('/') ? [source.docker_volume.name] : [];
    const typed = source?.type !== undefined && source.type !== 'UNKNOWN';
    return !typed && volume.host_path !== undefined ? [volume.host_path] : [];
  });
}

/** The capabilities a container asks for: Mesos's LinuxInfo fields and Docker's `cap-add`. */
export function requestedCapabilities(container: ContainerInfo | undefined): string[] {
  const linux = (container?.linux_info ?? {}) as Record<string, { capabilities?: unknown } | undefined>;
  const listed = ['capability_info', 'effective_capabilities', 'bounding_capabilities'].flatMap((field) => {
    const list = linux[field]?.capabilities;
    return Array.isArray(list) ? list.map(String) : [];
  });
  const added = dockerParameters(container)
    .filter((p) => p.key === 'cap-add' || p.key === 'cap_add')
    .map((p) => p.value);
  return [...listed, ...added].map(capabilityName);
}

export function subject(principal: string | undefined): string {
  return principal === undefined ? 'frameworks of this cluster may not' : `principal '${principal}' may not`;
}

export function refusal(who: Authority, what: string, setting: keyof Acl): string {
  return `Not authorized: ${subject(who.principal)} ${what} (acl: ${setting})`;
}

/** Why the container may not run under the ACL, or undefined. */
function containerRefusal(container: ContainerInfo | undefined, who: Authority): string | undefined {
  const { acl } = who;
  if (container?.docker?.privileged && !acl.privileged) return refusal(who, 'run privileged containers', 'privileged');
  const parameter = dockerParameterRefusal(dockerParameters(container), acl);
  if (parameter) return refusal(who, parameter.what, parameter.setting);
  if (usesDocker(container)) {
    const mode = container?.docker?.network ?? 'HOST';
    if (!acl.network_modes.includes(mode)) return refusal(who, `use the Docker network mode ${mode}`, 'network_modes');
  }
  for (const path of hostPaths(container)) {
    const relative = normalAbsolute(path) === undefined ? ', which is not absolute' : '';
    if (relative || !allowsHostPath(acl, path)) {
      return refusal(who, `mount the host path '${path}'${relative}`, 'host_paths');
    }
  }
  for (const capability of requestedCapabilities(container)) {
    if (DOCKER_DEFAULT_CAPABILITIES.has(capability) || acl.capabilities.includes('*')) continue;
    if (!acl.capabilities.includes(capability)) {
      return refusal(who, `add the capability ${capability}`, 'capabilities');
    }
  }
  return undefined;
}

/**
 * Why the fetcher may not fetch a URI for the task: it reads local files and S3 objects as the agent, so
 * a local file must be under the ACL's host paths and an S3 bucket among its `s3_buckets` (the agent
 * checks its grant again).
 */
function uriRefusal(command: CommandInfo | undefined, who: Authority): string | undefined {
  for (const uri of command?.uris ?? []) {
    const source = parseUriSource(uri.value);
    if (!source.ok) continue;
    const { value } = source;
    if (value.scheme === 'file' && !allowsHostPath(who.acl, value.path)) {
      return refusal(who, `fetch the local file '${value.path}'`, 'host_paths');
    }
    if (value.scheme === 's3' && !allowsS3Bucket(who.acl, value.bucket)) {
      return refusal(who, `fetch from the S3 bucket '${value.bucket}'`, 's3_buckets');
    }
  }
  return undefined;
}

/** Why a task may not run under the ACL (the message of its TASK_ERROR), or undefined when it may. */
export function taskRefusal(task: TaskInfo, framework: FrameworkInfo, who: Authority): string | undefined {
  // Every Docker `user` parameter too: Docker takes the last one, whichever the task meant.
  const parameters = dockerParameters(task.container).filter((p) => p.key === 'user');
  for (const user of [taskUser(task, framework), ...parameters.map((p) => p.value)]) {
    if (!allowsUser(who.acl, user)) return refusal(who, `run tasks as user '${user}'`, 'run_as_users');
  }
  return uriRefusal(task.command, who) ?? containerRefusal(task.container, who);
}

/** Why the executor of a task group may not run under the ACL, or undefined. */
export function executorRefusal(executor: ExecutorInfo, who: Authority): string | undefined {
  const user = executor.command?.user;
  if (user !== undefined && user.trim() !== '' && !allowsUser(who.acl, user)) {
    return refusal(who, `run tasks as user '${user}'`, 'run_as_users');
  }
  return uriRefusal(executor.command, who) ?? containerRefusal(executor.container, who);
}
