/** Persistent volumes in offers: only to their role (and its subroles), never while a task holds one. */
import { describe, expect, it } from 'vitest';
import { Allocator } from '../../functions/allocator/allocator.js';
import type { Resource } from '#shared/protocol/mesos.js';
import { contains, persistentVolumes } from '#shared/resources/resources.js';
import { agent, framework, NOW, resources, seeded } from '../support/allocator.js';

const volume: Resource = {
  ...(resources('disk(ml):100')[0] as Resource),
  disk: { persistence: { id: 'weights' }, volume: { container_path: 'data', mode: 'RW' } },
};

function offers(held: boolean) {
  const a = agent('a1', [...resources('cpus:4;mem:1024'), volume], {
    ...(held ? { tasks: [{ frameworkId: 'fw-ml', role: 'ml', resources: [volume] }] } : {}),
  });
  return new Allocator().allocate(
    {
      agents: [a],
      frameworks: [framework('fw-web', { roles: ['web'] }), framework('fw-ml', { roles: ['ml'] })],
      roles: [],
      now: NOW,
    },
    { random: seeded(3) },
  ).offers;
}

describe('persistent volumes in offers', () => {
  it('are offered to their role only', () => {
    const made = offers(false);
    const ml = made.find((offer) => offer.frameworkId === 'fw-ml');
    expect(
      ml &&
        contains(
          ml.resources.map(({ allocation_info: _a, ...r }) => r),
          [volume],
        ),
    ).toBe(true);
    for (const offer of made.filter((o) => o.frameworkId !== 'fw-ml'))
      expect(persistentVolumes(offer.resources)).toEqual([]);
  });

  it('are not offered while a task holds them', () => {
    for (const offer of offers(true)) expect(persistentVolumes(offer.resources)).toEqual([]);
  });
});
