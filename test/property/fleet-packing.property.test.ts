/**
 * Properties of the fleet's demand packing (functions/fleet/packing.ts): every task is accounted for
 * once; grouping identical agents and tasks changes nothing (the grouped packing equals packing task
 * by task); the agents needed lie between what the waiting tasks' totals force and one agent per
 * task; no demand means no new agents and every idle agent free for scale-in.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { packDemand, type DemandShape, type FreeAgent } from '../../functions/fleet/packing.js';
import type { Quantities } from '#shared/resources/resources.js';

const RUNS = { numRuns: 300 };

/** Amounts in Mesos's thousandths, like real ones (0.5 cpus, 128 mem). */
const amount = (max: number) => fc.integer({ min: 1, max: max * 10 }).map((n) => n / 10);

const quantitiesOf = (names: Record<string, number>): fc.Arbitrary<Quantities> =>
  fc.record(Object.fromEntries(Object.entries(names).map(([name, max]) => [name, amount(max)])), {
    requiredKeys: [],
  }) as fc.Arbitrary<Quantities>;

const shapeArb: fc.Arbitrary<DemandShape> = fc.record({
  need: quantitiesOf({ cpus: 8, mem: 64, gpus: 4 }).filter((need) => Object.keys(need).length > 0),
  count: fc.integer({ min: 1, max: 6 }),
  gpuAgents: fc.boolean(),
});

const agentArb: fc.Arbitrary<FreeAgent> = fc
  .record({ free: quantitiesOf({ cpus: 16, mem: 128, gpus: 8 }), idle: fc.boolean() })
  .map(({ free, idle }) => ({ free, idle, hasGpus: (free.gpus ?? 0) > 0 }));

/** Sometimes without GPUs (names a fleet shape lacks are not checked on new agents). */
const fleetShapeArb: fc.Arbitrary<Quantities> = fc.record(
  { cpus: amount(16), mem: amount(128), gpus: amount(4) },
  { requiredKeys: ['cpus', 'mem'] },
) as fc.Arbitrary<Quantities>;

describe('packing the demand', () => {
  it('accounts for every task once', () => {
    fc.assert(
      fc.property(
        fc.array(shapeArb, { maxLength: 6 }),
        fc.array(agentArb, { maxLength: 6 }),
        fleetShapeArb,
        (shapes, agents, fleet) => {
          const packing = packDemand(shapes, agents, fleet);
          const total = shapes.reduce((sum, shape) => sum + shape.count, 0);
          expect(packing.placed + packing.waiting + packing.unplaceable).toBe(total);
          expect(packing.idleUnused).toBeLessThanOrEqual(agents.filter((agent) => agent.idle).length);
        },
      ),
      RUNS,
    );
  });

  it('gives the same answer as packing task by task', () => {
    fc.assert(
      fc.property(
        fc.array(shapeArb, { maxLength: 5 }),
        fc.array(agentArb, { maxLength: 5 }),
        fleetShapeArb,
        (shapes, agents, fleet) => {
          const oneByOne = shapes.flatMap((shape) =>
            Array.from({ length: shape.count }, () => ({ ...shape, count: 1 })),
          );
          expect(packDemand(oneByOne, agents, fleet)).toEqual(packDemand(shapes, agents, fleet));
        },
      ),
      RUNS,
    );
  });

  it('needs at least what the waiting totals force, and at most one new agent per waiting task', () => {
    fc.assert(
      fc.property(fc.array(shapeArb, { maxLength: 6 }), fleetShapeArb, (shapes, fleet) => {
        // No agents: every task that a new agent could hold waits.
        const packing = packDemand(shapes, [], fleet);
        const fits = (shape: DemandShape) =>
          (!(fleet.gpus !== undefined && fleet.gpus > 0) || shape.gpuAgents) &&
          Object.keys(shape.need).some((name) => name in fleet) &&
          Object.entries(shape.need).every(([name, need]) => !(name in fleet) || need <= (fleet[name] ?? 0) + 1e-9);
        const waiting = shapes.filter(fits);
        expect(packing.waiting).toBe(waiting.reduce((sum, shape) => sum + shape.count, 0));
        for (const name of Object.keys(fleet)) {
          const total = waiting.reduce((sum, shape) => sum + shape.count * (shape.need[name] ?? 0), 0);
          expect(packing.agentsNeeded).toBeGreaterThanOrEqual(Math.ceil(total / (fleet[name] ?? 1) - 1e-6));
        }
        expect(packing.agentsNeeded).toBeLessThanOrEqual(packing.waiting);
      }),
      RUNS,
    );
  });

  it('needs no new agent and frees every idle agent when nothing is requested', () => {
    fc.assert(
      fc.property(fc.array(agentArb, { maxLength: 8 }), fleetShapeArb, (agents, fleet) => {
        expect(packDemand([], agents, fleet)).toEqual({
          placed: 0,
          waiting: 0,
          waitingGpus: 0,
          agentsNeeded: 0,
          unplaceable: 0,
          idleUnused: agents.filter((agent) => agent.idle).length,
        });
      }),
      RUNS,
    );
  });
});
