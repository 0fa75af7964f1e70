/**
 * The agent's output shipper and sandbox garbage collector on real files in a temporary work dir. The
 * store is a recording TaskLogWriter (the CloudWatch writer is tested against the stand-in in
 * test/contract/task-logs.test.ts, and the whole path end to end in test/e2e/task-output.test.ts).
 */
import { mkdir, mkdtemp, appendFile, rm, stat, utimes, writeFile, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createLogger } from '#shared/log.js';
import { Metrics } from '#shared/metrics.js';
import type { TaskLogEvent, TaskLogWriter } from '#shared/task-logs/store.js';
import { Checkpoint } from '../../agent/checkpoint.js';
import type { TaskRecord } from '../../agent/executor.js';
import { Lifecycle } from '../../agent/lifecycle.js';
import { OutputShipper, outputEvents, taskStreams, utf8Boundary } from '../../agent/output-shipper.js';
import { maxSandboxAgeMs, SandboxGc, sandboxesToRemove } from '../../agent/sandbox-gc.js';

class RecordingWriter implements TaskLogWriter {
  readonly streams = new Map<string, TaskLogEvent[]>();
  readonly batches: number[] = [];
  failures = 0;
  async append(stream: string, events: readonly TaskLogEvent[]): Promise<void> {
    if (this.failures > 0) {
      this.failures--;
      throw Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' });
    }
    this.batches.push(events.reduce((sum, event) => sum + Buffer.byteLength(event.message), 0));
    this.streams.set(stream, [...(this.streams.get(stream) ?? []), ...events]);
  }
  text(stream: string): string {
    return (this.streams.get(stream) ?? []).map((event) => event.message).join('');
  }
}

let workDir: string;
let life: Lifecycle;
beforeEach(async () => {
  workDir = await mkdtemp(join(tmpdir(), 'mantle-shipper-'));
  life = new Lifecycle();
});
afterEach(async () => {
  life.end();
  await rm(workDir, { recursive: true, force: true });
});

function shipper(options: Partial<ConstructorParameters<typeof OutputShipper>[0]> = {}): OutputShipper {
  return new OutputShipper({
    checkpoint: new Checkpoint(workDir, life),
    life,
    logger: createLogger('test'),
    metrics: new Metrics(),
    pollMs: 10,
    flushMs: 100,
    retryMinMs: 10,
    ...options,
  });
}

async function taskRecord(taskId = 'task-1'): Promise<TaskRecord> {
  const checkpoint = new Checkpoint(workDir, life);
  const sandbox = checkpoint.sandbox('fw-1', taskId, `c-${taskId}`);
  await mkdir(sandbox, { recursive: true });
  await mkdir(checkpoint.taskDir('fw-1', taskId), { recursive: true });
  return {
    frameworkId: 'fw-1',
    executorId: taskId,
    task: { task_id: { value: taskId } },
    launchId: 'launch-1',
    containerId: `c-${taskId}`,
    sandbox,
  } as unknown as TaskRecord;
}

const STDOUT = 'frameworks/fw-1/executors/task-1/runs/c-task-1/stdout';

describe('the output shipper', () => {
  it('names streams after the sandbox: a task group task under its executor run, whichever launch it came in', async () => {
    const record = await taskRecord();
    expect(taskStreams(record).map((s) => s.stream)).toEqual([STDOUT, STDOUT.replace('stdout', 'stderr')]);
    const group = { ...record, executorId: 'group', parentSandbox: '/w/runs/launch-1' } as TaskRecord;
    expect(taskStreams(group)[0]?.stream).toBe('frameworks/fw-1/executors/group/runs/launch-1/tasks/task-1/stdout');
    // A group of a later launch that joined the running executor: its run is the executor's.
    const joined = { ...group, launchId: 'launch-2' } as TaskRecord;
    expect(taskStreams(joined)[0]?.stream).toBe('frameworks/fw-1/executors/group/runs/launch-1/tasks/task-1/stdout');
  });

  it('cuts events at lines and long lines at UTF-8 boundaries', () => {
    expect(outputEvents('a\nb\nc', 5).map((event) => event.message)).toEqual(['a\n', 'b\n', 'c']);
    const long = 'é'.repeat(40_000);
    const pieces = outputEvents(long, 5).map((event) => event.message);
    expect(pieces.join('')).toBe(long);
    expect(pieces.every((piece) => Buffer.byteLength(piece) <= 64 * 1024)).toBe(true);
    expect(utf8Boundary(Buffer.from('aé').subarray(0, 2))).toBe(1);
    expect(utf8Boundary(Buffer.from('aé'))).toBe(3);
  });

  it('ships whole lines as they are written, a partial line after the flush delay, the rest at the end', async () => {
    const writer = new RecordingWriter();
    const output = shipper();
    output.connect(writer);
    const record = await taskRecord();
    await output.start(record);
    await appendFile(join(record.sandbox, 'stdout'), 'one\ntw');
    await expect.poll(() => writer.text(STDOUT), { timeout: 2000 }).toBe('one\n');
    await expect.poll(() => writer.text(STDOUT), { timeout: 2000 }).toBe('one\ntw');
    await appendFile(join(record.sandbox, 'stdout'), 'o\nlast, no newline');
    await output.finish(record);
    expect(writer.text(STDOUT)).toBe('one\ntwo\nlast, no newline');
    expect(output.active).toBe(0);
  });

  it('keeps output in the file while the store fails, retries, and loses or repeats nothing', async () => {
    const writer = new RecordingWriter();
    writer.failures = 5;
    const metrics = new Metrics();
    const output = shipper({ metrics, maxBatchBytes: 1024 });
    output.connect(writer);
    const record = await taskRecord();
    const text = Array.from({ length: 200 }, (_, i) => `line ${i}\n`).join('');
    await writeFile(join(record.sandbox, 'stdout'), text);
    await output.start(record);
    await output.finish(record);
    expect(writer.text(STDOUT)).toBe(text);
    expect(Math.max(...writer.batches)).toBeLessThanOrEqual(1024);
    expect(metrics.snapshot()['slave/task_output_ship_errors']).toBe(5);
  });

  it('waits for the store to be named, and a restarted agent resumes from the shipped offset', async () => {
    const record = await taskRecord();
    const first = shipper();
    await first.start(record);
    await writeFile(join(record.sandbox, 'stdout'), 'before\n');
    await new Promise((resolve) => setTimeout(resolve, 50));
    const writer = new RecordingWriter();
    first.connect(writer);
    await expect.poll(() => writer.text(STDOUT)).toBe('before\n');
    life.end();
    life = new Lifecycle();
    await appendFile(join(record.sandbox, 'stdout'), 'after\n');
    const second = shipper();
    second.connect(writer);
    await second.start(record);
    await second.finish(record);
    expect(writer.text(STDOUT)).toBe('before\nafter\n');
  });

  it("does not hold a task's end while no store is named, and ships once one is", async () => {
    const output = shipper({ finishTimeoutMs: 5000 });
    const record = await taskRecord();
    await writeFile(join(record.sandbox, 'stdout'), 'unnamed\n');
    await output.start(record);
    const started = Date.now();
    await output.finish(record);
    expect(Date.now() - started).toBeLessThan(500);
    const writer = new RecordingWriter();
    output.connect(writer);
    await expect.poll(() => writer.text(STDOUT)).toBe('unnamed\n');
    await expect.poll(() => output.active).toBe(0);
  });

  it('gives up waiting at the end after the finish timeout when the store stays down', async () => {
    const writer = new RecordingWriter();
    writer.failures = Number.POSITIVE_INFINITY;
    const output = shipper({ finishTimeoutMs: 100 });
    output.connect(writer);
    const record = await taskRecord();
    await writeFile(join(record.sandbox, 'stdout'), 'stuck\n');
    await output.start(record);
    const started = Date.now();
    await output.finish(record);
    expect(Date.now() - started).toBeLessThan(1000);
  });
});

describe('sandbox garbage collection', () => {
  it('scales gc_delay down as the disk fills (Mesos: gc_delay × max(0, 1 − headroom − usage))', () => {
    const week = 7 * 86_400_000;
    expect(maxSandboxAgeMs(week, 0.1, 0.4)).toBeCloseTo(week * 0.5);
    expect(maxSandboxAgeMs(week, 0.1, 0.95)).toBe(0);
    const sandboxes = [
      { path: '/old', changedAt: 0 },
      { path: '/young', changedAt: 900 },
      { path: '/live', changedAt: 0 },
    ];
    const limits = { gcDelayMs: 1000, headroom: 0.1, diskUsage: 0.4, now: 1000 };
    expect(sandboxesToRemove(sandboxes, new Set(['/live']), limits)).toEqual(['/old']);
    expect(sandboxesToRemove(sandboxes, new Set(['/live']), { ...limits, diskUsage: 0.9 })).toEqual(['/old', '/young']);
  });

  it('removes ended sandboxes after the delay, sooner on a full disk, never a live one', async () => {
    const checkpoint = new Checkpoint(workDir, life);
    const old = checkpoint.sandbox('fw-1', 'old', 'c1');
    const fresh = checkpoint.sandbox('fw-1', 'fresh', 'c2');
    const live = checkpoint.sandbox('fw-2', 'live', 'c3');
    for (const dir of [old, fresh, live]) {
      await mkdir(dir, { recursive: true });
      await writeFile(join(dir, 'stdout'), 'x');
    }
    const hourAgo = new Date(Date.now() - 3_600_000);
    for (const path of [old, join(old, 'stdout'), live, join(live, 'stdout')]) await utimes(path, hourAgo, hourAgo);
    let usage = 0.2;
    const gc = new SandboxGc({
      workDir,
      gcDelayMs: 2 * 3_600_000,
      gcDiskHeadroom: 0.1,
      intervalMs: 1000,
      live: () => new Set([live]),
      life,
      logger: createLogger('test'),
      metrics: new Metrics(),
      diskUsage: async () => usage,
    });
    // Limit 2 h × 0.7 = 84 min: nothing is that old.
    expect(await gc.collect()).toEqual([]);
    usage = 0.5; // 2 h × 0.4 = 48 min: the hour-old ended sandbox goes, with its empty executor folder.
    expect(await gc.collect()).toEqual([old]);
    await expect(stat(join(workDir, 'frameworks', 'fw-1', 'executors', 'old'))).rejects.toThrow();
    usage = 0.95; // past the headroom: every ended sandbox, however young.
    expect(await gc.collect()).toEqual([fresh]);
    expect(await readdir(join(workDir, 'frameworks'))).toEqual(['fw-2']);
    expect((await stat(join(live, 'stdout'))).isFile()).toBe(true);
  });
});
