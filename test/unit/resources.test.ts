import { describe, expect, it } from 'vitest';
import type { Resource } from '#shared/protocol/mesos.js';
import { parseResources, parseResourceText } from '#shared/resources/parse.js';
import {
  canonicalResource,
  downgradeResource,
  isAllocatableTo,
  rangesResource,
  scalarResource,
  validateResource,
} from '#shared/resources/resource.js';
import {
  add,
  allocatableTo,
  allocationRole,
  contains,
  equals,
  flatten,
  popReservation,
  pushReservation,
  quantities,
  reserved,
  scalarTotal,
  subtract,
  unreserved,
} from '#shared/resources/resources.js';
import { resources as parsed } from '../support/resources.js';

function rejection(input: unknown): string {
  const result = parseResources(input);
  if (result.ok) throw new Error(`expected ${JSON.stringify(input)} to be rejected`);
  expect(result.error.code).toBe('INVALID_RESOURCES');
  return result.error.message;
}

describe('validation with the Mesos rules', () => {
  it('rejects negative, NaN-like, infinite and vanishing scalars', () => {
    expect(rejection([{ name: 'cpus', type: 'SCALAR', scalar: { value: -1 } }])).toMatch(/value < 0/);
    expect(rejection([{ name: 'cpus', type: 'SCALAR', scalar: { value: 'Infinity' } }])).toMatch(/not a finite/);
    expect(rejection([{ name: 'cpus', type: 'SCALAR', scalar: { value: 'NaN' } }])).toMatch(/expected a number/);
    expect(rejection([{ name: 'cpus', type: 'SCALAR', scalar: { value: 0.0001 } }])).toMatch(/rounded to 0/);
    expect(rejection([{ name: 'mem', type: 'SCALAR', scalar: { value: 1e300 } }])).toMatch(/value >/);
  });

  it('rejects a value that does not match the type, and unknown or TEXT types', () => {
    expect(rejection([{ name: 'cpus', type: 'SCALAR', ranges: { range: [] } }])).toMatch(/Invalid scalar/);
    expect(rejection([{ name: 'x', type: 'TEXT', text: { value: 'a' } }])).toMatch(/Unsupported resource type/);
    expect(rejection([{ name: 'x', type: 'BLOB', scalar: { value: 1 } }])).toMatch(/unknown enum value "BLOB"/);
    expect(rejection([{ name: '', type: 'SCALAR', scalar: { value: 1 } }])).toMatch(/Empty resource name/);
  });

  it('rejects inverted and overlapping ranges, and duplicate set items', () => {
    expect(rejection([{ name: 'ports', type: 'RANGES', ranges: { range: [{ begin: 9, end: 1 }] } }])).toMatch(
      /begin > end/,
    );
    expect(
      rejection([
        {
          name: 'ports',
          type: 'RANGES',
          ranges: {
            range: [
              { begin: 1, end: 10 },
              { begin: 5, end: 20 },
            ],
          },
        },
      ]),
    ).toMatch(/overlapping/);
    expect(rejection([{ name: 'ports', type: 'RANGES', ranges: { range: [{ begin: -1, end: 3 }] } }])).toMatch(
      /unsigned/,
    );
    expect(rejection([{ name: 'bugs', type: 'SET', set: { item: ['a', 'a'] } }])).toMatch(/duplicated/);
  });

  it('requires a whole number of GPUs in total, as Mesos validateGpus does', () => {
    expect(rejection([{ name: 'gpus', type: 'SCALAR', scalar: { value: 0.5 } }])).toMatch(
      /'gpus' resource must be an unsigned integer/,
    );
    // The check is on the sum: two halves make one GPU.
    const halves = parseResources([
      { name: 'gpus', type: 'SCALAR', scalar: { value: 0.5 }, role: 'ml' },
      { name: 'gpus', type: 'SCALAR', scalar: { value: 0.5 } },
    ]);
    expect(halves.ok).toBe(true);
  });

  it('rejects the same name with different types', () => {
    expect(
      rejection([
        { name: 'ports', type: 'SCALAR', scalar: { value: 1 } },
        { name: 'ports', type: 'RANGES', ranges: { range: [{ begin: 1, end: 2 }] } },
      ]),
    ).toMatch(/different types/);
  });

  it('checks reservations: valid roles, no "*", only refinements, only the first STATIC', () => {
    expect(rejection([{ name: 'cpus', type: 'SCALAR', scalar: { value: 1 }, role: '-bad' }])).toMatch(/dash/);
    expect(
      rejection([{ name: 'cpus', type: 'SCALAR', scalar: { value: 1 }, role: '*', reservation: { principal: 'p' } }]),
    ).toMatch(/cannot be dynamically reserved/);
    expect(
      rejection([
        { name: 'cpus', type: 'SCALAR', scalar: { value: 1 }, reservations: [{ type: 'STATIC', role: '*' }] },
      ]),
    ).toMatch(/cannot be reserved/);
    expect(
      rejection([
        {
          name: 'cpus',
          type: 'SCALAR',
          scalar: { value: 1 },
          reservations: [
            { type: 'STATIC', role: 'eng' },
            { type: 'DYNAMIC', role: 'ml' },
          ],
        },
      ]),
    ).toMatch(/not a refinement of 'eng'/);
    expect(
      rejection([
        {
          name: 'cpus',
          type: 'SCALAR',
          scalar: { value: 1 },
          reservations: [
            { type: 'DYNAMIC', role: 'eng' },
            { type: 'STATIC', role: 'eng/a' },
          ],
        },
      ]),
    ).toMatch(/cannot be STATIC/);
    expect(
      rejection([{ name: 'cpus', type: 'SCALAR', scalar: { value: 1 }, reservations: [{ role: 'eng' }] }]),
    ).toMatch(/type' field must be set/);
    expect(
      rejection([
        {
          name: 'cpus',
          type: 'SCALAR',
          scalar: { value: 1 },
          role: 'ml',
          reservations: [{ type: 'STATIC', role: 'eng' }],
        },
      ]),
    ).toMatch(/does not match/);
  });

  it('checks disks, persistent volumes, sharing and revocability', () => {
    expect(
      rejection([{ name: 'cpus', type: 'SCALAR', scalar: { value: 1 }, disk: { persistence: { id: 'v' } } }]),
    ).toMatch(/DiskInfo should not be set for cpus/);
    expect(
      rejection([
        {
          name: 'disk',
          type: 'SCALAR',
          scalar: { value: 1 },
          disk: { persistence: { id: 'v' }, volume: { mode: 'RW', container_path: 'd' } },
        },
      ]),
    ).toMatch(/unreserved/);
    expect(rejection([{ name: 'mem', type: 'SCALAR', scalar: { value: 1 }, shared: {} }])).toMatch(/cannot be shared/);
    expect(rejection([{ name: 'disk', type: 'SCALAR', scalar: { value: 1 }, shared: {} }])).toMatch(
      /Only persistent volumes/,
    );
    expect(
      rejection([
        {
          name: 'cpus',
          type: 'SCALAR',
          scalar: { value: 1 },
          role: 'ml',
          reservation: { principal: 'p' },
          revocable: {},
        },
      ]),
    ).toMatch(/cannot be revocable/);
    expect(
      rejection([
        { name: 'disk', type: 'SCALAR', scalar: { value: 1 }, disk: { source: { type: 'BLOCK', path: {} } } },
      ]),
    ).toMatch(/should not be set for BLOCK/);
  });

  it('never throws on hostile input', () => {
    for (const input of [
      null,
      42,
      'cpus:1',
      {},
      [null],
      [{}],
      [{ name: {}, type: [] }],
      [{ name: 'x', type: 'SCALAR' }],
    ]) {
      expect(parseResources(input).ok).toBe(false);
    }
  });
});

describe('reservation formats', () => {
  it('upgrades the pre-refinement format to the reservation stack', () => {
    const result = parseResources([
      { name: 'cpus', type: 'SCALAR', scalar: { value: 2 }, role: 'ml' },
      { name: 'mem', type: 'SCALAR', scalar: { value: 64 }, role: 'ml', reservation: { principal: 'alice' } },
    ]);
    if (!result.ok) throw new Error(result.error.message);
    const [staticCpus, dynamicMem] = result.value;
    expect(staticCpus).toEqual({
      name: 'cpus',
      type: 'SCALAR',
      scalar: { value: 2 },
      reservations: [{ type: 'STATIC', role: 'ml' }],
    });
    expect(dynamicMem?.reservations).toEqual([{ type: 'DYNAMIC', role: 'ml', principal: 'alice' }]);
    expect(dynamicMem).not.toHaveProperty('role');
  });

  it('downgrades for frameworks without RESERVATION_REFINEMENT, hiding refined reservations', () => {
    expect(downgradeResource(scalarResource('cpus', 1))).toMatchObject({ role: '*' });
    expect(downgradeResource(scalarResource('cpus', 1, { role: 'ml' }))).toEqual({
      name: 'cpus',
      type: 'SCALAR',
      scalar: { value: 1 },
      role: 'ml',
    });
    const dynamic = scalarResource('cpus', 1, { reservations: [{ type: 'DYNAMIC', role: 'ml', principal: 'p' }] });
    expect(downgradeResource(dynamic)).toMatchObject({ role: 'ml', reservation: { principal: 'p' } });
    const refined = scalarResource('cpus', 1, {
      reservations: [
        { type: 'STATIC', role: 'eng' },
        { type: 'DYNAMIC', role: 'eng/a' },
      ],
    });
    expect(downgradeResource(refined)).toBeUndefined();
    // Both formats together are fine when consistent (what a downgraded offer looks like).
    const both = downgradeResource(dynamic) as Resource;
    expect(validateResource({ ...both, reservations: dynamic.reservations })).toBeUndefined();
  });

  it('allocates reserved resources to the role and its descendants only', () => {
    const eng = scalarResource('cpus', 1, { role: 'eng' });
    expect(isAllocatableTo(eng, 'eng')).toBe(true);
    expect(isAllocatableTo(eng, 'eng/backend')).toBe(true);
    expect(isAllocatableTo(eng, 'engineering')).toBe(false);
    expect(isAllocatableTo(eng, 'ml')).toBe(false);
    expect(isAllocatableTo(scalarResource('cpus', 1), 'anyone')).toBe(true);
  });
});

describe('the agent flag text form', () => {
  it('parses scalars, ranges, sets and static reservations', () => {
    const resources = parsed('cpus:4;mem:8192;gpus:1;ports:[31000-32000, 33000-33010];cpus(ml):2;bugs:{a,b,c}');
    expect(quantities(resources)).toEqual({ cpus: 6, mem: 8192, gpus: 1, ports: 1012, bugs: 3 });
    expect(reserved(resources, 'ml')).toEqual([scalarResource('cpus', 2, { role: 'ml' })]);
    expect(scalarTotal(unreserved(resources), 'cpus')).toBe(4);
  });

  it('applies the default role and accepts the JSON array form', () => {
    expect(parseResourceText('cpus:1', 'batch')).toEqual({
      ok: true,
      value: [scalarResource('cpus', 1, { role: 'batch' })],
    });
    expect(parseResourceText('[{"name":"mem","type":"SCALAR","scalar":{"value":32}}]')).toEqual({
      ok: true,
      value: [scalarResource('mem', 32)],
    });
  });

  it('reports what it cannot parse', () => {
    for (const text of ['cpus', 'cpus:abc', 'ports:[1-x]', 'gpus:0.5', 'cpus(-x):1', 'cpus:-1', '[not json']) {
      const result = parseResourceText(text);
      expect(result.ok, text).toBe(false);
    }
  });
});

describe('arithmetic', () => {
  it('rounds scalars to three decimals and keeps exact sums', () => {
    const sum = add([scalarResource('cpus', 0.1)], [scalarResource('cpus', 0.2)]);
    expect(sum).toEqual([scalarResource('cpus', 0.3)]);
    expect(canonicalResource({ name: 'cpus', type: 'SCALAR', scalar: { value: 1.23456 } })).toEqual({
      resource: scalarResource('cpus', 1.235),
    });
  });

  it('splits and merges port ranges', () => {
    const all = [rangesResource('ports', [{ begin: 31000, end: 32000 }])];
    const used = [rangesResource('ports', [{ begin: 31005, end: 31005 }])];
    const left = subtract(all, used);
    expect(left).toEqual([
      rangesResource('ports', [
        { begin: 31000, end: 31004 },
        { begin: 31006, end: 32000 },
      ]),
    ]);
    expect(add(left, used)).toEqual(all);
    expect(contains(all, used)).toBe(true);
    expect(contains(left, used)).toBe(false);
  });

  it('keeps different reservations and allocations apart', () => {
    const mixed = add([scalarResource('cpus', 1)], [scalarResource('cpus', 2, { role: 'ml' })]);
    expect(mixed).toHaveLength(2);
    expect(contains(mixed, [scalarResource('cpus', 3)])).toBe(false);
    expect(contains(flatten(mixed), [scalarResource('cpus', 3)])).toBe(true);
    expect(allocatableTo(mixed, 'eng')).toEqual([scalarResource('cpus', 1)]);
    expect(allocationRole([scalarResource('cpus', 1, { allocationRole: 'a' })])).toBe('a');
    expect(
      allocationRole([
        scalarResource('cpus', 1, { allocationRole: 'a' }),
        scalarResource('mem', 1, { allocationRole: 'b' }),
      ]),
    ).toBeUndefined();
  });

  it('pushes and pops dynamic reservations', () => {
    const base = [scalarResource('cpus', 2, { role: 'eng' })];
    const refined = pushReservation(base, { role: 'eng/ml', principal: 'p' });
    expect(refined[0]?.reservations).toEqual([
      { type: 'STATIC', role: 'eng' },
      { type: 'DYNAMIC', role: 'eng/ml', principal: 'p' },
    ]);
    expect(popReservation(refined)).toEqual(base);
    expect(popReservation(base)).toEqual([scalarResource('cpus', 2)]);
  });

  it('treats persistent volumes as indivisible and shared volumes as counted copies', () => {
    const volume: Resource = {
      name: 'disk',
      type: 'SCALAR',
      scalar: { value: 100 },
      reservations: [{ type: 'DYNAMIC', role: 'ml', principal: 'p' }],
      disk: { persistence: { id: 'v1' }, volume: { mode: 'RW', container_path: 'data' } },
    };
    const half = { ...volume, scalar: { value: 50 } };
    // Two volumes with one id do not merge, and half a volume cannot be taken.
    expect(add([volume], [volume])).toHaveLength(2);
    expect(contains([volume], [half])).toBe(false);
    expect(subtract([volume], [half])).toEqual([volume]);
    expect(subtract([volume], [volume])).toEqual([]);

    const sharedVolume = { ...volume, shared: {} };
    const twoCopies = add([sharedVolume], [sharedVolume]);
    expect(twoCopies).toHaveLength(2);
    expect(contains(twoCopies, [sharedVolume, sharedVolume])).toBe(true);
    expect(contains([sharedVolume], [sharedVolume, sharedVolume])).toBe(false);
    expect(subtract(twoCopies, [sharedVolume])).toEqual([sharedVolume]);
  });

  it('compares sets of resources regardless of order', () => {
    const left = parsed('cpus:1;mem:2;ports:[1-3]');
    const right = parsed('ports:[1-2];mem:2;cpus:1;ports:[3-3]');
    expect(equals(left, right)).toBe(true);
    expect(equals(left, parsed('cpus:1;mem:2'))).toBe(false);
  });
});
