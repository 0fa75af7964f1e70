/**
 * The Docker containerizer, through the Engine API (dockerode): the image is pulled when absent (or when
 * `force_pull_image`; with a private registry's credentials, registry-auth.ts), the mounts checked (mount-policy.ts) and the container's user (docker-user.ts:
 * root only with a root grant; the sandbox handed to a non-root user), the container created from
 * `dockerCreateOptions` (network NONE without libnetwork, docker-none-network.ts) and started; its logs are
 * streamed into the sandbox's stdout and stderr; its end is read from `wait` and `inspect`
 * (`State.OOMKilled`, never the exit code, tells an OOM kill). Containers are named `mantle-<container
 * id>` and labelled with the agent's work dir, so a restarted agent finds its own and kills strangers.
 */
import { createWriteStream } from 'node:fs';
import { readdir } from 'node:fs/promises';
import type Docker from 'dockerode';
import type { Logger } from '#shared/log.js';
import type { CommandInfo, Range, Resource } from '#shared/protocol/mesos.js';
import { named } from '#shared/resources/resources.js';
import { isRootUser } from '../authorization.js';
import { ownTree } from '../fetcher/fetcher.js';
import { containerLimits, type LimitOptions } from '../isolation/limits.js';
import { isStopped, type Lifecycle } from '../lifecycle.js';
import { processCommand, taskEnvironment } from './command.js';
import { LaunchError, type Container, type Containerizer, type LaunchSpec, type Termination } from './containerizer.js';
import { resizeDockerContainer } from './docker-resize.js';
import type { NoneNetwork } from './docker-none-network.js';
import {
  containerName,
  dockerCreateOptions,
  dockerNetwork,
  LABELS,
  taskImage,
  type NoneNetworkSpec,
} from './docker-spec.js';
import {
  coversUserDatabase,
  lookupContainerUser,
  needsLookup,
  numericOwner,
  parseUserSpec,
  requestedUser,
  rootRefusal,
  type UserSpec,
} from './docker-user.js';
import { checkMounts, type ProtectedPath } from './mount-policy.js';
import type { RegistryCredentials } from './registry-auth.js';
import { taskMounts, type Mount, type MountContext } from './volumes.js';

export interface DockerContainerizerOptions {
  readonly docker: Docker;
  readonly workDir: string;
  readonly sandboxDirectory: string;
  readonly limits: LimitOptions;
  readonly volumeDir: MountContext['volumeDir'];
  /** What no task may mount, whatever its grant. */
  readonly protectedPaths: readonly ProtectedPath[];
  /** HostConfig.CgroupParent of every task container (cgroup2.ts). */
  readonly cgroupParent?: string;
  /** Private registries' credentials (--docker_config, ECR with the instance role). */
  readonly registries: RegistryCredentials;
  /** Network NONE without libnetwork (docker-none-network.ts). */
  readonly noneNetwork: NoneNetwork;
  readonly life: Lifecycle;
  readonly logger: Logger;
}

function statusCode(error: unknown): number | undefined {
  return (error as { statusCode?: number }).statusCode;
}

function describe(error: unknown): string {
  const json = (error as { json?: { message?: string } }).json;
  return json?.message ?? (error as Error).message;
}

export function taskPorts(spec: LaunchSpec): Range[] {
  return named(spec.task.resources ?? [], 'ports').flatMap((resource) => resource.ranges?.range ?? []);
}

interface ContainerUser {
  readonly spec: UserSpec;
  /** The refusal naming where the user came from; `uidZero`: a name that is uid 0 in the image. */
  readonly refusal: (uidZero: boolean) => LaunchError;
}

/**
 * The user the container will run as, refused at once when it is root and the grant does not allow
 * root; a name is looked up once the container exists (`ownSandbox`), unless a volume could swap the
 * file it is looked up in before runc reads it.
 */
function containerUser(
  spec: LaunchSpec,
  image: string,
  imageInfo: Docker.ImageInspectInfo,
  binds: readonly string[],
): ContainerUser {
  const requested = requestedUser(spec.task);
  const text = requested ?? imageInfo.Config.User ?? '';
  const from = requested !== undefined ? 'task' : 'image';
  const user: ContainerUser = {
    spec: parseUserSpec(text),
    refusal: (uidZero) => rootRefusal(image, text, from, uidZero),
  };
  if (spec.grant.root) return user;
  if (isRootUser(text)) throw user.refusal(false);
  if (needsLookup(user.spec) && coversUserDatabase(binds.map((bind) => bind.split(':')[1] ?? ''))) {
    throw new LaunchError(
      `A volume replaces the container's /etc/passwd or /etc/group, so its user '${text}' cannot be checked (acl: run_as_users): use a numeric uid`,
    );
  }
  return user;
}

export class DockerContainerizer implements Containerizer {
  readonly kind = 'docker' as const;

  constructor(private readonly options: DockerContainerizerOptions) {}

  private async inspectImage(image: string): Promise<Docker.ImageInspectInfo | undefined> {
    try {
      return await this.options.docker.getImage(image).inspect();
    } catch (error) {
      if (statusCode(error) !== 404) throw new LaunchError(`Failed to inspect image '${image}': ${describe(error)}`);
      return undefined;
    }
  }

  /** The image, pulled when absent (or always, with `force`). */
  private async ensureImage(image: string, force: boolean): Promise<Docker.ImageInspectInfo> {
    const present = force ? undefined : await this.inspectImage(image);
    if (present) return present;
    await this.pull(image);
    const pulled = await this.inspectImage(image);
    if (!pulled) throw new LaunchError(`Image '${image}' is not there after pulling it`);
    return pulled;
  }

  private async pull(image: string): Promise<void> {
    const { docker } = this.options;
    const { auth, source } = await this.options.registries.forImage(image);
    // The source only: never the credentials.
    this.options.logger.info('Pulling image', { image, credentials: source });
    try {
      const stream = await docker.pull(image, auth ? { authconfig: auth } : {});
      await new Promise<void>((resolve, reject) => {
        docker.modem.followProgress(
          stream,
          (error: Error | null) => (error ? reject(error) : resolve()),
          (event: { error?: string }) => {
            if (event.error) reject(new Error(event.error));
          },
        );
      });
    } catch (error) {
      throw new LaunchError(`Failed to pull image '${image}': ${describe(error)}`);
    }
  }

  async launch(spec: LaunchSpec): Promise<Container> {
    const image = taskImage(spec.task.container);
    const check = spec.task.health_check?.type;
    const network = dockerNetwork(spec.task.container, taskPorts(spec));
    if ((check === 'HTTP' || check === 'TCP') && network.checkFrom === 'none') {
      throw new LaunchError(
        `A ${check} health check needs a network the agent can reach; Docker network NONE has none (use HOST or a COMMAND check)`,
        'TASK_ERROR',
      );
    }
    const noneNetwork = network.NetworkMode === 'none' ? this.options.noneNetwork : undefined;
    const mounts = await checkMounts(
      taskMounts(spec.task.container?.volumes ?? [], spec.task.resources ?? [], {
        sandbox: spec.sandbox,
        ...(spec.parentSandbox ? { parentSandbox: spec.parentSandbox } : {}),
        volumeDir: this.options.volumeDir,
      }),
      spec.grant,
      this.options.protectedPaths,
    );
    try {
      // Independent of each other: the image's inspection (or pull) and the container's network files.
      const [imageInfo, noneFiles] = await Promise.all([
        this.ensureImage(image, spec.task.container?.docker?.force_pull_image ?? false),
        noneNetwork ? this.noneNetworkSpec(noneNetwork, spec.containerId) : undefined,
      ]);
      return await this.createAndStart(spec, image, imageInfo, mounts, noneFiles);
    } catch (error) {
      // A stopping agent leaves them with the container: the restarted one removes both.
      if (noneNetwork && !isStopped(error)) await noneNetwork.remove(spec.containerId).catch(() => undefined);
      throw error;
    }
  }

  private async noneNetworkSpec(none: NoneNetwork, containerId: string): Promise<NoneNetworkSpec> {
    try {
      const [files, ipv6] = await Promise.all([none.write(containerId), none.hasIpv6()]);
      return { ...files, ipv6 };
    } catch (error) {
      throw new LaunchError(`Failed to write the container's /etc/hosts and /etc/resolv.conf: ${describe(error)}`);
    }
  }

  private async createAndStart(
    spec: LaunchSpec,
    image: string,
    imageInfo: Docker.ImageInspectInfo,
    mounts: readonly Mount[],
    noneFiles: NoneNetworkSpec | undefined,
  ): Promise<Container> {
    const { docker } = this.options;
    const createOptions = dockerCreateOptions(spec, {
      workDir: this.options.workDir,
      sandboxDirectory: this.options.sandboxDirectory,
      limits: containerLimits(spec.task.resources ?? [], spec.task.limits, this.options.limits),
      environment: taskEnvironment(spec, this.options.sandboxDirectory),
      mounts,
      taskPorts: taskPorts(spec),
      ...(this.options.cgroupParent !== undefined ? { cgroupParent: this.options.cgroupParent } : {}),
      noNewPrivileges: !spec.grant.privileged,
      ...(noneFiles ? { noneNetwork: noneFiles } : {}),
    });
    const user = containerUser(spec, image, imageInfo, createOptions.HostConfig?.Binds ?? []);
    this.options.life.check();
    // Created while the task's record is written, started only once it is durable: a container the record
    // does not name is a stranger to a restarted agent (removed), and one never started is not a launch.
    let container: Docker.Container;
    try {
      container = await docker.createContainer(createOptions);
    } catch (error) {
      throw new LaunchError(`Failed to create container: ${describe(error)}`);
    }
    try {
      await spec.recorded;
      this.options.life.check();
    } catch (error) {
      // A stopping agent leaves it: the restarted one removes a container that never started.
      if (isStopped(error)) throw error;
      await container.remove({ force: true }).catch(() => undefined);
      throw new LaunchError(`Failed to checkpoint the task: ${(error as Error).message}`);
    }
    try {
      await this.ownSandbox(spec, container, user);
      await container.start();
    } catch (error) {
      await container.remove({ force: true }).catch(() => undefined);
      if (error instanceof LaunchError) throw error;
      throw new LaunchError(`Failed to start container: ${describe(error)}`);
    }
    return this.attach(spec, container);
  }

  /**
   * The sandbox belongs to the container's user, so that a non-root task can write it (Mesos chowns
   * it to the task's user). A name is looked up in the container; one that is uid 0 there is root.
   */
  private async ownSandbox(spec: LaunchSpec, container: Docker.Container, user: ContainerUser): Promise<void> {
    const owner = needsLookup(user.spec) ? await lookupContainerUser(container, user.spec) : numericOwner(user.spec);
    if (owner === undefined || owner.uid === 0) {
      if (owner?.uid === 0 && !spec.grant.root) throw user.refusal(true);
      return;
    }
    // Only root may give a file away (an agent run by a user for itself leaves the sandbox its own).
    if (process.getuid?.() === 0) await ownTree(spec.sandbox, owner.uid, owner.gid);
  }

  /** New limits for a running container from its resources (a Docker executor's tasks came or went). */
  resize(containerId: string, resources: readonly Resource[]): Promise<boolean> {
    const limits = containerLimits(resources, undefined, this.options.limits);
    return resizeDockerContainer(this.options.docker.getContainer(containerName(containerId)), limits);
  }

  async recover(spec: LaunchSpec): Promise<Container | undefined> {
    const container = this.options.docker.getContainer(containerName(spec.containerId));
    let info: Docker.ContainerInspectInfo;
    try {
      info = await container.inspect();
    } catch (error) {
      if (statusCode(error) === 404) return undefined;
      throw error;
    }
    if (info.State.Status === 'created') {
      // Created but never started: the launch did not happen.
      await container.remove({ force: true }).catch(() => undefined);
      await this.options.noneNetwork.remove(spec.containerId).catch(() => undefined);
      return undefined;
    }
    const attached = await this.attach(spec, container);
    return info.State.Running ? attached : { ...attached, endedWhileDown: true };
  }

  async cleanupOrphans(known: ReadonlySet<string>): Promise<string[]> {
    const { docker, workDir } = this.options;
    const listed = await docker.listContainers({ all: true, filters: { label: [`${LABELS.workDir}=${workDir}`] } });
    const removed: string[] = [];
    for (const entry of listed) {
      const containerId = entry.Labels[LABELS.containerId];
      if (containerId === undefined || known.has(containerId)) continue;
      await docker
        .getContainer(entry.Id)
        .remove({ force: true })
        .catch(() => undefined);
      await this.options.noneNetwork.remove(containerId).catch(() => undefined);
      removed.push(containerId);
    }
    await this.removeStrayNetworkFiles(known);
    return removed;
  }

  /** Network files of containers never created (the agent stopped between writing them and creating it). */
  private async removeStrayNetworkFiles(known: ReadonlySet<string>): Promise<void> {
    const none = this.options.noneNetwork;
    for (const containerId of await readdir(none.dir).catch(() => [] as string[])) {
      if (!known.has(containerId)) await none.remove(containerId).catch(() => undefined);
    }
  }

  private async attach(spec: LaunchSpec, container: Docker.Container): Promise<Container> {
    const { life, logger } = this.options;
    const detach = new AbortController();
    const stop = () => {
      detach.abort();
      life.signal.removeEventListener('abort', stop);
    };
    life.signal.addEventListener('abort', stop, { once: true });

    const network = dockerNetwork(spec.task.container, taskPorts(spec));
    let checkHost: string | undefined = network.checkFrom === 'loopback' ? '127.0.0.1' : undefined;
    if (network.checkFrom === 'container') {
      const info = await container.inspect();
      const networks = Object.values(info.NetworkSettings.Networks ?? {});
      checkHost = networks.find((entry) => entry.IPAddress)?.IPAddress || undefined;
    }

    // The whole log is streamed again after a restart (Docker keeps it), so the sandbox files are rewritten.
    const logs = this.streamLogs(container, spec.sandbox, detach.signal).catch((error: unknown) => {
      if (!detach.signal.aborted) logger.warn('Streaming container logs failed', { error: describe(error) });
    });

    const exited = this.waitForExit(container, detach.signal).then(async (termination) => {
      await logs;
      return termination;
    });

    return {
      containerId: spec.containerId,
      exited,
      checkHost,
      signal: async (signal) => {
        try {
          await container.kill({ signal });
        } catch (error) {
          // Already stopped (409) or removed (404): the exit is on its way.
          if (statusCode(error) !== 409 && statusCode(error) !== 404) throw error;
        }
      },
      exec: (command, signal) => this.exec(container, command, signal),
      destroy: async () => {
        stop();
        await container.remove({ force: true }).catch((error: unknown) => {
          if (statusCode(error) !== 404) throw error;
        });
        await this.options.noneNetwork.remove(spec.containerId);
      },
      detach: stop,
    };
  }

  private async streamLogs(container: Docker.Container, sandbox: string, signal: AbortSignal): Promise<void> {
    const stream = await container.logs({ follow: true, stdout: true, stderr: true, abortSignal: signal });
    const stdout = createWriteStream(`${sandbox}/stdout`);
    const stderr = createWriteStream(`${sandbox}/stderr`);
    this.options.docker.modem.demuxStream(stream, stdout, stderr);
    await new Promise<void>((resolve) => {
      stream.on('end', resolve);
      stream.on('close', resolve);
      stream.on('error', resolve);
    });
    await Promise.all([new Promise((resolve) => stdout.end(resolve)), new Promise((resolve) => stderr.end(resolve))]);
  }

  private async waitForExit(container: Docker.Container, signal: AbortSignal): Promise<Termination> {
    for (;;) {
      try {
        await container.wait({ abortSignal: signal });
      } catch (error) {
        if (signal.aborted) return new Promise<Termination>(() => undefined);
        this.options.logger.warn('Waiting on a container failed; retrying', { error: describe(error) });
        await new Promise((resolve) => setTimeout(resolve, 1000));
      }
      let info: Docker.ContainerInspectInfo;
      try {
        info = await container.inspect();
      } catch (error) {
        if (statusCode(error) === 404) return { oomKilled: false, lost: 'The container was removed while it ran' };
        if (signal.aborted) return new Promise<Termination>(() => undefined);
        continue;
      }
      if (info.State.Running || info.State.Restarting) continue;
      return { exitCode: info.State.ExitCode, oomKilled: info.State.OOMKilled };
    }
  }

  private async exec(container: Docker.Container, command: CommandInfo, signal: AbortSignal): Promise<number> {
    const { file, args } = processCommand(command);
    const exec = await container.exec({
      Cmd: [file, ...args],
      AttachStdout: true,
      AttachStderr: true,
      abortSignal: signal,
    });
    const stream = await exec.start({ hijack: true, stdin: false, abortSignal: signal });
    await new Promise<void>((resolve, reject) => {
      stream.resume();
      stream.on('end', resolve);
      stream.on('close', resolve);
      stream.on('error', reject);
      signal.addEventListener('abort', () => {
        stream.destroy();
        reject(new Error('timed out'));
      });
    });
    const inspected = await exec.inspect();
    return inspected.ExitCode ?? -1;
  }
}
