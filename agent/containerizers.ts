/**
 * The containerizers `--containerizers` enables (Mesos `Containerizer::create`, src/slave/containerizer/
 * containerizer.cpp) and the isolation they can enforce here: the process containerizer with the
 * cgroups found writable and the task launcher, Docker if its engine answers; how GPUs are isolated
 * follows (Docker hands a container only its devices; process tasks get the devices cgroup where it is
 * writable, and CUDA_VISIBLE_DEVICES otherwise). What is missing is noted, not fatal. Both put their
 * tasks under cgroup2 subtrees, which the metadata firewall matches; and both refuse to mount what
 * owns the host (mount-policy.ts). The fetcher, which both use before a task starts, comes with them
 * (its cache emptied, as at every agent start).
 */
import { volumePaths, type Disk } from './disks.js';
import { join, relative } from 'node:path';
import Docker from 'dockerode';
import type { Logger } from '#shared/log.js';
import type { Metrics } from '#shared/metrics.js';
import type { Isolation } from '#shared/protocol/internal.js';
import type { Checkpoint } from './checkpoint.js';
import type { AgentConfig, ContainerizerKind } from './config.js';
import type { Containerizer } from './containerizer/containerizer.js';
import { DockerContainerizer } from './containerizer/docker.js';
import { NoneNetwork } from './containerizer/docker-none-network.js';
import { taskLauncher, userSwitcher } from './containerizer/host.js';
import { protectedPaths, type ProtectedPath } from './containerizer/mount-policy.js';
import { ProcessContainerizer } from './containerizer/process.js';
import { Fetcher } from './fetcher/fetcher.js';
import { parseMetadataTargets } from './isolation/firewall-rules.js';
import type { Gpu } from './gpu/nvidia.js';
import {
  cgroup2Mount,
  cgroupfsSubtree,
  dockerCgroupParent,
  systemdSubtree,
  type DockerCgroupParent,
  type TaskCgroup,
} from './isolation/cgroup2.js';
import { detectCgroups, type CgroupSupport } from './isolation/cgroups.js';
import { defaultDeviceFilter, probeDeviceFilter } from './isolation/device-filter.js';
import { NVIDIA_MAJOR } from './gpu/nvidia.js';
import type { Lifecycle } from './lifecycle.js';
import { loadDockerConfig, RegistryCredentials, type EcrClientLike } from './containerizer/registry-auth.js';

/** Where a persistent volume lives (disks.ts). */
type VolumeDir = ReturnType<typeof volumePaths>;

export interface ContainerizerDeps {
  readonly config: AgentConfig;
  readonly checkpoint: Checkpoint;
  readonly life: Lifecycle;
  readonly logger: Logger;
  readonly metrics: Metrics;
  /** Test seams: the Docker client, the ECR client of a region. */
  readonly options: { readonly docker?: Docker; readonly ecrClient?: (region: string) => EcrClientLike };
}

export interface Containerizers {
  readonly containerizers: Map<ContainerizerKind, Containerizer>;
  readonly fetcher: Fetcher;
  /** What is enforced here; its notes say what cannot be, in the order found. */
  readonly isolation: Isolation;
  /** Where the cgroup2 hierarchy is mounted, if anywhere. */
  readonly cgroup2?: string;
  /** The cgroup2 subtrees every task lives under (paths in the hierarchy), and how each comes to exist. */
  readonly taskCgroups: readonly TaskCgroup[];
  /** Containerizers whose tasks stay out of cgroup2 here (no hierarchy, or not writable). */
  readonly outsideCgroup2: readonly ContainerizerKind[];
}

/** Throws when Docker is enabled but does not answer. `host`: the GPUs found, and what finding them noted. */
export async function createContainerizers(
  deps: ContainerizerDeps,
  host: { readonly gpus: readonly Gpu[]; readonly notes: readonly string[]; readonly disks?: readonly Disk[] },
): Promise<Containerizers> {
  const containerizers = new Map<ContainerizerKind, Containerizer>();
  const notes = [...host.notes];
  const { config, checkpoint } = deps;
  const volumeDir = volumePaths(config.workDir, host.disks ?? []);
  const cgroup2 = await cgroup2Mount();
  const guarded = protectedPaths({ ...config, meta: checkpoint.meta });
  const taskCgroups: TaskCgroup[] = [];
  const outsideCgroup2: ContainerizerKind[] = [];
  let cgroups: CgroupSupport = { version: 'none', bases: new Map(), notes: [] };
  if (config.containerizers.includes('mesos')) {
    cgroups = await withDeviceFilter(
      await detectCgroups(config.cgroupsHierarchy, config.cgroupsRoot, cgroup2),
      host.gpus.length,
      config.gpuDeviceFilter,
    );
    notes.push(...cgroups.notes);
    containerizers.set('mesos', await processContainerizer(deps, cgroups, guarded, notes, volumeDir));
    if (cgroup2 !== undefined && cgroups.unified !== undefined) {
      taskCgroups.push(cgroupfsSubtree(cgroup2, relative(cgroup2, cgroups.unified)));
    } else {
      outsideCgroup2.push('mesos');
    }
  }
  if (config.containerizers.includes('docker')) {
    const docker = await dockerContainerizer(deps, guarded, volumeDir);
    containerizers.set('docker', docker.containerizer);
    const { parent } = docker;
    if (cgroup2 !== undefined) {
      taskCgroups.push(docker.driver === 'systemd' ? systemdSubtree(parent) : cgroupfsSubtree(cgroup2, parent.path));
    } else {
      outsideCgroup2.push('docker');
    }
  }
  const processTasks = config.containerizers.includes('mesos');
  const gpus = gpuIsolation(
    host.gpus.length,
    processTasks,
    cgroups.devices !== undefined ? 'devices-cgroup' : cgroups.deviceFilter !== undefined ? 'device-filter' : undefined,
    config.gpuProcessIsolation === 'strict',
  );
  if (gpus.note) notes.push(gpus.note);
  const blocked = parseMetadataTargets(config.blockMetadata);
  if (!blocked.ok) throw new Error(blocked.error);
  const fetcher = new Fetcher({
    cacheDirectory: config.fetcherCacheDir ?? join(config.workDir, 'fetch'),
    cacheSizeBytes: config.fetcherCacheSizeBytes,
    stallTimeoutMs: config.fetcherStallTimeoutMs,
    protectedPaths: guarded,
    blocked: blocked.value,
    s3: {
      ...(config.region ? { region: config.region } : {}),
      ...(config.s3Endpoint ? { endpoint: config.s3Endpoint } : {}),
    },
    logger: deps.logger,
    metrics: deps.metrics,
  });
  await fetcher.start();
  return {
    containerizers,
    fetcher,
    isolation: { cgroups: cgroups.version, gpus: gpus.mode, notes },
    ...(cgroup2 !== undefined ? { cgroup2 } : {}),
    taskCgroups: uniqueSubtrees(taskCgroups),
    outsideCgroup2,
  };
}

function uniqueSubtrees(subtrees: readonly TaskCgroup[]): TaskCgroup[] {
  return [...new Map(subtrees.map((subtree) => [subtree.path, subtree])).values()];
}

async function processContainerizer(
  { config, checkpoint, life, logger }: ContainerizerDeps,
  cgroups: CgroupSupport,
  guarded: readonly ProtectedPath[],
  notes: string[],
  volumeDir: VolumeDir,
): Promise<ProcessContainerizer> {
  const { launcher, notes: launcherNotes } = await taskLauncher();
  notes.push(...launcherNotes);
  const root = process.getuid?.() === 0;
  if (config.switchUser && !root) notes.push("The agent is not root: process tasks run as the agent's user");
  const switchUser = config.switchUser && root;
  return new ProcessContainerizer({
    checkpoint,
    volumeDir,
    cgroups,
    limits: { enableCfs: config.cgroupsEnableCfs, pidsLimit: config.pidsLimit },
    launcher,
    ...(switchUser ? { setpriv: await userSwitcher() } : {}),
    // Not the agent's whole environment (Mesos passes it): it holds the agent's credentials.
    baseEnvironment: config.executorEnvironmentVariables ?? {
      PATH: process.env.PATH ?? '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
      ...(process.env.HOME ? { HOME: process.env.HOME } : {}),
    },
    switchUser,
    protectedPaths: guarded,
    life,
    logger,
  });
}

/** The Docker containerizer, with the cgroup parent its engine's cgroup driver takes. */
async function dockerContainerizer(
  { config, checkpoint, life, logger, options }: ContainerizerDeps,
  guarded: readonly ProtectedPath[],
  volumeDir: VolumeDir,
): Promise<{ containerizer: DockerContainerizer; driver: string | undefined; parent: DockerCgroupParent }> {
  const client = options.docker ?? new Docker({ socketPath: config.dockerSocket });
  let driver: string | undefined;
  try {
    const info = (await client.info()) as { CgroupDriver?: string };
    driver = info.CgroupDriver;
  } catch (error) {
    throw new Error(
      `The docker containerizer is enabled but Docker does not answer at ${config.dockerSocket}: ${(error as Error).message}`,
      { cause: error },
    );
  }
  const parent = dockerCgroupParent(driver, config.cgroupsRoot);
  const containerizer = new DockerContainerizer({
    docker: client,
    workDir: config.workDir,
    sandboxDirectory: config.sandboxDirectory,
    limits: { enableCfs: config.cgroupsEnableCfs, pidsLimit: config.pidsLimit },
    volumeDir,
    protectedPaths: guarded,
    cgroupParent: parent.parent,
    registries: new RegistryCredentials({
      ...(config.dockerConfig !== undefined ? { dockerConfig: await loadDockerConfig(config.dockerConfig) } : {}),
      ...(options.ecrClient ? { ecrClient: options.ecrClient } : {}),
    }),
    noneNetwork: new NoneNetwork({ dir: join(checkpoint.meta, 'docker') }),
    life,
    logger,
  });
  return { containerizer, driver, parent };
}

/**
 * Where no v1 devices cgroup keeps process tasks to their GPUs, the cgroup2 device filter does, if the
 * kernel lets the agent attach it (`--gpu_device_filter`: the loader; empty: beside the agent; `none`:
 * off). Only an agent with GPUs needs it.
 */
async function withDeviceFilter(cgroups: CgroupSupport, gpuCount: number, loader: string): Promise<CgroupSupport> {
  if (gpuCount === 0 || cgroups.devices !== undefined || loader === 'none') return cgroups;
  if (cgroups.unified === undefined) return cgroups;
  const path = loader === '' ? defaultDeviceFilter() : loader;
  const problem = await probeDeviceFilter(path, cgroups.unified, NVIDIA_MAJOR);
  if (problem === undefined) return { ...cgroups, deviceFilter: path };
  return { ...cgroups, notes: [...cgroups.notes, `The cgroup2 GPU device filter cannot be attached: ${problem}`] };
}

/**
 * How GPUs are isolated, and the note when process tasks can only be told which GPUs are theirs: a v1
 * devices cgroup denies the other GPUs' device files, and on cgroup v2 the device filter (an eBPF
 * program on the task's cgroup) denies opening them; without either, a process task that ignores
 * CUDA_VISIBLE_DEVICES can open any GPU, and `strict` (--gpu_process_isolation) refuses such tasks. Pure.
 */
export function gpuIsolation(
  gpuCount: number,
  processTasks: boolean,
  enforcement: 'devices-cgroup' | 'device-filter' | undefined,
  strict = false,
): { mode: Isolation['gpus']; note?: string } {
  if (gpuCount === 0) return { mode: 'none' };
  if (!processTasks) return { mode: 'devices-cgroup' };
  if (enforcement !== undefined) return { mode: enforcement };
  return {
    mode: 'visibility',
    note: strict
      ? 'No devices cgroup and no cgroup2 device filter: process tasks that ask for GPUs are refused (--gpu_process_isolation=strict); Docker tasks get exactly their GPUs'
      : 'No devices cgroup and no cgroup2 device filter: process tasks see GPUs they were not given if they ignore CUDA_VISIBLE_DEVICES (--gpu_process_isolation=strict refuses them instead)',
  };
}
