/** The pure parts of the Jobs framework's edges: task ids, exit codes, waits, the REQUEST demand, TaskInfos. */
import { describe, expect, it } from 'vitest';
import { exitCodeOf, parseTaskId } from '../../frameworks/jobs/attempts.js';
import { leafWait } from '../../frameworks/jobs/engine.js';
import { newJob } from '../../frameworks/jobs/lifecycle.js';
import { attemptTaskId, parseJobSpec, type Attempt, type Job } from '../../frameworks/jobs/model.js';
import {
  placementOffer,
  taskInfo,
  writeReasons,
  type OffersContext,
  type OffersOutcome,
} from '../../frameworks/jobs/offers.js';
import type { PendingReason } from '../../frameworks/jobs/placement.js';
import type { StoredJob, Wait } from '../../frameworks/jobs/store.js';
import { allocatorReason, launchCheckAgain, pendingDemand } from '../../frameworks/jobs/ticker.js';

function job(spec: Record<string, unknown>, id = 'j1'): Job {
  const parsed = parseJobSpec({ name: 'n', command: 'true', ...spec });
  if (!parsed.ok) throw new Error(parsed.error.message);
  return newJob(parsed.value, { id, now: Date.parse('2026-12-06T00:00:00Z') });
}

function task(state: Attempt['state'], startedAt: string | null): Attempt {
  return {
    attempt: 1,
    gang_index: null,
    task_id: 'j1-1',
    agent_id: 'a',
    hostname: 'h',
    state,
    started_at: startedAt,
    ended_at: null,
    exit_code: null,
    message: null,
  };
}

describe('the Jobs framework edges', () => {
  it('reads task ids back into job, attempt and gang index', () => {
    for (const [id, n, g] of [
      ['0mxb-abc', 1, null],
      ['0mxb-abc:7', 12, 3],
      ['0mxb-abc@20261206T000000Z', 100000, null],
    ] as const) {
      expect(parseTaskId(attemptTaskId(id, n, g))).toEqual({ jobId: id, attempt: n, gangIndex: g });
    }
    expect(parseTaskId('no-number-here-x')).toBeUndefined();
    expect(exitCodeOf('Command exited with status 3')).toBe(3);
    expect(exitCodeOf('Command terminated with signal 9')).toBeUndefined();
  });

  it('waits: a launch check while unheard of, then the timeout, a kill once cancelled, a retry after backoff', () => {
    const now = Date.parse('2026-12-06T00:01:00Z');
    const running = { ...job({ timeout_seconds: 10 }), state: 'RUNNING' as const };
    expect(leafWait({ ...running, attempts: [task('TASK_STAGING', null)] }, null, now, 1000)).toEqual({
      kind: 'launch',
      until: now + 1000,
    });
    const started = { ...running, attempts: [task('TASK_RUNNING', '2026-12-06T00:00:55.000Z')] };
    expect(leafWait(started, null, now)).toEqual({ kind: 'timeout', until: Date.parse('2026-12-06T00:01:05Z') });
    const cancelled = { ...started, state: 'CANCELLED' as const };
    expect(leafWait(cancelled, null, now)).toEqual({ kind: 'kill', until: now });
    const retry = { ...job({}), retry_at: '2026-12-06T00:02:00.000Z' };
    expect(leafWait(retry, null, now)).toEqual({ kind: 'retry', until: Date.parse('2026-12-06T00:02:00Z') });
    expect(leafWait({ ...retry, retry_at: '2026-12-06T00:00:00.000Z' }, null, now)).toBeNull();
  });

  it('counts the pending tasks per resource shape (one task’s resources and a count), a gang of N counting N', () => {
    const stored = (spec: Record<string, unknown>, id: string) => ({ job: job(spec, id), wait: null, attemptCount: 0 });
    const requests = pendingDemand([
      stored({ resources: 'cpus:4;mem:1024;gpus:1' }, 'a'),
      stored({ resources: 'cpus:4;mem:1024;gpus:1', gang: 3 }, 'b'),
      stored({ resources: 'cpus:1;mem:128' }, 'c'),
    ]);
    const text = requests.map(
      (request) =>
        `${(request.resources ?? []).map((r) => `${r.name}:${r.scalar?.value ?? 0}`).join(';')} x${request.count}`,
    );
    expect(text.sort()).toEqual(['cpus:1;mem:128 x1', 'cpus:4;mem:1024;gpus:1 x4']);
    expect(pendingDemand([])).toEqual([]);
  });

  it('builds a gang member’s TaskInfo: the command in a shell, the environment, the offer’s resources', () => {
    const gang = job({ gang: 2, env: { A: 'b' }, docker_image: 'busybox' });
    const offer = placementOffer({
      id: { value: 'o1' },
      framework_id: { value: 'f' },
      agent_id: { value: 'agent-1' },
      hostname: 'h1',
      allocation_info: { role: 'default' },
      resources: [{ name: 'cpus', type: 'SCALAR', scalar: { value: 1 } }],
    });
    expect(offer.role).toBe('default');
    const launch = { jobId: gang.id, gangIndex: 1, offerId: 'o1', agentId: 'agent-1', hostname: 'h1', resources: [] };
    const info = taskInfo(gang, 'j1-1.1', 1, launch, ['h0', 'h1']);
    expect(info.command).toMatchObject({ shell: true, value: 'true' });
    expect(info.container).toEqual({ type: 'DOCKER', docker: { image: 'busybox' } });
    const env = Object.fromEntries((info.command?.environment?.variables ?? []).map((v) => [v.name, v.value]));
    expect(env).toMatchObject({ A: 'b', MANTLE_GANG_SIZE: '2', MANTLE_GANG_INDEX: '1', MANTLE_GANG_HOSTS: 'h0,h1' });
  });
});

describe('the Jobs framework’s writes under a backlog', () => {
  const t0 = Date.parse('2026-12-06T00:00:00Z');

  /** writeReasons over a fake engine: `mutate` applies the change to what was read and records it. */
  function reasons(written: Record<string, string | null>) {
    const clock = { now: t0 };
    let writes: Record<string, string | null> = {};
    const pending = new Map(
      Object.entries(written).map(([id, reason]) => [
        id,
        { job: { ...job({}, id), pending_reason: reason }, wait: null, attemptCount: 0 } as StoredJob,
      ]),
    );
    const engine = {
      now: () => clock.now,
      mutate: async (id: string, change: (current: StoredJob) => StoredJob | undefined) => {
        const next = change(pending.get(id) as StoredJob);
        if (next) writes[id] = next.job.pending_reason;
        return next;
      },
    };
    const ctx = {
      engine,
      settings: { reasonWrites: 25 },
    } as unknown as OffersContext;
    async function round(now: number, next: Record<string, PendingReason>) {
      clock.now = now;
      writes = {};
      const outcome = { placement: { pending: new Map(Object.entries(next)) }, pending } as unknown as OffersOutcome;
      await writeReasons(ctx, outcome);
      return writes;
    }
    return { round };
  }
  const behind = (n: number): PendingReason => ({
    code: 'PRIORITY',
    message: `behind ${n} jobs submitted earlier in queue default`,
  });

  it('writes a reason only when its kind changes: a place in the queue is never rewritten for its counts', async () => {
    const { round } = reasons({ a: null, b: behind(9).message, c: behind(9).message });
    // The first round writes a, which had no reason; b's place only moved, so it is not written.
    expect(await round(t0, { a: behind(3), b: behind(4), c: behind(9) })).toEqual({ a: behind(3).message });
    // c's reason changed kind (a place → the queue's quota), so it is written at once; b's moved place never is.
    const quota: PendingReason = {
      code: 'QUOTA',
      message: 'the queue’s quota: queue default is at its cpus limit 4 (4 in use)',
    };
    expect(await round(t0 + 1_000, { b: behind(2), c: quota })).toEqual({ c: quota.message });
    expect(await round(t0 + 3_600_000, { b: behind(2), c: behind(9) })).toEqual({});
    // A head that waits for resources (a had no reason written): a new kind, written.
    const resources: PendingReason = { code: 'RESOURCES', message: 'no agent with the resources: cpus:8;mem:16' };
    expect(await round(t0 + 3_601_000, { a: resources })).toEqual({ a: resources.message });
  });

  it("maps the allocator's reasons: its quota limit is the queue's quota, anything else the allocator's reason", () => {
    const quota = allocatorReason({
      code: 'QUOTA_LIMIT_REACHED',
      message: "Role 'gpu' is at its quota limit for gpus",
    });
    expect(quota).toEqual({ code: 'QUOTA', message: "the queue's quota: Role 'gpu' is at its quota limit for gpus" });
    const filtered = allocatorReason({ code: 'GPU_AGENTS_ONLY', message: 'Only agents with GPUs have something free' });
    expect(filtered.message).toBe("the allocator's reason: Only agents with GPUs have something free");
  });

  it('backs off the checks of a launch nobody heard of: doubling from the first, up to five minutes', () => {
    let wait: Wait = { kind: 'launch', until: t0 + 20_000 };
    const seen: number[] = [];
    for (let check = 0; check < 6; check++) {
      const now = wait.until;
      wait = launchCheckAgain(wait, now, 20_000);
      seen.push(wait.until - now);
      expect(wait).toMatchObject({ kind: 'launch', every: wait.until - now });
    }
    expect(seen).toEqual([40_000, 80_000, 160_000, 300_000, 300_000, 300_000]);
  });
});
