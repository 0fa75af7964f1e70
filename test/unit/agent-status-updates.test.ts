import { appendFile, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Checkpoint, parseJournal } from '../../agent/checkpoint.js';
import { Lifecycle } from '../../agent/lifecycle.js';
import { StatusUpdateManager, type StatusTransport } from '../../agent/status-update-manager.js';
import { journalRecords, StatusUpdateStream } from '../../agent/status-update-stream.js';
import { droppedState, taskStatus, uuidHex } from '../../agent/statuses.js';
import { createLogger } from '#shared/log.js';
import { Metrics } from '#shared/metrics.js';
import type { AgentMessage } from '#shared/protocol/internal.js';
import type { TaskState } from '#shared/protocol/mesos.js';
import { removeWorkDir, tempWorkDir } from '../support/agent.js';

const status = (state: TaskState, taskId = 't') => taskStatus({ taskId, state });

describe('a status update stream', () => {
  it('keeps only the head in flight and releases the next one on its acknowledgement', () => {
    const stream = new StatusUpdateStream();
    const starting = status('TASK_STARTING');
    const running = status('TASK_RUNNING');
    const finished = status('TASK_FINISHED');
    expect(stream.update(starting)).toBe('queued');
    expect(stream.update(running)).toBe('queued');
    expect(stream.head).toBe(starting);
    expect(stream.latestState).toBe('TASK_RUNNING');
    expect(stream.acknowledge(running.uuid as string)).toBe('duplicate');
    expect(stream.acknowledge('bm9wZQ==')).toBe('unknown');
    expect(stream.acknowledge(starting.uuid as string)).toBe('acknowledged');
    expect(stream.head).toBe(running);
    expect(stream.update(finished)).toBe('queued');
    expect(stream.terminated).toBe(true);
    expect(stream.acknowledge(running.uuid as string)).toBe('acknowledged');
    expect(stream.closed).toBe(false);
    expect(stream.acknowledge(finished.uuid as string)).toBe('acknowledged');
    expect(stream.closed).toBe(true);
    expect(stream.head).toBeUndefined();
  });

  it('ignores duplicates and anything after a terminal update', () => {
    const stream = new StatusUpdateStream();
    const failed = status('TASK_FAILED');
    stream.update(failed);
    expect(stream.update(failed)).toBe('duplicate');
    expect(stream.update(status('TASK_RUNNING'))).toBe('terminated');
    expect(stream.size).toBe(1);
    expect(() => stream.update({ task_id: { value: 't' }, state: 'TASK_RUNNING' })).toThrow(/uuid/);
  });

  it('is rebuilt from its journal, and a torn last line is dropped', () => {
    const a = status('TASK_STARTING');
    const b = status('TASK_RUNNING');
    const text = [
      JSON.stringify({ type: 'UPDATE', status: a }),
      JSON.stringify({ type: 'UPDATE', status: b }),
      JSON.stringify({ type: 'ACK', uuid: a.uuid }),
      '{"type":"UPDATE","sta',
    ].join('\n');
    const stream = StatusUpdateStream.replay(journalRecords(parseJournal(text)));
    expect(stream.head?.uuid).toBe(b.uuid);
    expect(stream.size).toBe(1);
    expect(() => parseJournal('{"broken\n{"type":"ACK","uuid":"x"}\n')).toThrow(/Corrupt journal line 1/);
    expect(() => journalRecords([{ type: 'NOPE' }])).toThrow(/neither/);
  });

  it('makes Mesos-shaped statuses', () => {
    const made = taskStatus(
      { taskId: 'x', state: 'TASK_RUNNING', executorId: 'x', containerId: 'c', healthy: true },
      1_700_000_000_000,
    );
    expect(made).toMatchObject({
      task_id: { value: 'x' },
      source: 'SOURCE_EXECUTOR',
      executor_id: { value: 'x' },
      container_status: { container_id: { value: 'c' } },
      healthy: true,
      timestamp: 1_700_000_000,
    });
    expect(Buffer.from(made.uuid as string, 'base64')).toHaveLength(16);
    expect(uuidHex(made.uuid as string)).toMatch(/^[0-9a-f]{32}$/);
    expect(droppedState({ user: 'u', name: 'n', capabilities: [{ type: 'PARTITION_AWARE' }] })).toBe('TASK_DROPPED');
    expect(droppedState({ user: 'u', name: 'n' })).toBe('TASK_LOST');
    expect(droppedState(undefined)).toBe('TASK_DROPPED');
  });
});

describe('the status update manager', () => {
  const workDirs: string[] = [];
  afterAll(async () => {
    for (const dir of workDirs) await removeWorkDir(dir);
  });

  async function setup(retryMinMs = 30) {
    const workDir = await tempWorkDir();
    workDirs.push(workDir);
    const life = new Lifecycle();
    const checkpoint = new Checkpoint(workDir, life);
    const sent: Array<{ message: AgentMessage; groupId: string; deduplicationId: string; at: number }> = [];
    let failNext = 0;
    const transport: StatusTransport = {
      send: (message, groupId, deduplicationId) => {
        if (failNext > 0) {
          failNext--;
          return Promise.reject(new Error('SQS is down'));
        }
        sent.push({ message, groupId, deduplicationId, at: Date.now() });
        return Promise.resolve();
      },
    };
    const closed: string[] = [];
    const make = (l: Lifecycle) =>
      new StatusUpdateManager({
        checkpoint: new Checkpoint(workDir, l),
        life: l,
        retryMinMs,
        retryMaxMs: retryMinMs * 4,
        logger: createLogger('test'),
        metrics: new Metrics(),
        onClosed: (frameworkId, taskId) => closed.push(`${frameworkId}/${taskId}`),
      });
    return { workDir, life, checkpoint, sent, transport, closed, make, fail: (n: number) => (failNext = n) };
  }

  const updatesOf = (sent: Array<{ message: AgentMessage }>) =>
    sent.map(({ message }) => (message.type === 'STATUS_UPDATE' ? message.status.state : message.type));

  it('sends nothing before registration, then the head only, and the next one after its acknowledgement', async () => {
    const { life, sent, transport, closed, make } = await setup(5_000);
    const manager = make(life);
    const starting = status('TASK_STARTING');
    const running = status('TASK_RUNNING');
    await manager.update('fw', starting);
    await manager.update('fw', running);
    expect(sent).toHaveLength(0);
    manager.start('agent-1', transport);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(updatesOf(sent)).toEqual(['TASK_STARTING']);
    const first = sent[0];
    expect(first?.groupId).toBe('fw/t');
    expect(first?.deduplicationId).toBe(`${uuidHex(starting.uuid as string)}-0`);
    expect(first?.message).toMatchObject({
      type: 'STATUS_UPDATE',
      agent_id: { value: 'agent-1' },
      framework_id: { value: 'fw' },
      latest_state: 'TASK_RUNNING',
      status: { agent_id: { value: 'agent-1' } },
    });
    await manager.acknowledge('fw', 't', starting.uuid as string);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(updatesOf(sent)).toEqual(['TASK_STARTING', 'TASK_RUNNING']);
    expect(await manager.acknowledge('fw', 't', starting.uuid as string)).toBe('duplicate');
    const finished = status('TASK_FINISHED');
    await manager.update('fw', finished);
    // The task ended behind an unacknowledged head: nothing goes at once (the end rides the head's retry).
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(updatesOf(sent)).toEqual(['TASK_STARTING', 'TASK_RUNNING']);
    await manager.acknowledge('fw', 't', running.uuid as string);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(updatesOf(sent)).toEqual(['TASK_STARTING', 'TASK_RUNNING', 'TASK_FINISHED']);
    await manager.acknowledge('fw', 't', finished.uuid as string);
    expect(closed).toEqual(['fw/t']);
    expect(manager.stream('fw', 't')).toBeUndefined();
    expect(await manager.acknowledge('fw', 't', finished.uuid as string)).toBe('unknown');
    life.end();
  });

  it('sends the heads that acknowledgements applied together release in one turn, after the last of them', async () => {
    const { life, sent, transport, make } = await setup(5_000);
    const manager = make(life);
    const tasks = ['a', 'b', 'c'];
    const starting = tasks.map((id) => status('TASK_STARTING', id));
    for (const [i, id] of tasks.entries()) {
      await manager.update('fw', starting[i] ?? status('TASK_STARTING', id));
      await manager.update('fw', status('TASK_RUNNING', id));
    }
    manager.start('agent-1', transport);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(sent).toHaveLength(3);
    sent.length = 0;
    // How many updates had gone when each acknowledgement was applied: none before the last.
    const sentWhenApplied: number[] = [];
    await Promise.all(
      starting.map((each, i) =>
        manager.acknowledge('fw', tasks[i] ?? '', each.uuid as string).then(() => sentWhenApplied.push(sent.length)),
      ),
    );
    expect(sentWhenApplied).toEqual([0, 0, 3]);
    expect(updatesOf(sent)).toEqual(['TASK_RUNNING', 'TASK_RUNNING', 'TASK_RUNNING']);
    // Alone, an acknowledgement releases its next head at once.
    const finished = status('TASK_FINISHED', 'a');
    await manager.update('fw', finished);
    sent.length = 0;
    const running = manager.stream('fw', 'a')?.head?.uuid as string;
    await manager.acknowledge('fw', 'a', running);
    expect(updatesOf(sent)).toEqual(['TASK_FINISHED']);
    life.end();
  });

  it('retries the head with a doubling backoff, through send failures, until acknowledged', async () => {
    const { life, sent, transport, make, fail } = await setup(30);
    const manager = make(life);
    fail(1);
    manager.start('agent-1', transport);
    const running = status('TASK_RUNNING');
    await manager.update('fw', running);
    const deadline = Date.now() + 10_000;
    while (sent.length < 4 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
    // The first send failed; the retries came after 30, 60, 120 (the cap) and 120 ms, each a fresh dedup id.
    const gaps = sent.slice(1).map((entry, i) => entry.at - (sent[i]?.at ?? 0));
    expect(sent).toHaveLength(4);
    expect(gaps[0]).toBeGreaterThanOrEqual(55);
    expect(gaps[1]).toBeGreaterThanOrEqual(115);
    expect(gaps[2]).toBeGreaterThanOrEqual(115);
    expect(sent.map((entry) => entry.deduplicationId)).toEqual(
      [1, 2, 3, 4].map((n) => `${uuidHex(running.uuid as string)}-${n}`),
    );
    await manager.acknowledge('fw', 't', running.uuid as string);
    const count = sent.length;
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(sent.length).toBe(count);
    life.end();
  });

  it('waits longer before a first resend once acknowledgements take longer than the minimum', async () => {
    const { life, sent, transport, make } = await setup(30);
    const manager = make(life);
    manager.start('agent-1', transport);
    expect(manager.firstRetryMs).toBe(30);
    const slow = status('TASK_RUNNING', 'slow');
    await manager.update('fw', slow);
    await new Promise((resolve) => setTimeout(resolve, 100));
    await manager.acknowledge('fw', 'slow', slow.uuid as string);
    // One round trip of about 100 ms: 100 + 4 × 50, capped at the maximum (4 × 30).
    expect(manager.firstRetryMs).toBe(120);
    sent.length = 0;
    const next = status('TASK_RUNNING', 'next');
    await manager.update('fw', next);
    const deadline = Date.now() + 5_000;
    while (sent.length < 2 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 5));
    expect((sent[1]?.at ?? 0) - (sent[0]?.at ?? 0)).toBeGreaterThanOrEqual(115);
    expect(sent).toHaveLength(2);
    life.end();
  });

  it("carries an end behind the head on the head's retry, as latest_state, not in a send of its own", async () => {
    const { life, sent, transport, make } = await setup(30);
    const manager = make(life);
    manager.start('agent-1', transport);
    const starting = status('TASK_STARTING');
    await manager.update('fw', starting);
    await manager.update('fw', status('TASK_FINISHED'));
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(sent.map((entry) => entry.message)).toMatchObject([{ status: { uuid: starting.uuid } }]);
    const deadline = Date.now() + 5_000;
    while (sent.length < 2 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 5));
    expect((sent[1]?.at ?? 0) - (sent[0]?.at ?? 0)).toBeGreaterThanOrEqual(25);
    expect(sent[1]?.message).toMatchObject({ status: { uuid: starting.uuid }, latest_state: 'TASK_FINISHED' });
    life.end();
  });

  it('survives a crash: the journal gives back the stream, and the unacknowledged head is resent', async () => {
    const { life, sent, transport, make } = await setup(5_000);
    const before = make(life);
    const starting = status('TASK_STARTING');
    const running = status('TASK_RUNNING');
    await before.update('fw', starting);
    await before.update('fw', running);
    before.start('agent-1', transport);
    await before.acknowledge('fw', 't', starting.uuid as string);
    life.end();
    await expect(before.update('fw', status('TASK_FINISHED'))).rejects.toThrow(/stopped/);

    const again = new Lifecycle();
    const after = make(again);
    const stream = await after.recover('fw', 't');
    expect(stream.head?.uuid).toBe(running.uuid);
    expect(stream.latestState).toBe('TASK_RUNNING');
    sent.length = 0;
    after.start('agent-1', transport);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(sent.map((entry) => (entry.message.type === 'STATUS_UPDATE' ? entry.message.status.uuid : ''))).toEqual([
      running.uuid,
    ]);
    again.end();
  });

  it('writes one JSON line per record, in order', async () => {
    const { life, checkpoint, make } = await setup();
    const manager = make(life);
    const a = status('TASK_STARTING', 'ordered');
    const b = status('TASK_RUNNING', 'ordered');
    await Promise.all([
      manager.update('fw', a),
      manager.update('fw', b),
      manager.acknowledge('fw', 'ordered', a.uuid as string),
    ]);
    await appendFile(checkpoint.updatesFile('fw', 'ordered'), '');
    const lines = (await readFile(checkpoint.updatesFile('fw', 'ordered'), 'utf8')).trim().split('\n');
    expect(lines.map((line) => (JSON.parse(line) as { type: string }).type)).toEqual(['UPDATE', 'UPDATE', 'ACK']);
    life.end();
  });

  it('journals no acknowledgement of the terminal update (the stream closes; a lost one only costs a resend)', async () => {
    const { life, checkpoint, transport, closed, make } = await setup();
    const manager = make(life);
    const running = status('TASK_RUNNING', 'ends');
    const finished = status('TASK_FINISHED', 'ends');
    await manager.update('fw', running);
    await manager.update('fw', finished);
    manager.start('agent-1', transport);
    await manager.acknowledge('fw', 'ends', running.uuid as string);
    await manager.acknowledge('fw', 'ends', finished.uuid as string);
    expect(closed).toEqual(['fw/ends']);
    const journal = await checkpoint.readJournal(checkpoint.updatesFile('fw', 'ends'));
    expect(journal.map((record) => (record as { type: string }).type)).toEqual(['UPDATE', 'UPDATE', 'ACK']);
    // Read back after a crash at this point, the terminal update is the head again: it is resent, not lost.
    const replayed = StatusUpdateStream.replay(journalRecords(journal));
    expect(replayed.head?.uuid).toBe(finished.uuid);
    life.end();
  });
});

describe("the agent's checkpoint", () => {
  it('makes a missing directory when it writes, and writes of one file made meanwhile share the next write, in order', async () => {
    const workDir = await tempWorkDir();
    try {
      const life = new Lifecycle();
      const checkpoint = new Checkpoint(workDir, life);
      const path = join(checkpoint.meta, 'deep', 'er', 'state.json');
      await checkpoint.append(join(checkpoint.meta, 'new', 'journal'), { n: 1 }, { durable: false });
      expect(await checkpoint.readJournal(join(checkpoint.meta, 'new', 'journal'))).toEqual([{ n: 1 }]);
      let value = 0;
      let reads = 0;
      const next = () => {
        reads++;
        return { value };
      };
      // Asked for together: one write, of the latest value.
      const together = [checkpoint.writeLatest(path, next), checkpoint.writeLatest(path, next)];
      value = 1;
      expect(together[0]).toBe(together[1]);
      await Promise.all(together);
      expect([reads, await checkpoint.readJson(path)]).toEqual([1, { value: 1 }]);
      // Asked for while a write is under way: the next write, which starts once that one is done.
      const first = checkpoint.writeLatest(path, next);
      while (reads < 2) await new Promise((resolve) => setImmediate(resolve));
      value = 2;
      const second = checkpoint.writeLatest(path, next);
      value = 3;
      expect(checkpoint.writeLatest(path, next)).toBe(second);
      await Promise.all([first, second]);
      expect([reads, await checkpoint.readJson(path)]).toEqual([3, { value: 3 }]);
      life.end();
      await expect(checkpoint.writeLatest(path, next)).rejects.toThrow(/stopped/);
    } finally {
      await removeWorkDir(workDir);
    }
  });
});
