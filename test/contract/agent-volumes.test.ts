/**
 * Persistent volumes and disks on a real agent (process tasks, the SQS stand-in): a volume's data
 * outlives the task that wrote it and an agent restart; PATH and MOUNT disks (a real tmpfs mount) are
 * offered with their source, hold the volumes made on them, and give their data up on DESTROY; with
 * --enforce_container_disk_quota a task writing past its disk is killed.
 */
import { execFile } from 'node:child_process';
import { access, mkdir, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { RunningAgent } from '../../agent/agent.js';
import type { AwsClients } from '#shared/aws/clients.js';
import type { Resource } from '#shared/protocol/mesos.js';
import { standInClients } from '../support/aws.js';
import { FakeMaster } from '../support/agent-master.js';
import {
  commandTask,
  launch,
  removeWorkDir,
  resources,
  startTestAgent,
  taskId,
  tempWorkDir,
} from '../support/agent.js';

let clients: AwsClients;
let master: FakeMaster;
let workDir: string;

beforeAll(async () => {
  clients = standInClients();
  master = await new FakeMaster({ sqs: clients.sqs }).start();
  workDir = await tempWorkDir();
});

afterAll(async () => {
  await master?.close();
  clients?.destroy();
  if (workDir) await removeWorkDir(workDir);
});

type Source = NonNullable<NonNullable<Resource['disk']>['source']>;

function volume(id: string, source?: Source, mb = 8): Resource[] {
  return resources(`disk(ml):${mb}`).map((r) => ({
    ...r,
    reservations: [{ type: 'DYNAMIC' as const, role: 'ml' }],
    disk: {
      persistence: { id },
      volume: { mode: 'RW' as const, container_path: 'data' },
      ...(source ? { source } : {}),
    },
  }));
}

async function run(agentId: string, shell: string, persistence: string, source?: Source, mb?: number): Promise<string> {
  const id = taskId('volume');
  const task = commandTask(id, shell, {
    resources: [...resources('cpus:0.1;mem:32'), ...volume(persistence, source, mb)],
  });
  await master.send(agentId, launch(task));
  const ended = await master.until(
    () => master.updates(id).find((u) => ['TASK_FINISHED', 'TASK_FAILED', 'TASK_ERROR'].includes(u.status.state)),
    20_000,
    `${id} to end`,
  );
  return ended.status.state;
}

describe('persistent volumes', () => {
  it('keep their data across tasks and an agent restart', async () => {
    const options = { sqsEndpoint: inject('sqsEndpoint'), workDir, containerizers: ['mesos' as const] };
    let agent: RunningAgent = await startTestAgent(master, options);
    const agentId = await agent.registered;
    expect(await run(agentId, 'echo weights > data/model', 'model')).toBe('TASK_FINISHED');
    expect(await run(agentId, 'test "$(cat data/model)" = weights', 'model')).toBe('TASK_FINISHED');
    expect(await run(agentId, 'test -e data/model', 'other')).toBe('TASK_FAILED');
    await agent.stop();
    agent = await startTestAgent(master, options);
    expect(await agent.registered).toBe(agentId);
    expect(await run(agentId, 'test "$(cat data/model)" = weights', 'model')).toBe('TASK_FINISHED');
    await agent.shutdown();
  });
});

describe('PATH and MOUNT disks', () => {
  const sh = promisify(execFile);
  const exists = (path: string) =>
    access(path).then(
      () => true,
      () => false,
    );

  it('are offered with their source, hold the volumes made on them, and give their data up on DESTROY', async () => {
    const dir = await tempWorkDir();
    const pathRoot = join(dir, 'disks', 'ssd');
    const mountRoot = join(dir, 'disks', 'nvme');
    await mkdir(mountRoot, { recursive: true });
    await sh('mount', ['-t', 'tmpfs', '-o', 'size=16m', 'tmpfs', mountRoot]);
    const path: Source = { type: 'PATH', path: { root: pathRoot } };
    const mount: Source = { type: 'MOUNT', mount: { root: mountRoot } };
    const disk = (mb: number, source?: Source) => ({
      name: 'disk',
      type: 'SCALAR',
      scalar: { value: mb },
      ...(source ? { disk: { source } } : {}),
    });
    const declared = [...resources('cpus:2;mem:2048'), disk(1000), disk(500, path), disk(16, mount)];
    const options = { sqsEndpoint: inject('sqsEndpoint'), workDir: dir, containerizers: ['mesos' as const] };
    try {
      const agent = await startTestAgent(master, { ...options, resources: JSON.stringify(declared) });
      const agentId = await agent.registered;
      const offered = master.registrations.at(-1)?.resources.filter((r) => r.name === 'disk') ?? [];
      expect(offered).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ scalar: { value: 1000 } }),
          expect.objectContaining({ scalar: { value: 500 }, disk: { source: path } }),
          expect.objectContaining({ scalar: { value: 16 }, disk: { source: mount } }),
        ]),
      );
      expect(await run(agentId, 'echo on-ssd > data/f', 'p1', path)).toBe('TASK_FINISHED');
      expect(await readFile(join(pathRoot, 'volumes', 'roles', 'ml', 'p1', 'f'), 'utf8')).toBe('on-ssd\n');
      expect(await run(agentId, 'echo on-nvme > data/f && df -P data/ | tail -1 > data/df', 'm1', mount, 16)).toBe(
        'TASK_FINISHED',
      );
      expect(await readFile(join(mountRoot, 'f'), 'utf8')).toBe('on-nvme\n');
      expect(await readFile(join(mountRoot, 'df'), 'utf8')).toMatch(/^tmpfs/);
      // A volume on a disk this agent does not have is refused, whatever the task says.
      const forged: Source = { type: 'PATH', path: { root: '/etc' } };
      expect(await run(agentId, 'true', 'p2', forged)).toBe('TASK_ERROR');

      await master.send(agentId, {
        type: 'DESTROY_VOLUMES',
        volumes: [
          { role: 'ml', persistence_id: 'p1', source: path },
          { role: 'ml', persistence_id: 'm1', source: mount },
        ],
      });
      await master.until(async () => (await readdir(mountRoot)).length === 0, 10_000, 'the MOUNT disk emptied');
      expect(await exists(join(pathRoot, 'volumes', 'roles', 'ml', 'p1'))).toBe(false);
      expect(await exists(mountRoot)).toBe(true);
      await agent.shutdown();

      const notMounted = { ...options, workDir: join(dir, 'other') };
      const fake = disk(16, { type: 'MOUNT', mount: { root: pathRoot } });
      await expect(
        startTestAgent(master, { ...notMounted, resources: JSON.stringify([...resources('cpus:1;mem:512'), fake]) }),
      ).rejects.toThrow(/is not a mount point/);
    } finally {
      await sh('umount', [mountRoot]).catch(() => undefined);
      await removeWorkDir(dir);
    }
  });
});

describe('the ROOT disk quota (--enforce_container_disk_quota)', () => {
  it('kills a task whose sandbox outgrows its disk, and leaves the others', async () => {
    const dir = await tempWorkDir();
    try {
      const agent = await startTestAgent(master, {
        sqsEndpoint: inject('sqsEndpoint'),
        workDir: dir,
        containerizers: ['mesos'],
        enforceContainerDiskQuota: true,
        containerDiskWatchIntervalMs: 200,
      });
      const agentId = await agent.registered;
      const write = (mb: number) => `dd if=/dev/zero of=blob bs=1M count=${mb} 2>/dev/null; sleep 60`;
      const hog = commandTask(taskId('hog'), write(12), { resources: resources('cpus:0.1;mem:32;disk:5') });
      const fits = commandTask(taskId('fits'), write(1), { resources: resources('cpus:0.1;mem:32;disk:50') });
      const unlimited = commandTask(taskId('nodisk'), write(12), { resources: resources('cpus:0.1;mem:32') });
      for (const task of [hog, fits, unlimited]) await master.send(agentId, launch(task));
      const failed = await master.waitFor(hog.task_id.value, 'TASK_FAILED', 15_000);
      expect(failed.status.reason).toBe('REASON_CONTAINER_LIMITATION_DISK');
      // The watcher may catch dd part way through its 12 MB: any reading over the quota is a true one.
      const usage = /^Disk usage \((\d+(?:\.\d+)?)MB\) exceeds quota \(5MB\)/.exec(failed.status.message ?? '');
      expect(usage, failed.status.message).not.toBeNull();
      expect(Number(usage?.[1])).toBeGreaterThan(5);
      expect(Number(usage?.[1])).toBeLessThanOrEqual(12.1);
      // Running, however late a loaded machine started them; then a few of the watcher's rounds leave them be.
      for (const task of [fits, unlimited]) await master.waitFor(task.task_id.value, 'TASK_RUNNING', 15_000);
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      for (const task of [fits, unlimited]) {
        expect(master.updates(task.task_id.value).map((u) => u.status.state)).not.toContain('TASK_FAILED');
      }
      await agent.shutdown();
    } finally {
      await removeWorkDir(dir);
    }
  });
});
