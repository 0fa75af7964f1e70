/**
 * Task groups as pods (Mesos's default executor and its nested containers): the executor's container is
 * a cgroup holding the executor's and every task's resources, with each task's container nested under
 * it, and a network namespace of its own that all the group's tasks share (they reach each other on
 * 127.0.0.1, the host does not reach them), unless the group asks for the host's network.
 *
 * The namespace is kept by a bind mount on `<work_dir>/meta/pods/<pod>/net` (`unshare --net=<file>`),
 * so that it outlives the agent as the tasks do, and a task enters it through `nsenter`. A pod lives
 * while one of its containers does: the last one destroyed removes the cgroup and the namespace; a
 * restarted agent removes the pods that no recovered container entered.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { ExecutorInfo, Resource, TaskInfo } from '#shared/protocol/mesos.js';
import { ContainerCgroup, type CgroupSupport } from './cgroups.js';
import {
  containerLimits,
  CPU_CFS_PERIOD_US,
  CPU_SHARES_PER_CPU,
  type ContainerLimits,
  type LimitOptions,
} from './limits.js';

const run = promisify(execFile);

/** What a task of a group records of its pod. */
export interface PodSpec {
  /** Names the pod's cgroup and folder: `pod-<hash of framework, executor and launch>`. */
  readonly id: string;
  /** The executor's resources and every task's: the pod's limits. */
  readonly resources: readonly Resource[];
  /** `pod`: the group's own network namespace; `host`: the host's. */
  readonly network: 'pod' | 'host';
  /**
   * The task group in the pod (named by its first task): another LAUNCH_GROUP of the same ACCEPT for the
   * same executor joins the pod, which grows by its tasks' resources (Mesos: one executor container holds
   * every task group given to it, grown by each). Absent in records of agents before it.
   */
  readonly group?: { readonly id: string; readonly taskResources: readonly Resource[] };
}

/**
 * The pod of a task group. Host networking is asked for with a NetworkInfo named `host` on the
 * executor's ContainerInfo; without one the group gets its own namespace.
 */
export function podSpec(
  frameworkId: string,
  executor: ExecutorInfo,
  launchId: string,
  tasks: readonly TaskInfo[],
): PodSpec {
  const hash = createHash('sha256').update(`${frameworkId}\n${executor.executor_id.value}\n${launchId}`);
  const host = (executor.container?.network_infos ?? []).some((network) => network.name === 'host');
  const taskResources = tasks.flatMap((task) => task.resources ?? []);
  return {
    id: `pod-${hash.digest('hex').slice(0, 20)}`,
    resources: [...(executor.resources ?? []), ...taskResources],
    network: host ? 'host' : 'pod',
    group: { id: tasks[0]?.task_id.value ?? '', taskResources },
  };
}

/**
 * A task's own limits inside its pod: its resources and limits with `linux_info.share_cgroups: false`
 * (Mesos 1.10's per-task limits), otherwise none of its own (it shares the pod's, Mesos's default).
 */
export function nestedLimits(task: TaskInfo, options: LimitOptions): ContainerLimits {
  if (task.container?.linux_info?.share_cgroups === false)
    return containerLimits(task.resources ?? [], task.limits, options);
  return {
    cpuShares: CPU_SHARES_PER_CPU,
    cpuPeriodUs: CPU_CFS_PERIOD_US,
    ...(options.pidsLimit > 0 ? { pids: options.pidsLimit } : {}),
  };
}

export interface PodsOptions {
  readonly meta: string;
  readonly cgroups: CgroupSupport;
  readonly limits: LimitOptions;
}

/** The groups a pod made by this agent run holds, the resources of its limits, its resizes in order. */
interface PodGroups {
  readonly ids: Set<string>;
  readonly resources: Resource[];
  resizing: Promise<unknown>;
}

/** The pods of this agent's work dir, and how many live containers each holds. */
export class Pods {
  private readonly users = new Map<string, number>();
  private readonly pending = new Map<string, Promise<void>>();
  private readonly groups = new Map<string, PodGroups>();

  constructor(private readonly options: PodsOptions) {}

  private dir(id: string): string {
    return join(this.options.meta, 'pods', id);
  }

  /** The file whose bind mount keeps the pod's network namespace; undefined with host networking. */
  netns(pod: PodSpec | undefined): string | undefined {
    return pod?.network === 'pod' ? join(this.dir(pod.id), 'net') : undefined;
  }

  /** What to run a command in the pod's namespace with, as `user` (nsenter switches after entering). */
  enterCommand(pod: PodSpec | undefined, user: { uid: number; gid: number } | undefined): string[] {
    const netns = this.netns(pod);
    if (!netns) return [];
    const ids = user ? ['-S', String(user.uid), '-G', String(user.gid)] : [];
    return ['nsenter', `--net=${netns}`, ...ids, '--'];
  }

  /** A container of the pod starts: the pod is made if it is not there (limits, namespace). */
  async enter(pod: PodSpec, create = true): Promise<void> {
    this.users.set(pod.id, (this.users.get(pod.id) ?? 0) + 1);
    if (!create) return;
    const making = this.pending.get(pod.id) ?? this.make(pod);
    this.pending.set(pod.id, making);
    try {
      await making;
      await this.join(pod);
    } catch (error) {
      this.pending.delete(pod.id);
      await this.leave(pod.id);
      throw error;
    }
  }

  /** A task group not yet in the pod grows its limits by its tasks' resources (one resize at a time). */
  private async join(pod: PodSpec): Promise<void> {
    const entry = this.groups.get(pod.id);
    if (!pod.group || !entry || entry.ids.has(pod.group.id)) return;
    entry.ids.add(pod.group.id);
    entry.resources.push(...pod.group.taskResources);
    const cgroup = new ContainerCgroup(this.options.cgroups, pod.id);
    // Each resize reads the total when it runs: the last one holds every group's.
    const resized = entry.resizing.then(() =>
      cgroup.resize(containerLimits(entry.resources, undefined, this.options.limits)),
    );
    entry.resizing = resized.catch(() => undefined);
    await resized;
  }

  private async make(pod: PodSpec): Promise<void> {
    this.groups.set(pod.id, {
      ids: new Set(pod.group ? [pod.group.id] : []),
      resources: [...pod.resources],
      resizing: Promise.resolve(),
    });
    const dir = this.dir(pod.id);
    await mkdir(dir, { recursive: true, mode: 0o700 });
    await new ContainerCgroup(this.options.cgroups, pod.id).create(
      containerLimits(pod.resources, undefined, this.options.limits),
      [],
    );
    const { cgroups } = this.options;
    if (cgroups.version === 'v2') {
      // Controllers reach the nested containers only when the pod hands them down.
      const controllers = [...cgroups.bases.keys()].map((controller) => `+${controller}`).join(' ');
      const podDir = join(cgroups.unified ?? '', pod.id);
      await writeFile(join(podDir, 'cgroup.subtree_control'), controllers);
    }
    const netns = this.netns(pod);
    if (!netns) return;
    const mounted = await run('findmnt', ['-n', netns]).then(
      () => true,
      () => false,
    );
    if (mounted) return;
    await writeFile(netns, '');
    await run('unshare', [`--net=${netns}`, 'true']);
    await run('nsenter', [`--net=${netns}`, 'ip', 'link', 'set', 'lo', 'up']);
  }

  /** A container of the pod is gone: the last one out removes the pod. */
  async leave(id: string): Promise<void> {
    const left = (this.users.get(id) ?? 1) - 1;
    if (left > 0) {
      this.users.set(id, left);
      return;
    }
    this.users.delete(id);
    this.pending.delete(id);
    this.groups.delete(id);
    await this.remove(id);
  }

  private async remove(id: string): Promise<void> {
    const cgroup = new ContainerCgroup(this.options.cgroups, id);
    // Containers an agent crash left behind are nested in it: they go first.
    const nested = new Set<string>();
    for (const dir of cgroup.dirs()) {
      const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
      for (const entry of entries) if (entry.isDirectory()) nested.add(entry.name);
    }
    for (const child of nested)
      await new ContainerCgroup(this.options.cgroups, child, id).destroy().catch(() => undefined);
    await cgroup.destroy().catch(() => undefined);
    const netns = join(this.dir(id), 'net');
    await run('umount', [netns]).catch(() => undefined);
    await rm(this.dir(id), { recursive: true, force: true });
  }

  /** Removes the pods no live container holds (after recovery: what the agent left behind). */
  async cleanup(): Promise<string[]> {
    const entries = await readdir(join(this.options.meta, 'pods')).catch(() => [] as string[]);
    const removed = entries.filter((id) => !this.users.has(id));
    for (const id of removed) await this.remove(id);
    return removed;
  }
}
