import { describe, expect, it } from 'vitest';
import { Allocator, type AllocationResult } from '../../functions/allocator/allocator.js';
import { allocatorConfig } from '../../functions/allocator/config.js';
import type { AllocationPolicy } from '../../functions/allocator/policies.js';
import type {
  AllocationSnapshot,
  FrameworkSnapshot,
  RoleSnapshot,
  AgentSnapshot,
} from '../../functions/allocator/snapshot.js';
import type { Resource } from '#shared/protocol/mesos.js';
import { equals, quantities } from '#shared/resources/resources.js';
import { agent, framework, NOW, resources, role, seeded } from '../support/allocator.js';

function run(
  agents: AgentSnapshot[],
  frameworks: FrameworkSnapshot[],
  roles: RoleSnapshot[] = [],
  options: { allocator?: Allocator; agentIds?: string[]; now?: number } = {},
): AllocationResult {
  const snapshot: AllocationSnapshot = { agents, frameworks, roles, now: options.now ?? NOW };
  return (options.allocator ?? new Allocator()).allocate(snapshot, {
    random: seeded(7),
    ...(options.agentIds ? { agentIds: new Set(options.agentIds) } : {}),
  });
}

function offered(result: AllocationResult, frameworkId: string, agentId?: string): Resource[][] {
  return result.offers
    .filter((offer) => offer.frameworkId === frameworkId && (agentId === undefined || offer.agentId === agentId))
    .map((offer) => offer.resources);
}

function reason(result: AllocationResult, frameworkId: string, roleName = '*') {
  return result.pending.find((pending) => pending.frameworkId === frameworkId && pending.role === roleName);
}

const AGENT = 'cpus:24;mem:4096;disk:4096;ports:[31000-32000]';

describe('coarse-grained offers in DRF order', () => {
  it('offers a whole agent to the framework with the lowest share, and the next agent to the next', () => {
    const result = run([agent('a1', AGENT), agent('a2', AGENT)], [framework('fw-a'), framework('fw-b')]);
    expect(result.offers).toHaveLength(2);
    expect(new Set(result.offers.map((offer) => offer.frameworkId))).toEqual(new Set(['fw-a', 'fw-b']));
    for (const offer of result.offers) expect(equals(offer.resources, resources(AGENT))).toBe(true);
    expect(result.pending).toEqual([]);
  });

  it('offers what is left beside outstanding offers and tasks, never what they hold', () => {
    const a = agent('a1', AGENT, {
      offers: [{ frameworkId: 'fw-x', role: '*', resources: 'cpus:4;mem:1024;ports:[31000-31009]' }],
      tasks: [{ frameworkId: 'fw-x', role: '*', resources: 'cpus:8;mem:1024' }],
    });
    const result = run([a], [framework('fw-a')]);
    expect(offered(result, 'fw-a')).toHaveLength(1);
    expect(
      equals(offered(result, 'fw-a')[0] as Resource[], resources('cpus:12;mem:2048;disk:4096;ports:[31010-32000]')),
    ).toBe(true);
  });

  it('serves the framework with the lower dominant share first', () => {
    const a1 = agent('a1', 'cpus:10;mem:1000', {
      tasks: [{ frameworkId: 'fw-big', role: '*', resources: 'cpus:5;mem:100' }],
    });
    const a2 = agent('a2', 'cpus:10;mem:1000');
    const result = run([a1, a2], [framework('fw-big'), framework('fw-small')], [], { agentIds: ['a2'] });
    expect(offered(result, 'fw-small', 'a2')).toHaveLength(1);
    expect(reason(result, 'fw-big')?.code).toBe('NOTHING_FREE');
  });

  it('follows role weights: a weight-3 role is served until its share is three times the other', () => {
    const agents = Array.from({ length: 8 }, (_, i) => agent(`a${i}`, 'cpus:4;mem:1024'));
    const result = run(
      agents,
      [framework('fw-a', { roles: ['a'] }), framework('fw-b', { roles: ['b'] })],
      [role('b', 3)],
    );
    expect(offered(result, 'fw-a')).toHaveLength(2);
    expect(offered(result, 'fw-b')).toHaveLength(6);
  });
});

describe('reservations', () => {
  const reserved = 'cpus:8;mem:1024;cpus(eng):4;mem(eng):512';

  it('go only to their role and its subroles', () => {
    const star = run([agent('a1', reserved)], [framework('fw-star')]);
    expect(equals(offered(star, 'fw-star')[0] as Resource[], resources('cpus:8;mem:1024'))).toBe(true);

    const sub = run(
      [agent('a1', 'cpus(eng):4;mem(eng):512')],
      [framework('fw-web', { roles: ['eng/web'] }), framework('fw-ml', { roles: ['ml'] })],
    );
    expect(offered(sub, 'fw-web')).toHaveLength(1);
    expect(offered(sub, 'fw-ml')).toHaveLength(0);
    expect(reason(sub, 'fw-ml', 'ml')?.code).toBe('NOTHING_FREE');
  });

  it('are offered to their role beside the unreserved resources another role took', () => {
    const result = run(
      [agent('a1', reserved)],
      [framework('fw-star'), framework('fw-eng', { roles: ['eng'] })],
      [role('*', 1)],
    );
    const eng = offered(result, 'fw-eng')[0] as Resource[];
    expect(quantities(eng).cpus).toBeGreaterThanOrEqual(4);
    const all = result.offers.flatMap((offer) => offer.resources);
    expect(quantities(all)).toEqual(quantities(resources(reserved)));
  });

  it('keep refined reservations from frameworks without RESERVATION_REFINEMENT', () => {
    const refined: Resource = {
      name: 'disk',
      type: 'SCALAR',
      scalar: { value: 64 },
      reservations: [
        { type: 'STATIC', role: 'eng' },
        { type: 'DYNAMIC', role: 'eng/web', principal: 'ops' },
      ],
    };
    const total = [...resources('cpus:2;mem:256'), refined];
    const plain = run([agent('a1', total)], [framework('fw', { roles: ['eng/web'] })]);
    expect(quantities(offered(plain, 'fw')[0] as Resource[]).disk).toBeUndefined();
    const capable = run(
      [agent('a1', total)],
      [framework('fw', { roles: ['eng/web'], capabilities: ['RESERVATION_REFINEMENT'] })],
    );
    expect(quantities(offered(capable, 'fw')[0] as Resource[]).disk).toBe(64);
  });
});

describe('quota limits', () => {
  it('cap the unreserved scalars offered to the role and its subroles', () => {
    const agents = [agent('a1', 'cpus:16;mem:4096'), agent('a2', 'cpus:16;mem:4096')];
    const result = run(agents, [framework('fw', { roles: ['eng/web'] })], [role('eng', 1, { cpus: 10 })]);
    const total = quantities(result.offers.flatMap((offer) => offer.resources));
    expect(total.cpus).toBe(10);
    expect(total.mem).toBe(8192);
  });

  it('count reservations and tasks, and say when the limit is what stops the role', () => {
    const a = agent('a1', 'cpus:16;mem:4096;cpus(eng):4', {
      tasks: [{ frameworkId: 'fw', role: 'eng', resources: 'cpus:6' }],
    });
    const result = run([a], [framework('fw', { roles: ['eng'] })], [role('eng', 1, { cpus: 10 })]);
    const offer = offered(result, 'fw')[0] as Resource[];
    // Consumption is 4 reserved + 6 held: nothing unreserved is left under the limit, the reservation is.
    expect(quantities(offer).cpus).toBe(4);

    const full = run([a], [framework('fw', { roles: ['eng'] })], [role('eng', 1, { cpus: 10, mem: 0 })], {
      allocator: new Allocator(allocatorConfig({ minAllocatableResources: 'cpus:5' })),
    });
    // The reservation alone is below the minimum; without the limit it would not be: the limit is the reason.
    expect(full.offers).toEqual([]);
    expect(reason(full, 'fw', 'eng')?.code).toBe('QUOTA_LIMIT_REACHED');

    const none = run(
      [agent('a2', 'cpus:16;mem:4096')],
      [framework('fw', { roles: ['eng'] })],
      [role('eng', 1, { cpus: 0, mem: 0 })],
    );
    expect(reason(none, 'fw', 'eng')).toMatchObject({
      code: 'QUOTA_LIMIT_REACHED',
      quota: { role: 'eng', resources: ['cpus', 'mem'] },
    });
  });

  it('serve roles below their guarantee first', () => {
    const agents = [agent('a1', 'cpus:4;mem:1024')];
    const holding = agent('a0', 'cpus:4;mem:1024', {
      tasks: [{ frameworkId: 'fw-g', role: 'g', resources: 'cpus:1' }],
    });
    const plain = run(
      [holding, ...agents],
      [framework('fw-g', { roles: ['g'] }), framework('fw-o', { roles: ['o'] })],
      [],
      {
        agentIds: ['a1'],
      },
    );
    expect(offered(plain, 'fw-o')).toHaveLength(1);
    const guaranteed = run(
      [holding, ...agents],
      [framework('fw-g', { roles: ['g'] }), framework('fw-o', { roles: ['o'] })],
      [role('g', 1, {}, { cpus: 4 })],
      { agentIds: ['a1'] },
    );
    expect(offered(guaranteed, 'fw-g')).toHaveLength(1);
  });
});

describe('filters, suppression and revival', () => {
  const full = resources(AGENT);

  it('a decline filters the same offer until it expires; more resources go through', () => {
    const filter = { role: '*', agentId: 'a1', resources: full, expiresAt: NOW + 5000 };
    const filtered = run([agent('a1', AGENT)], [framework('fw', { filters: [filter] })]);
    expect(filtered.offers).toEqual([]);
    expect(reason(filtered, 'fw')).toMatchObject({
      code: 'FILTERED',
      filteredUntil: NOW + 5000,
      agents: { FILTERED: 1 },
    });

    const later = run([agent('a1', AGENT)], [framework('fw', { filters: [filter] })], [], { now: NOW + 5000 });
    expect(later.offers).toHaveLength(1);

    const smaller = { ...filter, resources: resources('cpus:1;mem:128') };
    expect(run([agent('a1', AGENT)], [framework('fw', { filters: [smaller] })]).offers).toHaveLength(1);
  });

  it('a filtered framework leaves the agent to the next one', () => {
    const filter = { role: '*', agentId: 'a1', resources: full, expiresAt: NOW + 5000 };
    const result = run([agent('a1', AGENT)], [framework('fw-a', { filters: [filter] }), framework('fw-b')]);
    expect(offered(result, 'fw-b')).toHaveLength(1);
  });

  it('suppressed roles get nothing and say so; other roles of the framework still do', () => {
    const f = framework('fw', { roles: ['a', 'b'], suppressed: ['a'] });
    const result = run([agent('a1', AGENT), agent('a2', AGENT)], [f]);
    expect(result.offers.every((offer) => offer.role === 'b')).toBe(true);
    expect(result.offers).toHaveLength(2);
    expect(reason(result, 'fw', 'a')?.code).toBe('SUPPRESSED');
  });

  it('inactive frameworks get nothing and no reason', () => {
    const result = run(
      [agent('a1', AGENT)],
      [framework('fw', { status: 'INACTIVE' }), framework('fw-d', { status: 'DISCONNECTED' })],
    );
    expect(result.offers.map((offer) => offer.frameworkId)).toEqual(['fw-d']);
    expect(result.pending).toEqual([]);
  });
});

describe('capabilities, draining and constraints', () => {
  it('hides GPU agents from frameworks without GPU_RESOURCES', () => {
    const gpu = agent('g1', 'cpus:8;mem:1024;gpus:2');
    const result = run([gpu], [framework('fw')]);
    expect(result.offers).toEqual([]);
    expect(reason(result, 'fw')?.code).toBe('GPU_AGENTS_ONLY');
    const capable = run([gpu], [framework('fw'), framework('fw-gpu', { capabilities: ['GPU_RESOURCES'] })]);
    expect(capable.offers.map((offer) => offer.frameworkId)).toEqual(['fw-gpu']);
    expect(reason(capable, 'fw')?.code).toBe('GPU_AGENTS_ONLY');
    const unfiltered = run([gpu], [framework('fw')], [], {
      allocator: new Allocator(allocatorConfig({ filterGpuResources: false })),
    });
    expect(unfiltered.offers).toHaveLength(1);
  });

  it('offers MULTI_ROLE frameworks per role, and not from agents without MULTI_ROLE', () => {
    const f = framework('fw', { roles: ['a', 'b'] });
    const result = run([agent('a1', 'cpus:8;mem:1024;cpus(b):2;mem(b):64')], [f]);
    expect(result.offers.map((offer) => offer.role).sort()).toEqual(['a', 'b']);
    const old = agent('a1', AGENT, { capabilities: [] });
    expect(run([old], [f, framework('fw-single')]).offers.map((offer) => offer.frameworkId)).toEqual(['fw-single']);
    expect(reason(run([old], [f]), 'fw', 'a')?.code).toBe('AGENTS_INCAPABLE');
  });

  it('keeps hierarchical roles off agents without HIERARCHICAL_ROLE', () => {
    const result = run(
      [agent('a1', AGENT, { capabilities: ['MULTI_ROLE'] })],
      [framework('fw', { roles: ['eng/web'] })],
    );
    expect(result.offers).toEqual([]);
    expect(reason(result, 'fw', 'eng/web')?.code).toBe('AGENTS_INCAPABLE');
  });

  it('gives draining and unreachable agents no offers', () => {
    const result = run(
      [agent('a1', AGENT, { deactivated: true }), agent('a2', AGENT, { status: 'UNREACHABLE' })],
      [framework('fw')],
    );
    expect(result.offers).toEqual([]);
    expect(reason(result, 'fw')).toMatchObject({ code: 'NOTHING_FREE', message: 'No agent has free resources' });
  });

  it('offers revocable resources only to REVOCABLE_RESOURCES frameworks', () => {
    const total: Resource[] = [
      ...resources('cpus:4;mem:512'),
      { name: 'cpus', type: 'SCALAR', scalar: { value: 2 }, revocable: {} },
    ];
    const plain = run([agent('a1', total)], [framework('fw')]);
    expect((offered(plain, 'fw')[0] as Resource[]).some((r) => r.revocable)).toBe(false);
    const capable = run([agent('a1', total)], [framework('fw', { capabilities: ['REVOCABLE_RESOURCES'] })]);
    expect((offered(capable, 'fw')[0] as Resource[]).some((r) => r.revocable)).toBe(true);
  });

  it('keeps remote-region agents for REGION_AWARE frameworks', () => {
    const domain = (region: string) => ({ fault_domain: { region: { name: region }, zone: { name: `${region}a` } } });
    const allocator = new Allocator(allocatorConfig({ region: 'eu' }));
    const agents = [agent('a1', AGENT, { domain: domain('us') })];
    expect(run(agents, [framework('fw')], [], { allocator }).offers).toEqual([]);
    // A changed framework record comes with a new version (what a warm allocator relies on).
    const aware = framework('fw', { capabilities: ['REGION_AWARE'], version: 2 });
    expect(run(agents, [aware], [], { allocator }).offers).toHaveLength(1);
  });

  it('applies offer constraints per role', () => {
    const agents = [
      agent('a1', AGENT, { attributes: [{ name: 'rack', type: 'TEXT', text: { value: 'r1' } }] }),
      agent('a2', AGENT, { attributes: [{ name: 'rack', type: 'TEXT', text: { value: 'r2' } }] }),
    ];
    const constrained = (predicate: object, selector: object = { attribute_name: 'rack' }) =>
      framework('fw', {
        constraints: { role_constraints: { '*': { groups: [{ attribute_constraints: [{ selector, predicate }] }] } } },
      });
    const equalsR1 = run(agents, [constrained({ text_equals: { value: 'r1' } })]);
    expect(equalsR1.offers.map((offer) => offer.agentId)).toEqual(['a1']);
    const matches = run(agents, [constrained({ text_matches: { regex: 'r[0-9]' } })]);
    expect(matches.offers).toHaveLength(2);
    const host = run(agents, [
      constrained({ text_matches: { regex: 'a2\\..*' } }, { pseudoattribute_type: 'HOSTNAME' }),
    ]);
    expect(host.offers.map((offer) => offer.agentId)).toEqual(['a2']);
    const none = run(agents, [constrained({ not_exists: {} })]);
    expect(reason(none, 'fw')).toMatchObject({
      code: 'CONSTRAINTS_UNSATISFIABLE',
      agents: { CONSTRAINTS_UNSATISFIABLE: 2 },
    });
    const unsafe = run(agents, [constrained({ text_matches: { regex: '(r+)+' } })]);
    expect(reason(unsafe, 'fw')?.code).toBe('CONSTRAINTS_UNSATISFIABLE');
  });

  it('applies min allocatable resources, the cluster default and the framework override', () => {
    const small = [agent('a1', 'cpus:0.005;mem:16;disk:10')];
    const result = run(small, [framework('fw')]);
    expect(reason(result, 'fw')?.code).toBe('BELOW_MIN_ALLOCATABLE');
    const anything = run(small, [framework('fw', { minAllocatable: { '*': [] } })]);
    expect(anything.offers).toHaveLength(1);
    const ports = run(
      [agent('a1', 'cpus:8;mem:1024;ports:[1-5]')],
      [framework('fw', { minAllocatable: { '*': [{ ports: 10 }] } })],
    );
    expect(ports.offers).toEqual([]);
  });
});

describe('policies', () => {
  const agents = Array.from({ length: 4 }, (_, i) => agent(`a${i}`, 'cpus:4;mem:1024'));
  const frameworks = [framework('fw-batch', { roles: ['batch'] }), framework('fw-prod', { roles: ['prod'] })];

  it('strict priority serves the heavier role until nothing is left', () => {
    const allocator = new Allocator(allocatorConfig({ policy: 'strict-priority' }));
    const result = run(agents, frameworks, [role('prod', 2)], { allocator });
    expect(offered(result, 'fw-prod')).toHaveLength(4);
    expect(reason(result, 'fw-batch', 'batch')?.code).toBe('NOTHING_FREE');
  });

  it('multilevel serves a level before the next, and shares by DRF within a level', () => {
    const allocator = new Allocator(allocatorConfig({ policy: 'multilevel', levels: [['prod', 'web']] }));
    const result = run(agents, [...frameworks, framework('fw-web', { roles: ['web'] })], [], { allocator });
    expect(offered(result, 'fw-prod')).toHaveLength(2);
    expect(offered(result, 'fw-web')).toHaveLength(2);
    expect(offered(result, 'fw-batch')).toHaveLength(0);
  });

  it('takes any plug-in that orders roles', () => {
    const reverse: AllocationPolicy = {
      name: 'reverse',
      compare: (a, b) => (a.role < b.role ? 1 : a.role > b.role ? -1 : 0),
    };
    const result = run(agents, frameworks, [], { allocator: new Allocator(allocatorConfig(), reverse) });
    expect(offered(result, 'fw-prod')).toHaveLength(4);
  });
});

describe('a warm allocator', () => {
  it('forgets agents that left the snapshot and re-derives agents whose version changed', () => {
    const allocator = new Allocator();
    const a1 = agent('a1', 'cpus:4;mem:1024');
    const a2 = agent('a2', 'cpus:4;mem:1024', { tasks: [{ frameworkId: 'fw-a', role: '*', resources: 'cpus:4' }] });
    const first = run([a1, a2], [framework('fw-a'), framework('fw-b')], [], { allocator });
    expect(first.stats.agentsCompiled).toBe(2);
    expect(offered(first, 'fw-b')).toHaveLength(1);
    // a2 left: fw-a holds nothing any more, so it is first again.
    const second = run([a1], [framework('fw-a'), framework('fw-b')], [], { allocator });
    expect(second.stats.agentsCompiled).toBe(0);
    expect(offered(second, 'fw-a')).toHaveLength(1);
    const third = run([{ ...a1, version: 2, total: resources('cpus:1;mem:64') }], [framework('fw-a')], [], {
      allocator,
    });
    expect(third.stats.agentsCompiled).toBe(1);
    expect(equals(offered(third, 'fw-a')[0] as Resource[], resources('cpus:1;mem:64'))).toBe(true);
  });
});
