import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { filterKey } from '#shared/ids.js';
import { SHARDS } from '../../functions/registrar/shards.js';
import { freshRegistrar, type TestRegistrar } from '../support/registrar.js';

let t: TestRegistrar;
beforeAll(async () => {
  t = await freshRegistrar();
});
afterAll(async () => {
  await t.close();
});

const cpus = (value: number) => [{ name: 'cpus', type: 'SCALAR' as const, scalar: { value } }];

describe('refused-offer filters', () => {
  it('keeps one filter per framework, role and agent: the latest', async () => {
    await t.registrar.filters.put('fw-1', [
      { role: 'ml', agentId: 'a1', resources: cpus(1), expiresAt: t.clock.now + 5_000 },
      { role: 'ml', agentId: 'a2', resources: cpus(1), expiresAt: t.clock.now + 5_000 },
    ]);
    await t.registrar.filters.put('fw-1', [
      { role: 'ml', agentId: 'a1', resources: cpus(4), expiresAt: t.clock.now + 60_000 },
    ]);
    const filters = await t.registrar.filters.of('fw-1');
    expect(Object.keys(filters).sort()).toEqual([filterKey('ml', 'a1'), filterKey('ml', 'a2')]);
    expect(filters[filterKey('ml', 'a1')]).toEqual({
      role: 'ml',
      agentId: 'a1',
      resources: cpus(4),
      expiresAt: t.clock.now + 60_000,
    });
  });

  it('leaves out expired filters, and REVIVE clears a role s filters', async () => {
    await t.registrar.filters.put('fw-2', [
      { role: 'ml', agentId: 'a1', resources: cpus(1), expiresAt: t.clock.now + 1_000 },
      { role: 'eng', agentId: 'a1', resources: cpus(1), expiresAt: t.clock.now + 60_000 },
      { role: 'eng', agentId: 'a2', resources: cpus(1), expiresAt: t.clock.now + 60_000 },
    ]);
    t.clock.advance(2_000);
    expect(Object.keys(await t.registrar.filters.of('fw-2'))).toEqual([filterKey('eng', 'a1'), filterKey('eng', 'a2')]);
    expect(await t.registrar.filters.clear('fw-2', ['eng'])).toBe(2);
    expect(await t.registrar.filters.of('fw-2')).toEqual({});
    expect(await t.registrar.filters.clear('fw-2')).toBe(1); // the expired one, left to TTL until now
  });

  it('holds thousands of filters for one framework (they would not fit in one item)', async () => {
    const many = Array.from({ length: 3000 }, (_, i) => ({
      role: '*',
      agentId: `agent-${i}-${'x'.repeat(60)}`,
      resources: [
        ...cpus(24),
        { name: 'ports', type: 'RANGES' as const, ranges: { range: [{ begin: 31000, end: 32000 }] } },
      ],
      expiresAt: t.clock.now + 3600_000,
    }));
    await t.registrar.filters.put('fw-big', many);
    const all = await t.registrar.filters.all();
    expect(Object.keys(all.get('fw-big') ?? {})).toHaveLength(3000);
    expect(await t.registrar.filters.of('')).toEqual({});
    // Spread over the framework's write shards by agent: read from every shard, found by key, cleared from all.
    const sharded = new Set<unknown>();
    for await (const item of t.registrar.context.scan(t.tables.filters, ['framework_shard'])) {
      if (String(item.framework_shard).startsWith('fw-big#')) sharded.add(item.framework_shard);
    }
    expect(sharded.size).toBe(SHARDS);
    expect(Object.keys(await t.registrar.filters.of('fw-big'))).toEqual(
      many.map((f) => filterKey('*', f.agentId)).sort(),
    );
    const some = many.slice(0, 150).map((f) => ({ frameworkId: 'fw-big', role: '*', agentId: f.agentId }));
    expect(Object.keys((await t.registrar.filters.get(some)).get('fw-big') ?? {})).toHaveLength(150);
    expect(await t.registrar.filters.clear('fw-big')).toBe(3000);
    expect(await t.registrar.filters.of('fw-big')).toEqual({});
  });
});
