/**
 * A task's volumes (ContainerInfo.volumes and persistent volumes among its disk resources) as mounts.
 * A relative container path is inside the sandbox, as in Mesos. Docker bind-mounts them all; the process
 * containerizer has no mount namespace, so it links sandbox-relative ones into the sandbox (as Mesos's
 * `filesystem/posix` isolator does for persistent volumes) and refuses absolute ones. Pure.
 */
import { isAbsolute, join, normalize } from 'node:path';
import type { DiskInfo, Resource, Volume } from '#shared/protocol/mesos.js';
import { reservationRole } from '#shared/resources/resource.js';
import { LaunchError } from './containerizer.js';

export interface Mount {
  /** A host path, or a Docker named volume when `volumeName` is set. */
  readonly source: string;
  /** Absolute, or relative to the sandbox. */
  readonly target: string;
  readonly readOnly: boolean;
  readonly volumeName?: string;
  /**
   * Where the source comes from: a host path the task named, a path in a sandbox (`within`), a
   * persistent volume of the agent's work dir, or a Docker named volume.
   */
  readonly kind: 'host' | 'sandbox' | 'volume' | 'docker';
  /** The sandbox a `sandbox` mount must stay in, once symlinks are resolved. */
  readonly within?: string;
}

/** Docker's own rule for volume names; anything else (an absolute path above all) Docker reads as a host path. */
const DOCKER_VOLUME_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

type DiskSource = NonNullable<DiskInfo['source']>;

export interface MountContext {
  readonly sandbox: string;
  readonly parentSandbox?: string;
  /** Where a persistent volume's data is: under the work dir, or on the PATH or MOUNT disk it was made on. */
  readonly volumeDir: (role: string, persistenceId: string, source?: DiskSource) => string;
}

function relativeInside(path: string, what: string): string {
  const normal = normalize(path);
  if (isAbsolute(normal) || normal === '..' || normal.startsWith('../')) {
    throw new LaunchError(`${what} '${path}' must stay inside the sandbox`, 'TASK_ERROR');
  }
  return normal;
}

function fromVolume(volume: Volume, context: MountContext): Mount {
  const readOnly = volume.mode === 'RO';
  const target = volume.container_path;
  const source = volume.source;
  if (volume.image) throw new LaunchError('Image volumes are not supported');
  if (!source || source.type === undefined || source.type === 'UNKNOWN') {
    if (volume.host_path === undefined) throw new LaunchError(`Volume '${target}' has no source`, 'TASK_ERROR');
    return { source: volume.host_path, target, readOnly, kind: 'host' };
  }
  switch (source.type) {
    case 'HOST_PATH':
      if (!source.host_path) throw new LaunchError(`HOST_PATH volume '${target}' has no path`, 'TASK_ERROR');
      return { source: source.host_path.path, target, readOnly, kind: 'host' };
    case 'SANDBOX_PATH': {
      const sandboxPath = source.sandbox_path;
      if (!sandboxPath) throw new LaunchError(`SANDBOX_PATH volume '${target}' has no path`, 'TASK_ERROR');
      const base = sandboxPath.type === 'PARENT' ? context.parentSandbox : context.sandbox;
      if (!base) throw new LaunchError(`SANDBOX_PATH volume '${target}' names a parent sandbox, but there is none`);
      const path = join(base, relativeInside(sandboxPath.path, 'Sandbox path'));
      return { source: path, target, readOnly, kind: 'sandbox', within: base };
    }
    case 'DOCKER_VOLUME': {
      const docker = source.docker_volume;
      if (!docker) throw new LaunchError(`DOCKER_VOLUME '${target}' has no volume`, 'TASK_ERROR');
      if (docker.driver !== undefined && docker.driver !== 'local') {
        throw new LaunchError(`Docker volume driver '${docker.driver}' is not supported (only 'local')`);
      }
      if (!DOCKER_VOLUME_NAME.test(docker.name)) {
        throw new LaunchError(
          `Docker volume name '${docker.name}' is not a volume name ([A-Za-z0-9][A-Za-z0-9_.-]*)`,
          'TASK_ERROR',
        );
      }
      return { source: docker.name, target, readOnly, volumeName: docker.name, kind: 'docker' };
    }
    default:
      throw new LaunchError(`${source.type} volumes are not supported by this agent`);
  }
}

/** The mounts of a container: its ContainerInfo volumes, then the persistent volumes it uses. */
export function taskMounts(volumes: readonly Volume[], resources: readonly Resource[], context: MountContext): Mount[] {
  const mounts = volumes.map((volume) => fromVolume(volume, context));
  for (const resource of resources) {
    const persistence = resource.disk?.persistence;
    const volume = resource.disk?.volume;
    if (!persistence || !volume) continue;
    mounts.push({
      source: context.volumeDir(reservationRole(resource), persistence.id, resource.disk?.source),
      target: relativeInside(volume.container_path, 'Persistent volume path'),
      readOnly: volume.mode === 'RO',
      kind: 'volume',
    });
  }
  return mounts;
}

/** Docker binds: relative targets go under the sandbox's path in the container. */
export function dockerBinds(mounts: readonly Mount[], sandboxInContainer: string): string[] {
  return mounts.map((mount) => {
    const target = isAbsolute(mount.target) ? mount.target : join(sandboxInContainer, mount.target);
    return `${mount.source}:${target}:${mount.readOnly ? 'ro' : 'rw'}`;
  });
}

/** Process tasks: symlinks in the sandbox; an absolute target needs a mount namespace this agent lacks. */
export function sandboxLinks(mounts: readonly Mount[]): Array<{ link: string; target: string }> {
  return mounts.map((mount) => {
    if (mount.volumeName !== undefined) {
      throw new LaunchError('Docker volumes need the Docker containerizer');
    }
    if (isAbsolute(mount.target)) {
      throw new LaunchError(
        `Volume at absolute path '${mount.target}' needs a mount namespace; the process containerizer supports sandbox-relative paths only`,
      );
    }
    return { link: relativeInside(mount.target, 'Volume path'), target: mount.source };
  });
}
