/**
 * The Jobs service against DynamoDB Local and the registrar's roles: submit (validation, arrays, dependencies,
 * schedules), get, list (filters, merged queues, the cursor), cancel (its answers per state, children, kills),
 * logs, and queues as roles.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyStatus, recordAttempt } from '../../frameworks/jobs/attempts.js';
import { tickSchedule } from '../../frameworks/jobs/children.js';
import type { Job } from '../../frameworks/jobs/model.js';
import { isValidCursor } from '../../frameworks/jobs/service.js';
import { freshJobs, type TestJobs } from '../support/jobs.js';

let t: TestJobs;
beforeAll(async () => {
  t = await freshJobs();
});
afterAll(async () => {
  await t?.close();
});

async function submit(spec: Record<string, unknown>): Promise<Job> {
  const submitted = await t.service.submit({ name: 'j', command: 'true', ...spec } as never);
  if (!submitted.ok) throw new Error(submitted.error.message);
  t.clock.advance(2);
  return submitted.value;
}

/** Runs a job's next attempt to `state`, with `output`. */
async function run(id: string, state: 'TASK_FINISHED' | 'TASK_FAILED', output = '') {
  const seen = await t.store.get(id);
  if (!seen) throw new Error(`no job ${id}`);
  const recorded = await recordAttempt(t.engine, seen, [{ agentId: 'a', hostname: 'a.local', offerId: 'o' }]);
  const taskId = recorded?.attempt.tasks[0]?.task_id ?? '';
  await applyStatus(t.engine, { taskId, state: 'TASK_RUNNING', time: t.clock.now });
  const message = `Command exited with status ${state === 'TASK_FINISHED' ? 0 : 1}`;
  await applyStatus(t.engine, { taskId, state, time: t.clock.now, message, output });
}

describe('pending reasons', () => {
  it('counts a place in the queue when the job is read: the framework writes only that it waits behind others', async () => {
    const first = await submit({ queue: 'places', priority: 5 });
    const second = await submit({ queue: 'places' });
    const third = await submit({ queue: 'places' });
    const written = await t.engine.mutate(third.id, (current) => ({
      ...current,
      job: { ...current.job, pending_reason: 'behind 7 jobs submitted earlier in queue places' },
    }));
    const place = 'behind 1 job of higher priority and 1 job submitted earlier in queue places';
    expect((await t.service.get(third.id))?.pending_reason).toBe(place);
    const listed = await t.service.list({ queues: ['places'], state: 'PENDING', limit: 10 });
    expect(listed.jobs.find((job) => job.id === third.id)?.pending_reason).toBe(place);
    // The jobs ahead run: its place moves with no write to it.
    await run(first.id, 'TASK_FINISHED');
    expect((await t.service.get(third.id))?.pending_reason).toBe('behind 1 job submitted earlier in queue places');
    await run(second.id, 'TASK_FINISHED');
    const head = await t.service.get(third.id);
    expect(head?.pending_reason).toBe('first in queue places: waiting for the next offers');
    expect(head?.version).toBe(written?.job.version);
  });
});

describe('submit', () => {
  it('refuses a bad spec with the field named, and writes nothing', async () => {
    const bad = await t.service.submit({ name: 'x', command: 'true', retires: 3 } as never);
    expect(bad).toMatchObject({ ok: false, error: { code: 'INVALID_JOB' } });
    expect(!bad.ok && bad.error.message).toMatch(/unknown field 'retires'/);
    const none = await t.service.submit({ name: 'x' } as never);
    expect(!none.ok && none.error.message).toMatch(/command/);
  });

  it('answers the normalized job, PENDING, and wakes the framework for its queue', async () => {
    const job = await submit({ queue: 'plain', resources: 'cpus:2;mem:256', env: { A: '1' } });
    expect(job).toMatchObject({ state: 'PENDING', queue: 'plain', attempts: [], parent: null, version: 0 });
    expect(job.resources.map((r) => r.name).sort()).toEqual(['cpus', 'mem']);
    expect(t.woken.at(-1)).toEqual(['plain']);
    expect(await t.service.get(job.id)).toEqual(job);
    expect(await t.service.get('no-such-job')).toBeUndefined();
  });

  it('creates an array job’s children, each with its index, and a parent summarising them', async () => {
    const parent = await submit({ queue: 'arrays', array: { size: 3 } });
    expect(parent.children).toEqual({ PENDING: 3, RUNNING: 0, SUCCEEDED: 0, FAILED: 0, CANCELLED: 0 });
    const children = await t.service.list({ parent: parent.id, limit: 10 });
    expect(children.jobs.map((c) => [c.id, c.array_index, c.parent])).toEqual([
      [`${parent.id}:0`, 0, parent.id],
      [`${parent.id}:1`, 1, parent.id],
      [`${parent.id}:2`, 2, parent.id],
    ]);
    expect(children.next).toBeNull();
    await run(`${parent.id}:0`, 'TASK_FINISHED');
    expect((await t.service.get(parent.id))?.state).toBe('RUNNING');
    await run(`${parent.id}:1`, 'TASK_FINISHED');
    await run(`${parent.id}:2`, 'TASK_FAILED');
    const ended = await t.service.get(parent.id);
    expect(ended?.state).toBe('FAILED');
    expect(ended?.children).toEqual({ PENDING: 0, RUNNING: 0, SUCCEEDED: 2, FAILED: 1, CANCELLED: 0 });
    const page = await t.service.list({ parent: parent.id, limit: 2 });
    expect(page.jobs).toHaveLength(2);
    const rest = await t.service.list({ parent: parent.id, limit: 2, next: page.next ?? '' });
    expect(rest.jobs.map((c) => c.array_index)).toEqual([2]);
    const failed = await t.service.list({ parent: parent.id, state: 'FAILED', limit: 10 });
    expect(failed.jobs.map((c) => c.array_index)).toEqual([2]);
  });

  it('holds a dependent job until its dependency succeeds; cancels one whose dependency failed', async () => {
    const a = await submit({ queue: 'deps' });
    const b = await submit({ queue: 'deps', depends_on: [{ job: a.id }] });
    const afterAny = await submit({ queue: 'deps', depends_on: [{ job: a.id, condition: 'finished' }] });
    expect(b.pending_reason).toBe(`waiting for dependency ${a.id} to succeed`);
    expect((await t.store.pending('deps', 10)).map((s) => s.job.id)).toEqual([a.id]);
    await run(a.id, 'TASK_FAILED');
    const cancelled = await t.service.get(b.id);
    expect(cancelled?.state).toBe('CANCELLED');
    expect(cancelled?.status_reason).toBe(`dependency ${a.id} ended FAILED, and this job needs it to succeed`);
    expect((await t.store.pending('deps', 10)).map((s) => s.job.id)).toEqual([afterAny.id]);
    const orphan = await submit({ queue: 'deps', depends_on: [{ job: 'no-such-job' }] });
    expect(orphan.state).toBe('CANCELLED');
    expect(orphan.status_reason).toBe('dependency no-such-job does not exist');
  });

  it('creates one run per due tick of a scheduled job, and collapses missed ticks into one', async () => {
    const job = await submit({ queue: 'sched', schedule: 'R3//PT10S' });
    expect(job.state).toBe('PENDING');
    expect(job.pending_reason).toMatch(/^waiting for its schedule: next run at /);
    const first = await tickSchedule(t.engine, job.id);
    expect(first?.job.parent).toBe(job.id);
    expect(await tickSchedule(t.engine, job.id)).toBeUndefined();
    t.clock.advance(25_000);
    const second = await tickSchedule(t.engine, job.id);
    expect(second?.job.id).not.toBe(first?.job.id);
    const parent = await t.service.get(job.id);
    expect(parent?.next_tick).toBeNull();
    expect(parent?.children?.PENDING).toBe(2);
    await run(first?.job.id ?? '', 'TASK_FINISHED');
    await run(second?.job.id ?? '', 'TASK_FINISHED');
    await tickSchedule(t.engine, job.id);
    expect((await t.service.get(job.id))?.state).toBe('SUCCEEDED');
  });
});

describe('cancel', () => {
  it('answers per state: NOT_FOUND, CANCELLED (again: a no-op), CONFLICT once ended', async () => {
    expect(await t.service.cancel('nope', 'x')).toMatchObject({ ok: false, error: { code: 'NOT_FOUND' } });
    const job = await submit({ queue: 'cancel' });
    const cancelled = await t.service.cancel(job.id, 'not needed');
    expect(cancelled).toMatchObject({ ok: true, value: { state: 'CANCELLED', status_reason: 'not needed' } });
    const again = await t.service.cancel(job.id, 'twice');
    expect(again).toMatchObject({ ok: true, value: { state: 'CANCELLED', status_reason: 'not needed' } });
    const done = await submit({ queue: 'cancel' });
    await run(done.id, 'TASK_FINISHED');
    expect(await t.service.cancel(done.id, 'late')).toMatchObject({ ok: false, error: { code: 'CONFLICT' } });
  });

  it('kills a running job’s tasks, and cancels an array’s children', async () => {
    const running = await submit({ queue: 'cancel-run' });
    const seen = await t.store.get(running.id);
    if (!seen) throw new Error('not found');
    await recordAttempt(t.engine, seen, [{ agentId: 'a', hostname: 'a.local', offerId: 'o' }]);
    await t.service.cancel(running.id, 'stop');
    expect(t.killed).toContain(running.id);
    expect((await t.store.get(running.id))?.wait?.kind).toBe('kill');
    const array = await submit({ queue: 'cancel-run', array: 2 });
    await t.service.cancel(array.id, 'stop all');
    const children = await t.service.list({ parent: array.id, limit: 10 });
    expect(children.jobs.map((c) => c.state)).toEqual(['CANCELLED', 'CANCELLED']);
    expect((await t.service.get(array.id))?.children?.CANCELLED).toBe(2);
  });
});

describe('list, logs and queues', () => {
  it('lists top-level jobs newest first, by queue(s) and state, page by page with an opaque cursor', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push((await submit({ queue: 'list-a' })).id);
    for (let i = 0; i < 2; i++) ids.push((await submit({ queue: 'list-b' })).id);
    const both = await t.service.list({ queues: ['list-a', 'list-b'], limit: 2 });
    expect(both.jobs.map((j) => j.id)).toEqual([ids[4], ids[3]]);
    const more = await t.service.list({ queues: ['list-a', 'list-b'], limit: 2, next: both.next ?? '' });
    expect(more.jobs.map((j) => j.id)).toEqual([ids[2], ids[1]]);
    const last = await t.service.list({ queues: ['list-a', 'list-b'], limit: 2, next: more.next ?? '' });
    expect(last.jobs.map((j) => j.id)).toEqual([ids[0]]);
    expect(last.next).toBeNull();
    await t.service.cancel(ids[0] ?? '', 'x');
    const cancelled = await t.service.list({ queues: ['list-a'], state: 'CANCELLED', limit: 10 });
    expect(cancelled.jobs.map((j) => j.id)).toEqual([ids[0]]);
    const all = await t.service.list({ state: 'CANCELLED', limit: 1000 });
    expect(all.jobs.map((j) => j.id)).toContain(ids[0]);
    expect(isValidCursor('garbage')).toBe(false);
    expect(await t.service.list({ limit: 5, next: 'garbage' })).toEqual({ jobs: [], next: null });
  });

  it('answers the latest ended attempt’s output as logs', async () => {
    const job = await submit({ queue: 'logs', retries: 1 });
    expect(await t.service.logs(job.id)).toEqual({ ok: true, value: '' });
    await run(job.id, 'TASK_FAILED', 'first try\n');
    expect(await t.service.logs(job.id)).toEqual({ ok: true, value: 'first try\n' });
    expect(await t.service.logs('nope')).toMatchObject({ ok: false, error: { code: 'NOT_FOUND' } });
  });

  it('keeps a queue’s weight and quota as its role’s, and counts its jobs by state', async () => {
    const put = await t.service.putQueue('gpu', { weight: 2, quota: { guarantees: { gpus: 1 }, limits: { gpus: 4 } } });
    expect(put).toMatchObject({ ok: true, value: { name: 'gpu', weight: 2 } });
    const role = await t.registrar.registrar.roles.get('gpu');
    expect(role).toMatchObject({ weight: 2, quota: { guarantees: { gpus: 1 }, limits: { gpus: 4 } } });
    await submit({ queue: 'gpu' });
    const queue = await t.service.getQueue('gpu');
    expect(queue?.counts.PENDING).toBe(1);
    expect(await t.service.getQueue('never-used')).toBeUndefined();
    expect((await t.service.getQueue('default'))?.weight).toBe(1);
    const names = (await t.service.listQueues()).map((q) => q.name);
    expect(names).toEqual(expect.arrayContaining(['default', 'gpu', 'plain', 'arrays']));
    expect(await t.service.putQueue('*', { weight: 1, quota: { guarantees: {}, limits: {} } })).toMatchObject({
      ok: false,
      error: { code: 'INVALID_QUEUE' },
    });
    expect(
      await t.service.putQueue('a/b', { weight: 1, quota: { guarantees: {}, limits: { cpus: 1 } } }),
    ).toMatchObject({
      ok: false,
      error: { code: 'INVALID_QUEUE' },
    });
  });
});
