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
import { subtract } from '#shared/resources/resources.js';
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
  /**
   * Names the pod's cgroup and folder: `pod-<hash of framework, executor and launch>`, the launch being
   * the one that started the executor (a later one's groups join its pod).
   */
  readonly id: string;
  /** The executor's resources and those of this task's group (the executor's: these less the group's). */
  readonly resources: readonly Resource[];
  /** `pod`: the group's own network namespace; `host`: the host's. */
  readonly network: 'pod' | 'host';
  /**
   * The task group in the pod (named by its first task): another LAUNCH_GROUP for the same running
   * executor, of the same ACCEPT or a later one, joins the pod, which grows by its tasks' resources while
   * they run (Mesos: one executor container holds every task group given to it, updated to the executor's
   * resources and its live tasks'). Absent in records of agents before it.
   */
  readonly group?: { readonly id: string; readonly taskResources: readonly Resource[] };
}

/**
 * The pod of a task group: the running executor's pod when there is one (`running`: its network too),
 * else a new one. Host networking is asked for with a NetworkInfo named `host` on the executor's
 * ContainerInfo; without one the group gets its own namespace.
 */
export function podSpec(
  frameworkId: string,
  executor: ExecutorInfo,
  launchId: string,
  tasks: readonly TaskInfo[],
  running?: Pick<PodSpec, 'id' | 'network'>,
): PodSpec {
  const hash = createHash('sha256').update(`${frameworkId}\n${executor.executor_id.value}\n${launchId}`);
  const host = (executor.container?.network_infos ?? []).some((network) => network.name === 'host');
  const taskResources = tasks.flatMap((task) => task.resources ?? []);
  return {
    id: running?.id ?? `pod-${hash.digest('hex').slice(0, 20)}`,
    resources: [...(executor.resources ?? []), ...taskResources],
    network: running?.network ?? (host ? 'host' : 'pod'),
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

/** A pod this agent run knows: its executor's resources and its groups' while they have containers. */
interface PodEntry {
  readonly executor: readonly Resource[];
  readonly groups: Map<string, { readonly resources: readonly Resource[]; containers: number }>;
  /** Its resizes, in order. */
  resizing: Promise<unknown>;
}

/** The pods of this agent's work dir, the groups in each and how many live containers each group holds. */
export class Pods {
  private readonly entries = new Map<string, PodEntry>();
  /** A pod's making (resolved for one recovered from an earlier run). */
  private readonly pending = new Map<string, Promise<void>>();
  /** A pod's removal under way: a pod of the same id made meanwhile waits for it. */
  private readonly removing = new Map<string, Promise<void>>();

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

  /**
   * A container of the pod starts: the pod is made if it is not there (limits, namespace), and grows by
   * the container's group if the group is new to it. `create` false: a container recovered after an
   * agent restart, whose pod is there already; it only counts, so that the pod's groups are known again.
   */
  async enter(pod: PodSpec, create = true): Promise<void> {
    const entry = this.entries.get(pod.id) ?? this.track(pod);
    const groupId = pod.group?.id ?? '';
    const group = entry.groups.get(groupId);
    if (group) group.containers += 1;
    else entry.groups.set(groupId, { resources: pod.group?.taskResources ?? [], containers: 1 });
    if (!create) {
      if (!this.pending.has(pod.id)) this.pending.set(pod.id, Promise.resolve());
      return;
    }
    let making = this.pending.get(pod.id);
    if (!making) {
      making = (this.removing.get(pod.id) ?? Promise.resolve()).then(() => this.make(pod, entry));
      this.pending.set(pod.id, making);
    }
    try {
      await making;
      // A group joining a pod made before it: the pod's limits grow by its tasks.
      if (!group && entry.groups.size > 1) await this.resize(pod.id, entry);
    } catch (error) {
      if (this.pending.get(pod.id) === making) this.pending.delete(pod.id);
      await this.leave(pod);
      throw error;
    }
  }

  /** The pod's entry, from its first container's spec (the executor's resources: the pod's less the group's). */
  private track(pod: PodSpec): PodEntry {
    const entry: PodEntry = {
      executor: subtract(pod.resources, pod.group?.taskResources ?? []),
      groups: new Map(),
      resizing: Promise.resolve(),
    };
    this.entries.set(pod.id, entry);
    return entry;
  }

  /** The pod's limits: its executor's resources and those of every group it holds. */
  private limits(entry: PodEntry): ContainerLimits {
    const resources = [...entry.executor, ...[...entry.groups.values()].flatMap((group) => group.resources)];
    return containerLimits(resources, undefined, this.options.limits);
  }

  /** Sets the pod's limits to what it holds now, one resize at a time (each reads the total when it runs). */
  private async resize(id: string, entry: PodEntry): Promise<void> {
    const cgroup = new ContainerCgroup(this.options.cgroups, id);
    const resized = entry.resizing.then(() => cgroup.resize(this.limits(entry)));
    entry.resizing = resized.catch(() => undefined);
    await resized;
  }

  private async make(pod: PodSpec, entry: PodEntry): Promise<void> {
    const dir = this.dir(pod.id);
    await mkdir(dir, { recursive: true, mode: 0o700 });
    await new ContainerCgroup(this.options.cgroups, pod.id).create(this.limits(entry), []);
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

  /**
   * A container of the pod is gone. The last one of its group takes the group's resources out of the
   * pod's limits (the executor's stay while any task runs, as Mesos's agent updates an executor's
   * container to its live tasks); the last one of the pod removes the pod.
   */
  async leave(pod: PodSpec): Promise<void> {
    const entry = this.entries.get(pod.id);
    if (entry) {
      const groupId = pod.group?.id ?? '';
      const group = entry.groups.get(groupId);
      if (group) {
        group.containers -= 1;
        if (group.containers > 0) return;
        entry.groups.delete(groupId);
      }
      if (entry.groups.size > 0) {
        // A pod that cannot shrink now keeps its larger limits; the next change sets them again.
        if (group) await this.resize(pod.id, entry).catch(() => undefined);
        return;
      }
    }
    this.entries.delete(pod.id);
    this.pending.delete(pod.id);
    const removal = (this.removing.get(pod.id) ?? Promise.resolve()).then(() => this.remove(pod.id));
    const settled = removal.catch(() => undefined);
    this.removing.set(pod.id, settled);
    try {
      await removal;
    } finally {
      if (this.removing.get(pod.id) === settled) this.removing.delete(pod.id);
    }
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
    const removed = entries.filter((id) => !this.entries.has(id));
    for (const id of removed) await this.remove(id);
    return removed;
  }
}
