import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Resource } from '#shared/protocol/mesos.js';
import { scalarResource } from '#shared/resources/resource.js';
import { add, allocate, contains, flatten, quantities, type Quantities } from '#shared/resources/resources.js';
import { subtractScalars } from '#shared/resources/values.js';
import {
  place,
  queueOrder,
  type Offer,
  type PendingJob,
  type Placement,
  type QueueQuota,
} from '../../frameworks/jobs/placement.js';

const RUNS = { numRuns: 400 };
const QUEUES = ['batch', 'gpu'] as const;

function scalars(values: Record<string, number>): Resource[] {
  return add(
    [],
    Object.entries(values)
      .filter(([, value]) => value > 0)
      .map(([name, value]) => scalarResource(name, value)),
  );
}

const offer: fc.Arbitrary<Omit<Offer, 'id' | 'agentId' | 'hostname'>> = fc
  .record({
    role: fc.constantFrom(...QUEUES),
    cpus: fc.integer({ min: 0, max: 16 }).map((half) => half / 2),
    mem: fc.integer({ min: 0, max: 8 }).map((n) => n * 256),
    gpus: fc.integer({ min: 0, max: 2 }),
  })
  .map(({ role, ...values }) => ({ role, resources: allocate(scalars(values), role) }));

const offers: fc.Arbitrary<Offer[]> = fc
  .array(offer, { maxLength: 6 })
  .map((list) => list.map((each, i) => ({ ...each, id: `o${i}`, agentId: `a${i}`, hostname: `h${i}` })));

const job = fc.record({
  queue: fc.constantFrom(...QUEUES),
  priority: fc.integer({ min: 0, max: 3 }),
  second: fc.integer({ min: 0, max: 5 }),
  cpus: fc.integer({ min: 1, max: 8 }).map((half) => half / 2),
  mem: fc.integer({ min: 1, max: 4 }).map((n) => n * 128),
  gpus: fc.constantFrom(0, 0, 1),
  gang: fc.constantFrom(null, null, 1, 2, 3, 4),
});

const jobs: fc.Arbitrary<PendingJob[]> = fc.array(job, { maxLength: 20 }).map((list) =>
  list.map(({ queue, priority, second, gang, ...values }, i) => ({
    id: `j${String(i).padStart(2, '0')}`,
    queue,
    priority,
    created_at: new Date(Date.UTC(2026, 11, 5, 0, 0, second)).toISOString(),
    resources: scalars(values),
    gang,
  })),
);

const quotas: fc.Arbitrary<Map<string, QueueQuota>> = fc
  .array(
    fc.record({
      queue: fc.constantFrom(...QUEUES),
      cpus: fc.integer({ min: 0, max: 16 }),
      gpus: fc.integer({ min: 0, max: 3 }),
      used: fc.integer({ min: 0, max: 4 }),
    }),
    { maxLength: 2 },
  )
  .map(
    (list) =>
      new Map(list.map(({ queue, cpus, gpus, used }) => [queue, { limits: { cpus, gpus }, used: { cpus: used } }])),
  );

const input = fc.record({ jobs, offers, quotas });

function launchesOf(result: Placement, id: string): Placement['launches'] {
  return result.launches.filter((launch) => launch.jobId === id);
}

function fits(available: Quantities, need: Quantities): boolean {
  return Object.entries(need).every(([name, value]) => subtractScalars(available[name] ?? 0, value) >= 0);
}

describe('job placement (property tests)', () => {
  it('never over-commits an offer: what launches take plus what remains is the offer', () => {
    fc.assert(
      fc.property(input, ({ jobs: pending, offers: offered, quotas: limits }) => {
        const result = place({ jobs: pending, offers: offered, quotas: limits });
        for (const each of offered) {
          const taken = result.launches.filter((launch) => launch.offerId === each.id).flatMap((l) => l.resources);
          const total = add(taken, result.remaining.get(each.id) ?? []);
          expect(contains(each.resources, total) && contains(total, each.resources)).toBe(true);
        }
      }),
      RUNS,
    );
  });

  it("each job is placed whole (one task, or all of its gang) on its queue's offers, or waits with a reason", () => {
    fc.assert(
      fc.property(input, ({ jobs: pending, offers: offered, quotas: limits }) => {
        const result = place({ jobs: pending, offers: offered, quotas: limits });
        const roles = new Map(offered.map((each) => [each.id, each.role]));
        for (const each of pending) {
          const launches = launchesOf(result, each.id);
          expect(launches.length === 0 || launches.length === (each.gang ?? 1)).toBe(true);
          expect(launches.length > 0).toBe(!result.pending.has(each.id));
          expect(launches.map((launch) => launch.gangIndex)).toEqual(
            launches.map((_, i) => (each.gang === null ? null : i)),
          );
          for (const launch of launches) {
            expect(roles.get(launch.offerId)).toBe(each.queue);
            expect(quantities(flatten(launch.resources))).toEqual(quantities(each.resources));
          }
        }
      }),
      RUNS,
    );
  });

  it('within a queue, the placed jobs are a prefix of its order, and the first left waits for its own reason', () => {
    fc.assert(
      fc.property(input, ({ jobs: pending, offers: offered, quotas: limits }) => {
        const result = place({ jobs: pending, offers: offered, quotas: limits });
        for (const queue of QUEUES) {
          const ordered = pending.filter((each) => each.queue === queue).sort(queueOrder);
          const placed = ordered.map((each) => !result.pending.has(each.id));
          const firstLeft = placed.indexOf(false);
          if (firstLeft < 0) continue;
          expect(placed.slice(firstLeft).every((isPlaced) => !isPlaced)).toBe(true);
          expect(result.pending.get(ordered[firstLeft]?.id as string)?.code).not.toBe('PRIORITY');
          for (const later of ordered.slice(firstLeft + 1)) expect(result.pending.get(later.id)?.code).toBe('PRIORITY');
        }
      }),
      RUNS,
    );
  });

  it('the head left waiting truly does not fit what its queue was offered (or its quota)', () => {
    fc.assert(
      fc.property(input, ({ jobs: pending, offers: offered, quotas: limits }) => {
        const result = place({ jobs: pending, offers: offered, quotas: limits });
        for (const queue of QUEUES) {
          const head = pending
            .filter((each) => each.queue === queue)
            .sort(queueOrder)
            .find((each) => result.pending.has(each.id));
          if (head === undefined || result.pending.get(head.id)?.code === 'QUOTA') continue;
          const need = quantities(head.resources);
          let slots = 0;
          for (const each of offered.filter((candidate) => candidate.role === queue)) {
            let available = quantities(flatten(result.remaining.get(each.id) ?? []));
            while (fits(available, need) && slots < 1000) {
              slots++;
              available = Object.fromEntries(
                Object.entries(available).map(([name, value]) => [name, subtractScalars(value, need[name] ?? 0)]),
              );
            }
          }
          expect(slots).toBeLessThan(head.gang ?? 1);
        }
      }),
      RUNS,
    );
  });

  it('never passes a queue quota limit', () => {
    fc.assert(
      fc.property(input, ({ jobs: pending, offers: offered, quotas: limits }) => {
        const result = place({ jobs: pending, offers: offered, quotas: limits });
        for (const [queue, quota] of limits) {
          const queued = new Set(pending.filter((each) => each.queue === queue).map((each) => each.id));
          const used = quantities(
            flatten(result.launches.filter((launch) => queued.has(launch.jobId)).flatMap((l) => l.resources)),
          );
          // A queue already past its limit (the limit was lowered) gets nothing more of that resource.
          for (const [name, limit] of Object.entries(quota.limits)) {
            if ((used[name] ?? 0) > 0) expect((used[name] ?? 0) + (quota.used[name] ?? 0)).toBeLessThanOrEqual(limit);
          }
        }
      }),
      RUNS,
    );
  });
});
