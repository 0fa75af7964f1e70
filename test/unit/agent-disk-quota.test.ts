import { describe, expect, it } from 'vitest';
import { diskLimitation, formatBytes, quotaTargets, rootDiskMb, type QuotaTask } from '../../agent/disk-quota.js';
import type { Resource } from '#shared/protocol/mesos.js';
import { resources } from '../support/agent.js';

const MB = 1024 * 1024;

function task(sandboxRun: string, text: string, extra: Resource[] = [], terminated = false): QuotaTask {
  return { sandboxRun, resources: [...resources(text), ...extra], terminated, kill: () => Promise.resolve() };
}

describe('the ROOT disk quota (disk/du)', () => {
  it('counts only ROOT disk: not persistent volumes, not PATH or MOUNT disks', () => {
    const volume = { ...(resources('disk:100')[0] as Resource), disk: { persistence: { id: 'v' } } };
    const mount = {
      ...(resources('disk:100')[0] as Resource),
      disk: { source: { type: 'MOUNT' as const, mount: { root: '/m' } } },
    };
    expect(rootDiskMb([...resources('cpus:1;disk:10;disk(ml):2.5'), volume, mount])).toBe(12.5);
  });

  it("measures a task group's run once, against the sum of its live tasks' disk; leaves runs without disk out", () => {
    const targets = quotaTargets([
      task('/g', 'disk:10'),
      task('/g', 'disk:5'),
      task('/g', 'disk:100', [], true),
      task('/c', 'cpus:1'),
      task('/d', 'disk:1'),
    ]);
    expect(targets.map((t) => [t.sandbox, t.quotaBytes, t.tasks.length])).toEqual([
      ['/g', 15 * MB, 2],
      ['/d', 1 * MB, 1],
    ]);
  });

  it('says what Mesos says, only past the quota', () => {
    expect(diskLimitation(10 * MB, 10 * MB)).toBeUndefined();
    expect(diskLimitation(12 * MB + 512 * 1024, 10 * MB)).toBe('Disk usage (12.5MB) exceeds quota (10MB)');
    expect(formatBytes(3 * 1024 ** 3)).toBe('3GB');
    expect(formatBytes(1536)).toBe('1.5KB');
    expect(formatBytes(12)).toBe('12B');
  });
});
