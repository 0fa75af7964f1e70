import { mkdtemp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ContainerCgroup, detectCgroups } from '../../agent/isolation/cgroups.js';
import { cgroupWrites, containerLimits, gpuDenyRules, sharesToWeight } from '../../agent/isolation/limits.js';
import { resources } from '../support/agent.js';

const options = { enableCfs: true, pidsLimit: 4096 };

describe('container limits from task resources (Mesos cgroups isolators)', () => {
  it('gives shares and a CFS quota from cpus, a hard memory limit from mem, and pids', () => {
    expect(containerLimits(resources('cpus:0.5;mem:64'), undefined, options)).toEqual({
      cpuShares: 512,
      cpuPeriodUs: 100_000,
      cpuQuotaUs: 50_000,
      memoryBytes: 64 * 1024 * 1024,
      pids: 4096,
    });
  });

  it('counts every role and applies Mesos minimums', () => {
    const limits = containerLimits(resources('cpus:0.001;cpus(ml):0.001;mem:1'), undefined, {
      enableCfs: true,
      pidsLimit: 0,
    });
    expect(limits.cpuShares).toBe(2);
    expect(limits.cpuQuotaUs).toBe(1_000);
    expect(limits.memoryBytes).toBe(32 * 1024 * 1024);
    expect(limits.pids).toBeUndefined();
  });

  it('has no quota without CFS, and takes limits.cpus / limits.mem over the requests', () => {
    expect(
      containerLimits(resources('cpus:1;mem:128'), undefined, { enableCfs: false, pidsLimit: 0 }).cpuQuotaUs,
    ).toBeUndefined();
    const limited = containerLimits(resources('cpus:1;mem:128'), { cpus: { value: 2 }, mem: { value: 256 } }, options);
    expect(limited).toMatchObject({
      cpuShares: 1024,
      cpuQuotaUs: 200_000,
      memoryBytes: 256 * 1024 * 1024,
      memorySoftBytes: 128 * 1024 * 1024,
    });
    const unlimited = containerLimits(
      resources('cpus:1;mem:128'),
      { cpus: { value: Infinity }, mem: { value: Infinity } },
      options,
    );
    expect(unlimited.cpuQuotaUs).toBeUndefined();
    expect(unlimited.memoryBytes).toBeUndefined();
    expect(unlimited.memorySoftBytes).toBe(128 * 1024 * 1024);
  });

  it('writes v1 files, memory before memory+swap', () => {
    const writes = cgroupWrites('v1', containerLimits(resources('cpus:2;mem:100'), undefined, options));
    expect(writes.map((w) => `${w.controller}/${w.file}=${w.value}`)).toEqual([
      'cpu/cpu.shares=2048',
      'cpu/cpu.cfs_period_us=100000',
      'cpu/cpu.cfs_quota_us=200000',
      'memory/memory.limit_in_bytes=104857600',
      'memory/memory.memsw.limit_in_bytes=104857600',
      'pids/pids.max=4096',
    ]);
  });

  it('writes v2 files, with weights converted from shares and no swap', () => {
    const writes = cgroupWrites(
      'v2',
      containerLimits(resources('cpus:1;mem:100'), { mem: { value: Infinity } }, options),
    );
    expect(Object.fromEntries(writes.map((w) => [w.file, w.value]))).toEqual({
      'cpu.weight': String(sharesToWeight(1024)),
      'cpu.max': '100000 100000',
      'memory.low': '104857600',
      'memory.max': 'max',
      'memory.swap.max': '0',
      'pids.max': '4096',
    });
    expect(sharesToWeight(2)).toBe(1);
    expect(sharesToWeight(262_144)).toBe(10_000);
  });

  it('hides every GPU but the allocated ones in the devices cgroup', () => {
    expect(gpuDenyRules([0, 1, 2, 3], [1, 3], 195)).toEqual(['c 195:0 rwm', 'c 195:2 rwm']);
    expect(gpuDenyRules([0, 1], [], 195)).toHaveLength(2);
  });
});

describe('cgroup detection and per-container cgroups (on a fake hierarchy)', () => {
  const roots: string[] = [];
  const fakeRoot = async (kind: string) => {
    const root = await mkdtemp(join(tmpdir(), `mantle-cgroup-${kind}-`));
    roots.push(root);
    return root;
  };
  afterAll(async () => {
    for (const root of roots) await rm(root, { recursive: true, force: true });
  });

  async function fakeV1(withDevices: boolean) {
    const root = await fakeRoot('v1');
    for (const controller of ['cpu', 'memory', 'pids', ...(withDevices ? ['devices'] : [])]) {
      await mkdir(join(root, controller), { recursive: true });
    }
    await writeFile(join(root, 'memory', 'memory.limit_in_bytes'), '9223372036854771712');
    if (withDevices) await writeFile(join(root, 'devices', 'devices.deny'), '');
    return root;
  }

  it('finds v1, notes the missing swap accounting, and writes the limits', async () => {
    const root = await fakeV1(true);
    const support = await detectCgroups(root, 'mantle');
    expect(support.version).toBe('v1');
    expect(support.devices).toBe(join(root, 'devices', 'mantle'));
    expect(support.notes.join('\n')).toMatch(/no swap accounting/);
    const cgroup = new ContainerCgroup(support, 'c1');
    await cgroup.create(containerLimits(resources('cpus:0.5;mem:64'), undefined, options), ['c 195:0 rwm']);
    expect(await readFile(join(root, 'cpu', 'mantle', 'c1', 'cpu.shares'), 'utf8')).toBe('512');
    expect(await readFile(join(root, 'memory', 'mantle', 'c1', 'memory.limit_in_bytes'), 'utf8')).toBe(
      String(64 * 1024 * 1024),
    );
    expect(await readFile(join(root, 'pids', 'mantle', 'c1', 'pids.max'), 'utf8')).toBe('4096');
    expect(await readFile(join(root, 'devices', 'mantle', 'c1', 'devices.deny'), 'utf8')).toBe('c 195:0 rwm');
    await writeFile(
      join(root, 'memory', 'mantle', 'c1', 'memory.oom_control'),
      'oom_kill_disable 0\nunder_oom 0\noom_kill 1\n',
    );
    expect(await cgroup.oomKilled()).toBe(true);
  });

  it('finds v2 and enables its controllers', async () => {
    const root = await fakeRoot('v2');
    await writeFile(join(root, 'cgroup.controllers'), 'cpuset cpu io memory hugetlb\n');
    const support = await detectCgroups(root, 'mantle');
    expect(support.version).toBe('v2');
    expect([...support.bases.keys()]).toEqual(['cpu', 'memory']);
    expect(await readFile(join(root, 'cgroup.subtree_control'), 'utf8')).toBe('+cpu +memory');
    expect(support.notes.join('\n')).toMatch(/pids controller is not available/);
    const cgroup = new ContainerCgroup(support, 'c2');
    await cgroup.create(containerLimits(resources('cpus:1;mem:64'), undefined, options), []);
    expect(await readFile(join(root, 'mantle', 'c2', 'memory.max'), 'utf8')).toBe(String(64 * 1024 * 1024));
    expect(await readFile(join(root, 'mantle', 'c2', 'cpu.max'), 'utf8')).toBe('100000 100000');
    await writeFile(join(root, 'mantle', 'c2', 'memory.events'), 'low 0\nhigh 0\nmax 3\noom 1\noom_kill 0\n');
    expect(await cgroup.oomKilled()).toBe(false);
  });

  it('resizes a v2 container: CPU and memory follow, a hard memory limit only down to what is in use', async () => {
    const root = await fakeRoot('v2');
    await writeFile(join(root, 'cgroup.controllers'), 'cpu memory\n');
    const cgroup = new ContainerCgroup(await detectCgroups(root, 'mantle'), 'c3');
    const read = (file: string) => readFile(join(root, 'mantle', 'c3', file), 'utf8');
    await cgroup.create(containerLimits(resources('cpus:0.2;mem:96'), undefined, options), []);
    await writeFile(join(root, 'mantle', 'c3', 'memory.current'), String(40 * 1024 * 1024));
    expect(await cgroup.resize(containerLimits(resources('cpus:0.7;mem:160'), undefined, options))).toBe(true);
    expect([await read('cpu.max'), await read('memory.max')]).toEqual(['70000 100000', String(160 * 1024 * 1024)]);
    expect(await cgroup.resize(containerLimits(resources('cpus:0.1;mem:32'), undefined, options))).toBe(false);
    expect([await read('cpu.max'), await read('memory.max')]).toEqual(['10000 100000', String(160 * 1024 * 1024)]);
    expect(await cgroup.resize(containerLimits(resources('cpus:0.1;mem:64'), undefined, options))).toBe(true);
    expect(await read('memory.max')).toBe(String(64 * 1024 * 1024));
  });

  it('says so when there is no hierarchy', async () => {
    const root = await fakeRoot('none');
    const support = await detectCgroups(root, 'mantle');
    expect(support.version).toBe('none');
    expect(support.notes[0]).toMatch(/no cgroup hierarchy/);
  });
});
