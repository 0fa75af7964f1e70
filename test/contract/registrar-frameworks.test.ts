import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newStreamId } from '#shared/ids.js';
import type { FrameworkInfo } from '#shared/protocol/mesos.js';
import { RecentFrameworks } from '../../functions/registrar/recent-frameworks.js';
import { freshRegistrar, type TestRegistrar } from '../support/registrar.js';

let t: TestRegistrar;
beforeAll(async () => {
  t = await freshRegistrar();
});
afterAll(async () => {
  await t.close();
});

const INFO: FrameworkInfo = {
  user: 'svc',
  name: 'batch',
  principal: 'batch',
  roles: ['ml', 'eng'],
  capabilities: [{ type: 'MULTI_ROLE' }, { type: 'GPU_RESOURCES' }],
  failover_timeout: 3600,
  checkpoint: true,
};

async function subscribed(info: FrameworkInfo = INFO) {
  const result = await t.registrar.frameworks.subscribe({ info, streamId: newStreamId() });
  if (!result.ok) throw new Error(result.error.message);
  return result.value.framework;
}

describe('framework subscription', () => {
  it('assigns an id on first SUBSCRIBE and records the subscription', async () => {
    const streamId = newStreamId();
    const result = await t.registrar.frameworks.subscribe({ info: INFO, streamId, suppressedRoles: ['eng'] });
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    const { framework, created, previousStreamId } = result.value;
    expect(created).toBe(true);
    expect(previousStreamId).toBeUndefined();
    expect(framework.frameworkId).toMatch(/^test-cluster-F/);
    expect(framework).toMatchObject({
      status: 'SUBSCRIBED',
      streamId,
      roles: ['ml', 'eng'],
      suppressedRoles: ['eng'],
      principal: 'batch',
      info: { id: { value: framework.frameworkId } },
    });
    expect(await t.registrar.frameworks.get(framework.frameworkId)).toEqual(framework);
  });

  it('resubscribes with the id, fails the old stream over, and keeps user and checkpoint', async () => {
    const first = await subscribed();
    const streamId = newStreamId();
    const result = await t.registrar.frameworks.subscribe({
      frameworkId: first.frameworkId,
      info: { ...INFO, id: { value: first.frameworkId }, user: 'root', checkpoint: false, name: 'renamed' },
      streamId,
    });
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.value.previousStreamId).toBe(first.streamId);
    expect(result.value.framework.info).toMatchObject({ user: 'svc', checkpoint: true, name: 'renamed' });
    expect(await t.registrar.frameworks.checkStream(first.frameworkId, first.streamId)).toMatchObject({
      ok: false,
      error: { code: 'STREAM_MISMATCH' },
    });
    expect((await t.registrar.frameworks.checkStream(first.frameworkId, streamId)).ok).toBe(true);
  });

  it('accepts a framework id it does not know, as Mesos does after a failover', async () => {
    const result = await t.registrar.frameworks.subscribe({
      frameworkId: 'old-master-0001',
      info: { ...INFO, id: { value: 'old-master-0001' } },
      streamId: newStreamId(),
    });
    expect(result.ok && result.value.framework.frameworkId).toBe('old-master-0001');
  });

  it('refuses invalid FrameworkInfo and changes of principal', async () => {
    const cases: Array<[FrameworkInfo, string[] | undefined, RegExp]> = [
      [{ ...INFO, roles: ['ml'], role: 'ml' }, undefined, /'FrameworkInfo.role' must not be set/],
      [{ user: 'u', name: 'n', roles: ['ml'] }, undefined, /MULTI_ROLE capability is not/],
      [{ ...INFO, roles: ['-bad'] }, undefined, /starts with a dash/],
      [{ ...INFO, roles: ['ml', 'ml'] }, undefined, /duplicates/],
      [INFO, ['ops'], /Suppressed role 'ops'/],
      [{ ...INFO, failover_timeout: -1 }, undefined, /failover_timeout/],
      [{ ...INFO, failover_timeout: Number.POSITIVE_INFINITY }, undefined, /failover_timeout/],
      [{ ...INFO, name: '' }, undefined, /user and a name/],
    ];
    for (const [info, suppressedRoles, message] of cases) {
      const result = await t.registrar.frameworks.subscribe({
        info,
        streamId: newStreamId(),
        ...(suppressedRoles ? { suppressedRoles } : {}),
      });
      expect(result.ok ? 'ok' : `${result.error.code}: ${result.error.message}`).toMatch(message);
    }
    const framework = await subscribed();
    const changed = await t.registrar.frameworks.subscribe({
      frameworkId: framework.frameworkId,
      info: { ...INFO, principal: 'someone-else' },
      streamId: newStreamId(),
    });
    expect(changed).toMatchObject({ ok: false, error: { code: 'PRINCIPAL_MISMATCH' } });
    const mismatched = await t.registrar.frameworks.subscribe({
      frameworkId: framework.frameworkId,
      info: { ...INFO, id: { value: 'another' } },
      streamId: newStreamId(),
    });
    expect(mismatched).toMatchObject({ ok: false, error: { code: 'INVALID_ARGUMENT' } });
    const legacy = await subscribed({ user: 'u', name: 'legacy' });
    expect(legacy.roles).toEqual(['*']);
  });

  it('enforces one subscription atomically: 20 racing SUBSCRIBEs replace each other in one chain', async () => {
    const framework = await subscribed();
    const streams = Array.from({ length: 20 }, () => newStreamId());
    const results = await Promise.all(
      streams.map((streamId) =>
        t.registrar.frameworks.subscribe({
          frameworkId: framework.frameworkId,
          info: { ...INFO, id: { value: framework.frameworkId } },
          streamId,
        }),
      ),
    );
    // Each subscription replaced exactly one earlier one: following "previous" links from the final
    // stream visits every stream exactly once, back to the first subscription.
    const replaced = new Map<string, string>();
    for (const [i, result] of results.entries()) {
      if (!result.ok) throw new Error(result.error.message);
      replaced.set(streams[i] as string, result.value.previousStreamId as string);
    }
    expect(new Set(replaced.values()).size).toBe(20);
    const final = (await t.registrar.frameworks.get(framework.frameworkId))?.streamId as string;
    const chain: string[] = [];
    for (let stream: string | undefined = final; stream && replaced.has(stream); stream = replaced.get(stream)) {
      chain.push(stream);
    }
    expect(chain).toHaveLength(20);
    expect(replaced.get(chain.at(-1) as string)).toBe(framework.streamId);
  });
});

describe('framework lifecycle', () => {
  it('disconnects, deactivates and resubscribes; only the current stream can disconnect it', async () => {
    const framework = await subscribed();
    const streamId = framework.streamId as string;
    expect(await t.registrar.frameworks.disconnect(framework.frameworkId, 'stale-stream')).toMatchObject({
      ok: false,
      error: { code: 'STREAM_MISMATCH' },
    });
    const disconnected = await t.registrar.frameworks.disconnect(framework.frameworkId, streamId);
    expect(disconnected.ok && disconnected.value.status).toBe('DISCONNECTED');
    // Within the reconnect grace the framework's calls still count as subscribed.
    expect((await t.registrar.frameworks.checkStream(framework.frameworkId, streamId)).ok).toBe(true);
    const inactive = await t.registrar.frameworks.deactivate(framework.frameworkId, streamId);
    expect(inactive.ok && inactive.value).toMatchObject({ status: 'INACTIVE' });
    expect(inactive.ok && inactive.value.streamId).toBeUndefined();
    expect(await t.registrar.frameworks.checkStream(framework.frameworkId, streamId)).toMatchObject({
      ok: false,
      error: { code: 'NOT_SUBSCRIBED' },
    });
    const back = await t.registrar.frameworks.subscribe({
      frameworkId: framework.frameworkId,
      info: INFO,
      streamId: newStreamId(),
    });
    expect(back.ok && back.value.framework.status).toBe('SUBSCRIBED');
    expect(back.ok && back.value.framework.deactivatedAt).toBeUndefined();
  });

  it('a resubscription during the grace makes the old stream unable to deactivate it', async () => {
    const framework = await subscribed();
    await t.registrar.frameworks.disconnect(framework.frameworkId, framework.streamId as string);
    await t.registrar.frameworks.subscribe({ frameworkId: framework.frameworkId, info: INFO, streamId: newStreamId() });
    expect(await t.registrar.frameworks.deactivate(framework.frameworkId, framework.streamId as string)).toMatchObject({
      ok: false,
      error: { code: 'STREAM_MISMATCH' },
    });
    expect((await t.registrar.frameworks.get(framework.frameworkId))?.status).toBe('SUBSCRIBED');
  });

  it('removes a framework for good', async () => {
    const framework = await subscribed();
    const removed = await t.registrar.frameworks.remove(framework.frameworkId);
    expect(removed.ok && removed.value.status).toBe('SUBSCRIBED'); // as it was
    expect(await t.registrar.frameworks.remove(framework.frameworkId)).toMatchObject({
      ok: false,
      error: { code: 'FRAMEWORK_REMOVED' },
    });
    expect(await t.registrar.frameworks.remove('never-was')).toMatchObject({
      ok: false,
      error: { code: 'UNKNOWN_FRAMEWORK' },
    });
    expect(
      await t.registrar.frameworks.subscribe({
        frameworkId: framework.frameworkId,
        info: INFO,
        streamId: newStreamId(),
      }),
    ).toMatchObject({
      ok: false,
      error: { code: 'FRAMEWORK_REMOVED', message: expect.stringMatching(/has been removed/) },
    });
    expect(await t.registrar.frameworks.checkStream(framework.frameworkId, framework.streamId)).toMatchObject({
      ok: false,
      error: { code: 'FRAMEWORK_REMOVED' },
    });
    expect(await t.registrar.frameworks.checkStream('never-was', 'x')).toMatchObject({
      ok: false,
      error: { code: 'UNKNOWN_FRAMEWORK' },
    });
    const stored = await t.registrar.frameworks.get(framework.frameworkId);
    expect(stored).toMatchObject({ status: 'REMOVED' });
  });
});

describe('offer control: suppress, revive, filters, requests, update', () => {
  it('suppresses and revives roles', async () => {
    const framework = await subscribed();
    const suppressed = await t.registrar.frameworks.suppress(framework.frameworkId, ['ml']);
    expect(suppressed.ok && suppressed.value.suppressedRoles).toEqual(['ml']);
    expect(await t.registrar.frameworks.suppress(framework.frameworkId, ['ops'])).toMatchObject({
      ok: false,
      error: { code: 'INVALID_ARGUMENT' },
    });
    const all = await t.registrar.frameworks.suppress(framework.frameworkId, []);
    expect(all.ok && all.value.suppressedRoles.sort()).toEqual(['eng', 'ml']);
    const revived = await t.registrar.frameworks.revive(framework.frameworkId, ['ml']);
    expect(revived.ok && revived.value.suppressedRoles).toEqual(['eng']);
    const everything = await t.registrar.frameworks.revive(framework.frameworkId, []);
    expect(everything.ok && everything.value.suppressedRoles).toEqual([]);
  });

  it('records REQUEST calls as pending demand', async () => {
    const framework = await subscribed();
    const requests = [{ resources: [{ name: 'gpus', type: 'SCALAR' as const, scalar: { value: 4 } }] }];
    const recorded = await t.registrar.frameworks.recordRequests(framework.frameworkId, requests);
    expect(recorded.ok && recorded.value.requests).toEqual({ requests, at: t.clock.now });
    expect(await t.registrar.frameworks.recordRequests('missing', requests)).toMatchObject({
      ok: false,
      error: { code: 'UNKNOWN_FRAMEWORK' },
    });
  });

  it('updates a framework all or nothing, refusing changes of principal, user and checkpoint', async () => {
    const framework = await subscribed();
    const updated = await t.registrar.frameworks.update({
      frameworkId: framework.frameworkId,
      info: { ...INFO, roles: ['ml', 'ops'], name: 'renamed' },
      suppressedRoles: ['ops'],
    });
    expect(updated.ok && updated.value.removedRoles).toEqual(['eng']);
    expect(updated.ok && updated.value.framework).toMatchObject({
      roles: ['ml', 'ops'],
      suppressedRoles: ['ops'],
      info: { name: 'renamed' },
    });
    for (const change of [{ user: 'root' }, { checkpoint: false }, { principal: 'other' }]) {
      const refused = await t.registrar.frameworks.update({
        frameworkId: framework.frameworkId,
        info: { ...INFO, roles: ['ml'], ...change },
      });
      expect(refused, JSON.stringify(change)).toMatchObject({ ok: false, error: { code: 'INVALID_ARGUMENT' } });
    }
    expect((await t.registrar.frameworks.get(framework.frameworkId))?.info.name).toBe('renamed');
  });

  it('lists frameworks', async () => {
    const framework = await subscribed();
    const ids: string[] = [];
    for await (const record of t.registrar.frameworks.list()) ids.push(record.frameworkId);
    expect(ids).toContain(framework.frameworkId);
  });
});

describe('recently read frameworks (the status pipeline reads one per update)', () => {
  it('answers from memory within its time, and reads again after it or after this process wrote the framework', async () => {
    const framework = await subscribed();
    let now = 1_000;
    const reads: string[] = [];
    const counted = {
      table: t.registrar.frameworks.table,
      get: (id: string) => {
        reads.push(id);
        return t.registrar.frameworks.get(id);
      },
    };
    const recent = new RecentFrameworks(counted, t.registrar.context, 1_000, () => now);
    const id = framework.frameworkId;
    expect((await recent.get(id))?.status).toBe('SUBSCRIBED');
    now += 999;
    await recent.get(id);
    expect(reads).toHaveLength(1);
    now += 1;
    await recent.get(id);
    expect(reads).toHaveLength(2);
    // A write by this process (the registrar's own) drops the kept copy at once.
    expect((await t.registrar.frameworks.disconnect(id, framework.streamId as string)).ok).toBe(true);
    expect((await recent.get(id))?.status).toBe('DISCONNECTED');
    expect(reads).toHaveLength(3);
    expect(await recent.get('no-such-framework')).toBeUndefined();
    expect(await recent.get('no-such-framework')).toBeUndefined();
    expect(reads).toHaveLength(4);
  });

  it('does not keep a read that a write of this process overtook', async () => {
    const framework = await subscribed();
    const id = framework.frameworkId;
    let release: () => void = () => {};
    let readDone: () => void = () => {};
    const held = new Promise<void>((resolve) => (release = resolve));
    const read = new Promise<void>((resolve) => (readDone = resolve));
    const slow = {
      table: t.registrar.frameworks.table,
      get: async (frameworkId: string) => {
        const record = await t.registrar.frameworks.get(frameworkId);
        readDone();
        await held;
        return record;
      },
    };
    const recent = new RecentFrameworks(slow, t.registrar.context, 60_000);
    const before = recent.get(id);
    await read;
    expect((await t.registrar.frameworks.disconnect(id, framework.streamId as string)).ok).toBe(true);
    release();
    expect((await before)?.status).toBe('SUBSCRIBED');
    expect((await recent.get(id))?.status).toBe('DISCONNECTED');
  });

  it('shares one read among the callers asking meanwhile, but not with those asking after a write', async () => {
    const framework = await subscribed();
    const id = framework.frameworkId;
    const reads: string[] = [];
    let release: () => void = () => {};
    const held = new Promise<void>((resolve) => (release = resolve));
    const slow = {
      table: t.registrar.frameworks.table,
      get: async (frameworkId: string) => {
        reads.push(frameworkId);
        const record = await t.registrar.frameworks.get(frameworkId);
        await held;
        return record;
      },
    };
    const recent = new RecentFrameworks(slow, t.registrar.context, 60_000);
    const together = [recent.get(id), recent.get(id), recent.get(id)];
    expect(reads).toHaveLength(1);
    expect((await t.registrar.frameworks.disconnect(id, framework.streamId as string)).ok).toBe(true);
    const after = recent.get(id);
    expect(reads).toHaveLength(2);
    release();
    expect((await after)?.status).toBe('DISCONNECTED');
    expect((await Promise.all(together)).map((record) => record?.status)).toHaveLength(3);
    expect(reads).toHaveLength(2);
  });

  it('lets a failed read fail its callers and reads again for the next', async () => {
    let fail = true;
    const reads: string[] = [];
    const flaky = {
      table: t.registrar.frameworks.table,
      get: async (frameworkId: string) => {
        reads.push(frameworkId);
        if (fail) throw new Error('throttled');
        return t.registrar.frameworks.get(frameworkId);
      },
    };
    const recent = new RecentFrameworks(flaky, t.registrar.context, 60_000);
    const id = (await subscribed()).frameworkId;
    await expect(Promise.all([recent.get(id), recent.get(id)])).rejects.toThrow('throttled');
    expect(reads).toHaveLength(1);
    fail = false;
    expect((await recent.get(id))?.status).toBe('SUBSCRIBED');
    expect(reads).toHaveLength(2);
  });
});
