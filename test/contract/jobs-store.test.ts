/**
 * Mantle Jobs' store against DynamoDB Local: placement order from the pending index, conditional writes (a
 * conflicting write loses and changes nothing), an attempt recorded once with the job's move to RUNNING,
 * status updates applied idempotently, retries with backoff, and faults DynamoDB Local never produces
 * (throttling past the retries, a response lost after the write was applied).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyStatus, parseTaskId, recordAttempt } from '../../frameworks/jobs/attempts.js';
import type { Job } from '../../frameworks/jobs/model.js';
import { injectFaults } from '../support/faults.js';
import { freshJobs, type TestJobs } from '../support/jobs.js';

let t: TestJobs;
beforeAll(async () => {
  t = await freshJobs({ maxAttempts: 3 });
});
afterAll(async () => {
  await t?.close();
});

const placement = { agentId: 'agent-1', hostname: 'agent-1.local', offerId: 'offer-1' };

async function submit(spec: Record<string, unknown>): Promise<Job> {
  const submitted = await t.service.submit({ name: 'j', command: 'true', ...spec } as never);
  if (!submitted.ok) throw new Error(submitted.error.message);
  return submitted.value;
}

async function place(id: string) {
  const seen = await t.store.get(id);
  if (!seen) throw new Error(`no job ${id}`);
  return recordAttempt(t.engine, seen, [placement]);
}

describe('the jobs store', () => {
  it('reads a queue’s placeable jobs in placement order: priority, then FIFO', async () => {
    const queue = 'order';
    const low = await submit({ queue, priority: 0 });
    t.clock.advance(5);
    const high = await submit({ queue, priority: 10 });
    t.clock.advance(5);
    const lowLater = await submit({ queue, priority: 0 });
    t.clock.advance(5);
    const negative = await submit({ queue, priority: -3 });
    const pending = await t.store.pending(queue, 10);
    expect(pending.map((stored) => stored.job.id)).toEqual([high.id, low.id, lowLater.id, negative.id]);
    expect((await t.store.pending(queue, 2)).length).toBe(2);
    expect(await t.store.pending('another-queue', 10)).toEqual([]);
  });

  it('refuses a conflicting write: of two writers of one version, one wins and the other changes nothing', async () => {
    const job = await submit({ queue: 'conflict' });
    const read = await t.store.get(job.id);
    if (!read) throw new Error('not found');
    const first = { ...read, job: { ...read.job, priority: 5, version: read.job.version + 1 } };
    const second = { ...read, job: { ...read.job, priority: 7, version: read.job.version + 1 } };
    const results = await Promise.all([t.store.put(first, read.job.version), t.store.put(second, read.job.version)]);
    expect(results.filter(Boolean)).toHaveLength(1);
    const after = await t.store.get(job.id);
    expect(after?.job.version).toBe(read.job.version + 1);
    expect(after?.job.priority).toBe(results[0] ? 5 : 7);
    expect(await t.store.put(first, 'absent')).toBe(false);
  });

  it('records an attempt once, before its launch, and takes the job out of the pending index', async () => {
    const job = await submit({ queue: 'record' });
    const seen = await t.store.get(job.id);
    if (!seen) throw new Error('not found');
    const [one, two] = await Promise.all([
      recordAttempt(t.engine, seen, [placement]),
      recordAttempt(t.engine, seen, [placement]),
    ]);
    expect([one, two].filter((each) => each !== undefined)).toHaveLength(1);
    const attempts = await t.store.attempts(job.id);
    expect(attempts).toHaveLength(1);
    expect(attempts[0]?.tasks.map((task) => task.task_id)).toEqual([`${job.id}-1`]);
    const stored = await t.store.get(job.id, { attempts: true });
    expect(stored?.job.state).toBe('RUNNING');
    expect(stored?.attemptCount).toBe(1);
    expect(stored?.wait?.kind).toBe('launch');
    expect(await t.store.pending('record', 10)).toEqual([]);
    expect(parseTaskId(`${job.id}-12.3`)).toEqual({ jobId: job.id, attempt: 12, gangIndex: 3 });
    // A record of a stale read (the job moved since) is refused.
    expect(await recordAttempt(t.engine, seen, [placement])).toBeUndefined();
  });

  it('applies status updates to the attempt; a redelivered update changes nothing', async () => {
    const job = await submit({ queue: 'updates' });
    await place(job.id);
    const taskId = `${job.id}-1`;
    await applyStatus(t.engine, { taskId, state: 'TASK_RUNNING', time: t.clock.now });
    expect((await t.service.get(job.id))?.attempts[0]?.started_at).not.toBeNull();
    const finished = {
      taskId,
      state: 'TASK_FINISHED' as const,
      time: t.clock.now + 10,
      message: 'Command exited with status 0',
      output: 'done\n',
    };
    await applyStatus(t.engine, finished);
    const after = await t.service.get(job.id);
    expect(after?.state).toBe('SUCCEEDED');
    expect(after?.attempts[0]).toMatchObject({ state: 'TASK_FINISHED', exit_code: 0 });
    await applyStatus(t.engine, finished);
    await applyStatus(t.engine, { taskId, state: 'TASK_FAILED', time: t.clock.now + 20 });
    const again = await t.service.get(job.id);
    expect(again?.version).toBe(after?.version);
    expect(again?.attempts[0]?.state).toBe('TASK_FINISHED');
    // Not one of ours: ignored.
    expect(await applyStatus(t.engine, { taskId: 'foreign', state: 'TASK_FAILED', time: 0 })).toBeUndefined();
  });

  it('retries a failed attempt after its backoff (out of the pending index until then), then FAILED', async () => {
    const job = await submit({ queue: 'retries', retries: 1, retry_backoff_seconds: 30 });
    await place(job.id);
    await applyStatus(t.engine, { taskId: `${job.id}-1`, state: 'TASK_RUNNING', time: t.clock.now });
    await applyStatus(t.engine, { taskId: `${job.id}-1`, state: 'TASK_FAILED', time: t.clock.now });
    const waiting = await t.store.get(job.id);
    expect(waiting?.job.state).toBe('PENDING');
    expect(waiting?.wait).toEqual({ kind: 'retry', until: t.clock.now + 30_000 });
    expect(await t.store.pending('retries', 10)).toEqual([]);
    expect((await t.store.waiting('retry', t.clock.now + 30_000, 10)).map((s) => s.job.id)).toContain(job.id);
    expect((await t.store.waiting('retry', t.clock.now, 10)).map((s) => s.job.id)).not.toContain(job.id);
  });
});

describe('injected DynamoDB faults', () => {
  it('a fault outlasting the retries surfaces as an error and records nothing', async () => {
    const job = await submit({ queue: 'faults' });
    const seen = await t.store.get(job.id);
    if (!seen) throw new Error('not found');
    const fault = injectFaults(t.clients.dynamodb, {
      commands: ['TransactWriteItemsCommand'],
      times: 10,
      fault: { kind: 'reject', name: 'ThrottlingException' },
    });
    await expect(recordAttempt(t.engine, seen, [placement])).rejects.toThrow(/ThrottlingException/);
    fault.remove();
    const after = await t.store.get(job.id);
    expect(after?.job).toMatchObject({ state: 'PENDING', version: seen.job.version });
    expect(await t.store.attempts(job.id)).toEqual([]);
    expect((await t.store.pending('faults', 10)).map((s) => s.job.id)).toEqual([job.id]);
  });

  it('a response lost after the transaction was applied: the SDK retries with its token, applied once', async () => {
    const job = await submit({ queue: 'lost-response' });
    const seen = await t.store.get(job.id);
    if (!seen) throw new Error('not found');
    const fault = injectFaults(t.clients.dynamodb, {
      commands: ['TransactWriteItemsCommand'],
      times: 1,
      fault: { kind: 'lose-response' },
    });
    const recorded = await recordAttempt(t.engine, seen, [placement]);
    fault.remove();
    expect(fault.hits()).toBe(1);
    expect(recorded).toBeDefined();
    const after = await t.store.get(job.id);
    expect(after?.job).toMatchObject({ state: 'RUNNING', version: seen.job.version + 1 });
    expect(await t.store.attempts(job.id)).toHaveLength(1);
  });

  it('a lost response on a single conditional write reads as a conflict; the re-read finds it applied once', async () => {
    const job = await submit({ queue: 'lost-put', retries: 0 });
    await place(job.id);
    const fault = injectFaults(t.clients.dynamodb, {
      commands: ['PutItemCommand'],
      times: 1,
      fault: { kind: 'lose-response' },
    });
    await applyStatus(t.engine, { taskId: `${job.id}-1`, state: 'TASK_RUNNING', time: t.clock.now });
    fault.remove();
    const after = await t.service.get(job.id);
    expect(after?.attempts[0]?.state).toBe('TASK_RUNNING');
    expect(after?.state).toBe('RUNNING');
  });
});
