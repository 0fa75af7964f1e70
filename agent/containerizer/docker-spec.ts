/**
 * A task as a Docker Engine API container (what Mesos's Docker containerizer passes to `docker run`):
 * image, command, environment, user, the sandbox mounted at `--sandbox_directory` and used as working
 * directory, volumes, limits from the task's resources, the exact GPUs as an NVIDIA device request,
 * the network (HOST by default, as in Mesos; NONE; BRIDGE or a USER network with the task's ports
 * mapped; NONE as networking disabled plus Docker's files for it, docker-none-network.ts), the training
 * knobs among Docker parameters (shm-size, ipc, ulimit, cap-add), the agent's cgroup parent,
 * `no-new-privileges`, and labels that let a restarted agent find its containers again. Pure.
 */
import type Docker from 'dockerode';
import { posix } from 'node:path';
import {
  capabilityName,
  IPC_MODES,
  parseDockerSize,
  parseUlimit,
  SUPPORTED_DOCKER_PARAMETERS,
} from '#shared/protocol/docker-parameters.js';
import type { ContainerInfo, Range } from '#shared/protocol/mesos.js';
import type { ContainerLimits } from '../isolation/limits.js';
import type { Gpu } from '../gpu/nvidia.js';
import { dockerCommand } from './command.js';
import { LaunchError, type LaunchSpec } from './containerizer.js';
import { dockerBinds, type Mount } from './volumes.js';

export const LABELS = {
  workDir: 'mantle.work_dir',
  containerId: 'mantle.container_id',
  frameworkId: 'mantle.framework_id',
  taskId: 'mantle.task_id',
  executorId: 'mantle.executor_id',
} as const;

export function containerName(containerId: string): string {
  return `mantle-${containerId}`;
}

/** The image a task runs: DOCKER containers name it; MESOS containers may carry a Docker image. */
export function taskImage(container: ContainerInfo | undefined): string {
  const image = container?.docker?.image ?? container?.mesos?.image?.docker?.name;
  if (container?.mesos?.image && container.mesos.image.type !== 'DOCKER') {
    throw new LaunchError(`${container.mesos.image.type} images are not supported (only Docker images)`);
  }
  if (!image) throw new LaunchError('The container has no Docker image', 'TASK_ERROR');
  return image;
}

export interface DockerNetwork {
  readonly NetworkMode: string;
  readonly PortBindings?: Record<string, Array<{ HostPort: string }>>;
  readonly ExposedPorts?: Record<string, Record<string, never>>;
  /** Where health checks reach the task: the host's loopback, the container's own address, or nowhere. */
  readonly checkFrom: 'loopback' | 'container' | 'none';
}

function inRanges(port: number, ranges: readonly Range[]): boolean {
  return ranges.some((range) => port >= range.begin && port <= range.end);
}

export function dockerNetwork(container: ContainerInfo | undefined, taskPorts: readonly Range[]): DockerNetwork {
  const docker = container?.docker;
  const network = docker?.network ?? 'HOST';
  let mode: string;
  let mappings = docker?.port_mappings ?? [];
  switch (network) {
    case 'HOST':
      return { NetworkMode: 'host', checkFrom: 'loopback' };
    case 'NONE':
      return { NetworkMode: 'none', checkFrom: 'none' };
    case 'BRIDGE':
      mode = 'bridge';
      break;
    case 'USER': {
      const info = container?.network_infos?.[0];
      if (!info?.name) throw new LaunchError('A USER network needs network_infos[0].name', 'TASK_ERROR');
      mode = info.name;
      if (mappings.length === 0) mappings = info.port_mappings ?? [];
      break;
    }
  }
  const PortBindings: Record<string, Array<{ HostPort: string }>> = {};
  const ExposedPorts: Record<string, Record<string, never>> = {};
  for (const mapping of mappings) {
    const protocol = (mapping.protocol ?? 'tcp').toLowerCase();
    if (protocol !== 'tcp' && protocol !== 'udp') {
      throw new LaunchError(`Port mapping protocol '${mapping.protocol ?? ''}' is not tcp or udp`, 'TASK_ERROR');
    }
    if (!inRanges(mapping.host_port, taskPorts)) {
      throw new LaunchError(
        `Port mapping host port ${mapping.host_port} is not in the task's ports resources`,
        'TASK_ERROR',
      );
    }
    const key = `${mapping.container_port}/${protocol}`;
    PortBindings[key] = [...(PortBindings[key] ?? []), { HostPort: String(mapping.host_port) }];
    ExposedPorts[key] = {};
  }
  return { NetworkMode: mode, PortBindings, ExposedPorts, checkFrom: 'container' };
}

interface Parameters {
  labels: Record<string, string>;
  env: string[];
  user?: string;
  workdir?: string;
  host: Pick<Docker.HostConfig, 'ShmSize' | 'IpcMode' | 'Ulimits' | 'CapAdd'>;
}

function invalid(key: string, value: string, expected: string): LaunchError {
  return new LaunchError(`Docker parameter '${key}=${value}' is invalid: ${expected}`, 'TASK_ERROR');
}

/** The training knobs (`shm-size`, `ipc`, `ulimit`, `cap-add`) as the Engine API's HostConfig fields. */
function hostParameter(host: Parameters['host'], key: string, value: string): void {
  switch (key) {
    case 'shm-size': {
      const bytes = parseDockerSize(value);
      if (bytes === undefined) throw invalid(key, value, 'expected a size such as 256m or 16g');
      host.ShmSize = bytes;
      break;
    }
    case 'ipc':
      if (!(IPC_MODES as readonly string[]).includes(value))
        throw invalid(key, value, `expected ${IPC_MODES.join(', ')}`);
      host.IpcMode = value;
      break;
    case 'ulimit': {
      const ulimit = parseUlimit(value);
      if (!ulimit) throw invalid(key, value, 'expected name=soft[:hard], -1 for unlimited (memlock=-1:-1)');
      host.Ulimits = [...(host.Ulimits ?? []).filter((u) => u.Name !== ulimit.Name), { ...ulimit }];
      break;
    }
    case 'cap-add':
      host.CapAdd = [...(host.CapAdd ?? []), capabilityName(value)];
      break;
    default:
      throw new LaunchError(
        `Docker parameter '${key}' is not supported (supported: ${SUPPORTED_DOCKER_PARAMETERS.join(', ')})`,
        'TASK_ERROR',
      );
  }
}

function parameters(container: ContainerInfo | undefined): Parameters {
  const result: Parameters = { labels: {}, env: [], host: {} };
  for (const { key, value } of container?.docker?.parameters ?? []) {
    switch (key) {
      case 'label': {
        const at = value.indexOf('=');
        result.labels[at < 0 ? value : value.slice(0, at)] = at < 0 ? '' : value.slice(at + 1);
        break;
      }
      case 'env':
        result.env.push(value);
        break;
      case 'user':
        result.user = value;
        break;
      case 'workdir':
        result.workdir = value;
        break;
      default:
        hostParameter(result.host, key, value);
    }
  }
  return result;
}

/** The NVIDIA device request for exactly these GPUs (by UUID, which survives re-enumeration). */
export function gpuDeviceRequests(gpus: readonly Gpu[]): Docker.DeviceRequest[] {
  if (gpus.length === 0) return [];
  return [{ Driver: 'nvidia', Count: 0, DeviceIDs: gpus.map((gpu) => gpu.uuid), Capabilities: [['gpu']] }];
}

export interface DockerSpecContext {
  readonly workDir: string;
  readonly sandboxDirectory: string;
  readonly limits: ContainerLimits;
  readonly environment: Readonly<Record<string, string>>;
  readonly mounts: readonly Mount[];
  readonly taskPorts: readonly Range[];
  /** The cgroup every task container goes under (the metadata firewall matches on it). */
  readonly cgroupParent?: string;
  /** setuid binaries of the image cannot raise privileges (all but privileged grants). */
  readonly noNewPrivileges: boolean;
  /** Network NONE as networking disabled, with these in place of what Docker's `none` mode makes. */
  readonly noneNetwork?: NoneNetworkSpec;
}

export interface NoneNetworkSpec {
  /** The container's own /etc/hosts and /etc/resolv.conf on the host. */
  readonly hosts: string;
  readonly resolvConf: string;
  /** The host has IPv6, which libnetwork turns off in the namespaces it makes. */
  readonly ipv6: boolean;
}

/**
 * What network NONE takes when the agent stands in for libnetwork (docker-none-network.ts): the files
 * Docker would mount, except where the task mounts its own (Docker's own rule), and IPv6 off.
 */
function noneNetworkOptions(
  none: NoneNetworkSpec,
  taskTargets: readonly string[],
): { binds: string[]; sysctls: Record<string, string> } {
  const taken = new Set(taskTargets.map((target) => posix.normalize(target).replace(/(.)\/+$/, '$1')));
  const files: Array<[string, string]> = [
    [none.hosts, '/etc/hosts'],
    [none.resolvConf, '/etc/resolv.conf'],
  ];
  return {
    binds: files.filter(([, target]) => !taken.has(target)).map(([source, target]) => `${source}:${target}:rw`),
    sysctls: none.ipv6 ? { 'net.ipv6.conf.all.disable_ipv6': '1' } : {},
  };
}

export function dockerCreateOptions(spec: LaunchSpec, context: DockerSpecContext): Docker.ContainerCreateOptions {
  const container = spec.task.container;
  const image = taskImage(container);
  const network = dockerNetwork(container, context.taskPorts);
  const extra = parameters(container);
  const { limits } = context;
  const taskLabels = Object.fromEntries(
    (spec.task.labels?.labels ?? []).map((label) => [label.key, label.value ?? '']),
  );
  const user = spec.task.command?.user ?? extra.user;
  const hostname = network.NetworkMode === 'host' ? undefined : container?.hostname;
  const taskBinds = dockerBinds(context.mounts, context.sandboxDirectory);
  const none =
    network.NetworkMode === 'none' && context.noneNetwork
      ? noneNetworkOptions(
          context.noneNetwork,
          taskBinds.map((bind) => bind.split(':')[1] ?? ''),
        )
      : undefined;
  return {
    name: containerName(spec.containerId),
    Image: image,
    ...dockerCommand(spec.task.command),
    Env: [...Object.entries(context.environment).map(([name, value]) => `${name}=${value}`), ...extra.env],
    ...(user !== undefined ? { User: user } : {}),
    ...(hostname !== undefined ? { Hostname: hostname } : {}),
    WorkingDir: extra.workdir ?? context.sandboxDirectory,
    Labels: {
      ...taskLabels,
      ...extra.labels,
      [LABELS.workDir]: context.workDir,
      [LABELS.containerId]: spec.containerId,
      [LABELS.frameworkId]: spec.frameworkId,
      [LABELS.taskId]: spec.task.task_id.value,
      [LABELS.executorId]: spec.executorId,
    },
    ...(network.ExposedPorts && Object.keys(network.ExposedPorts).length > 0
      ? { ExposedPorts: network.ExposedPorts }
      : {}),
    ...(none ? { NetworkDisabled: true } : {}),
    HostConfig: {
      Binds: [`${spec.sandbox}:${context.sandboxDirectory}:rw`, ...taskBinds, ...(none?.binds ?? [])],
      NetworkMode: network.NetworkMode,
      ...(none && Object.keys(none.sysctls).length > 0 ? { Sysctls: none.sysctls } : {}),
      ...(network.PortBindings && Object.keys(network.PortBindings).length > 0
        ? { PortBindings: network.PortBindings }
        : {}),
      CpuShares: limits.cpuShares,
      ...(limits.cpuQuotaUs !== undefined ? { CpuPeriod: limits.cpuPeriodUs, CpuQuota: limits.cpuQuotaUs } : {}),
      ...(limits.memoryBytes !== undefined ? { Memory: limits.memoryBytes, MemorySwap: limits.memoryBytes } : {}),
      ...(limits.memorySoftBytes !== undefined ? { MemoryReservation: limits.memorySoftBytes } : {}),
      ...(limits.pids !== undefined ? { PidsLimit: limits.pids } : {}),
      ...(spec.gpus.length > 0 ? { DeviceRequests: gpuDeviceRequests(spec.gpus) } : {}),
      ...extra.host,
      ...(container?.docker?.privileged ? { Privileged: true } : {}),
      ...(context.cgroupParent !== undefined ? { CgroupParent: context.cgroupParent } : {}),
      ...(context.noNewPrivileges ? { SecurityOpt: ['no-new-privileges'] } : {}),
    },
  };
}
