import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mayUseRole } from '../../functions/registrar/index.js';
import { freshRegistrar, type TestRegistrar } from '../support/registrar.js';

let t: TestRegistrar;
beforeAll(async () => {
  t = await freshRegistrar();
});
afterAll(async () => {
  await t.close();
});

describe('roles', () => {
  it('keeps weights and quota, each write conditional on the version read', async () => {
    const weighted = await t.registrar.roles.setWeight('ml', 3);
    expect(weighted).toMatchObject({ ok: true, value: { role: 'ml', weight: 3, version: 1 } });
    const quota = await t.registrar.roles.setQuota('ml', { guarantees: { gpus: 2 }, limits: { gpus: 8, cpus: 64 } });
    expect(quota).toMatchObject({
      ok: true,
      value: { weight: 3, quota: { guarantees: { gpus: 2 }, limits: { gpus: 8, cpus: 64 } }, version: 2 },
    });
    await t.registrar.roles.setWeight('eng/backend', 0.5);
    const roles = await t.registrar.roles.list();
    expect(roles.map((r) => [r.role, r.weight])).toEqual([
      ['eng/backend', 0.5],
      ['ml', 3],
    ]);
    // Concurrent edits serialize instead of clobbering each other.
    await Promise.all(Array.from({ length: 10 }, (_, i) => t.registrar.roles.setWeight('busy', i + 1)));
    expect((await t.registrar.roles.get('busy'))?.version).toBe(10);
  });

  it('refuses invalid weights and quota with the Mesos rules', async () => {
    for (const [role, weight] of [
      ['ml', 0],
      ['ml', -1],
      ['ml', Number.NaN],
      ['-x', 1],
      ['', 1],
    ] as const) {
      expect(await t.registrar.roles.setWeight(role, weight)).toMatchObject({
        ok: false,
        error: { code: 'INVALID_ROLE' },
      });
    }
    const cases: Array<[string, Parameters<typeof t.registrar.roles.setQuota>[1], RegExp]> = [
      ['eng/backend', { guarantees: {}, limits: { cpus: 1 } }, /nested role/],
      ['ml', { guarantees: {}, limits: { ports: 10 } }, /scalar resources only/],
      ['ml', { guarantees: { cpus: -1 }, limits: {} }, /non-negative/],
      ['ml', { guarantees: { cpus: 4 }, limits: { cpus: 2 } }, /exceeds its limit/],
      ['ml', { guarantees: {}, limits: { cpus: Number.POSITIVE_INFINITY } }, /non-negative number/],
    ];
    for (const [role, quota, message] of cases) {
      const result = await t.registrar.roles.setQuota(role, quota);
      expect(result.ok ? 'ok' : `${result.error.code} ${result.error.message}`).toMatch(message);
    }
    expect((await t.registrar.roles.setQuota('*', { guarantees: {}, limits: { cpus: 10 } })).ok).toBe(true);
  });
});

describe('principals', () => {
  it('stores a hashed secret and authenticates with it', async () => {
    const created = await t.registrar.principals.create({
      principal: 'gpu-batch',
      secret: 'correct horse battery staple',
      kind: 'framework',
      roles: ['ml'],
    });
    expect(created.ok).toBe(true);
    const stored = await t.clients.documents.send(
      new (await import('@aws-sdk/lib-dynamodb')).GetCommand({
        TableName: t.tables.principals,
        Key: { principal: 'gpu-batch' },
      }),
    );
    expect(JSON.stringify(stored.Item)).not.toContain('correct horse');
    expect(String(stored.Item?.secret_hash)).toMatch(/^scrypt\$16384\$8\$1\$/);

    const good = await t.registrar.principals.authenticate('gpu-batch', 'correct horse battery staple');
    expect(good).toMatchObject({ ok: true, value: { principal: 'gpu-batch', kind: 'framework', roles: ['ml'] } });
    expect(JSON.stringify(good)).not.toContain('scrypt');
    expect(good.ok && mayUseRole(good.value, 'ml')).toBe(true);
    expect(good.ok && mayUseRole(good.value, 'eng')).toBe(false);

    const wrong = await t.registrar.principals.authenticate('gpu-batch', 'wrong horse battery staple');
    const unknown = await t.registrar.principals.authenticate('nobody', 'correct horse battery staple');
    expect(wrong).toEqual({ ok: false, error: { code: 'UNAUTHENTICATED', message: 'Authentication failed' } });
    expect(unknown).toEqual(wrong);
  });

  it('refuses duplicates and weak or malformed input', async () => {
    const input = { principal: 'ops', secret: 'a'.repeat(32), kind: 'operator' as const, roles: ['*'] };
    expect((await t.registrar.principals.create(input)).ok).toBe(true);
    expect(await t.registrar.principals.create(input)).toMatchObject({
      ok: false,
      error: { code: 'PRINCIPAL_EXISTS' },
    });
    for (const bad of [
      { ...input, principal: 'ops2', secret: 'short' },
      { ...input, principal: 'has space' },
      { ...input, principal: 'ops3', roles: ['/bad'] },
      { ...input, principal: 'ops4', kind: 'root' as 'operator' },
    ]) {
      expect(await t.registrar.principals.create(bad)).toMatchObject({
        ok: false,
        error: { code: 'INVALID_ARGUMENT' },
      });
    }
  });
});
