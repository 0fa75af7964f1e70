import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { nestedLimits, podSpec, Pods } from '../../agent/isolation/pods.js';
import { containerLimits } from '../../agent/isolation/limits.js';
import { commandTask, resources } from '../support/agent.js';
import type { ExecutorInfo } from '#shared/protocol/mesos.js';
import { subtract } from '#shared/resources/resources.js';

const options = { enableCfs: true, pidsLimit: 4096 };
const executor: ExecutorInfo = {
  type: 'DEFAULT',
  executor_id: { value: 'e' },
  resources: resources('cpus:0.1;mem:32'),
};

describe('a task group as a pod', () => {
  it("holds the executor's resources and every task's, in its own network namespace", () => {
    const tasks = [
      commandTask('a', 'true', { resources: resources('cpus:0.5;mem:64') }),
      commandTask('b', 'true', { resources: resources('cpus(ml):1;mem:128') }),
    ];
    const pod = podSpec('fw', executor, 'launch-1', tasks);
    expect(pod.network).toBe('pod');
    expect(pod.id).toMatch(/^pod-[0-9a-f]{20}$/);
    expect(containerLimits(pod.resources, undefined, options)).toMatchObject({
      cpuQuotaUs: 160_000,
      memoryBytes: 224 * 1024 * 1024,
    }); // Named by its first task; a later group joining the pod adds only its tasks' resources.
    expect(pod.group).toEqual({
      id: 'a',
      taskResources: [...resources('cpus:0.5;mem:64'), ...resources('cpus(ml):1;mem:128')],
    });
  });

  it('is one per launch of an executor, the same when asked again', () => {
    const ids = [
      podSpec('fw', executor, 'launch-1', []).id,
      podSpec('fw', executor, 'launch-2', []).id,
      podSpec('fw2', executor, 'launch-1', []).id,
    ];
    expect(new Set(ids).size).toBe(3);
    expect(podSpec('fw', executor, 'launch-1', []).id).toBe(ids[0]);
  });

  it("joins a running executor's pod (its id and network) with its own group's resources", () => {
    const running = podSpec(
      'fw',
      { ...executor, container: { type: 'MESOS', network_infos: [{ name: 'host' }] } },
      'l1',
      [],
    );
    const task = commandTask('c', 'true', { resources: resources('cpus:0.5;mem:64') });
    const joined = podSpec('fw', executor, 'l2', [task], running);
    expect(joined).toMatchObject({ id: running.id, network: 'host', group: { id: 'c' } });
    // The executor's part is what the pod keeps while any group runs.
    expect(subtract(joined.resources, joined.group?.taskResources ?? [])).toEqual(executor.resources);
  });

  it("keeps the host's network when the executor's ContainerInfo names the network 'host'", () => {
    const host = { ...executor, container: { type: 'MESOS' as const, network_infos: [{ name: 'host' }] } };
    expect(podSpec('fw', host, 'l', []).network).toBe('host');
    const other = { ...executor, container: { type: 'MESOS' as const, network_infos: [{ name: 'cni' }] } };
    expect(podSpec('fw', other, 'l', []).network).toBe('pod');
  });

  it("gives a nested task no limits of its own unless it opts out of sharing the pod's cgroups", () => {
    const task = commandTask('a', 'true', { resources: resources('cpus:0.5;mem:64') });
    expect(nestedLimits(task, options)).toEqual({ cpuShares: 1024, cpuPeriodUs: 100_000, pids: 4096 });
    const own = { ...task, container: { type: 'MESOS' as const, linux_info: { share_cgroups: false } } };
    expect(nestedLimits(own, options)).toEqual(containerLimits(task.resources ?? [], undefined, options));
  });
});

describe("an agent's pods, on a stand-in cgroup v1 tree (Pods)", () => {
  let root: string;
  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'mantle-pods-'));
  });
  afterEach(() => rm(root, { recursive: true, force: true }));

  /** A Pods of this agent run (a new one: the agent restarted), and a pod's memory limit in MB. */
  const agentRun = () =>
    new Pods({
      meta: join(root, 'meta'),
      cgroups: { version: 'v1', bases: new Map([['memory', join(root, 'memory')]]), notes: [] },
      limits: options,
    });
  const limitMb = async (id: string) =>
    Number(await readFile(join(root, 'memory', id, 'memory.limit_in_bytes'), 'utf8')) / (1024 * 1024);
  const made = () => readdir(join(root, 'meta', 'pods')).catch(() => [] as string[]);
  // The host's network: no namespace to make (that needs root).
  const hostExecutor: ExecutorInfo = { ...executor, container: { type: 'MESOS', network_infos: [{ name: 'host' }] } };
  const task = (id: string, mb: number) => commandTask(id, 'true', { resources: resources(`cpus:0.1;mem:${mb}`) });

  it("grows by a group new to it, shrinks back at the group's last container, and goes with its last", async () => {
    const pods = agentRun();
    const first = podSpec('fw', hostExecutor, 'l1', [task('a', 64)]);
    const second = podSpec('fw', hostExecutor, 'l2', [task('b', 128), task('c', 128)], first);
    await pods.enter(first);
    expect(await limitMb(first.id)).toBe(96);
    await pods.enter(second);
    await pods.enter(second);
    expect(await limitMb(first.id)).toBe(352);
    await pods.leave(second);
    expect(await limitMb(first.id)).toBe(352);
    await pods.leave(second);
    expect(await limitMb(first.id)).toBe(96);
    // A container of a group the pod does not hold changes nothing.
    await pods.leave(podSpec('fw', hostExecutor, 'l3', [task('x', 32)], first));
    expect(await made()).toEqual([first.id]);
    await pods.leave(first);
    expect(await made()).toEqual([]);
  });

  it('knows the groups of its recovered containers again: a group joining after a restart adds to them', async () => {
    const first = podSpec('fw', hostExecutor, 'l1', [task('a', 64)]);
    await agentRun().enter(first);
    const pods = agentRun();
    await pods.enter(first, false);
    const second = podSpec('fw', hostExecutor, 'l2', [task('b', 128)], first);
    await pods.enter(second);
    expect(await limitMb(first.id)).toBe(224);
    await pods.leave(second);
    expect(await limitMb(first.id)).toBe(96);
  });

  it('makes a pod entered while it is being removed again once the removal is done', async () => {
    const pods = agentRun();
    const first = podSpec('fw', hostExecutor, 'l1', [task('a', 64)]);
    await pods.enter(first);
    await Promise.all([pods.leave(first), pods.enter(first)]);
    expect(await made()).toEqual([first.id]);
    expect(await limitMb(first.id)).toBe(96);
  });
});
