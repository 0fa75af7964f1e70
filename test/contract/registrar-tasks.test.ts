import { randomUUID } from 'node:crypto';
import { CreateTableCommand, DeleteTableCommand } from '@aws-sdk/client-dynamodb';
import { GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TaskState, TaskStatus } from '#shared/protocol/mesos.js';
import type { TaskRecord } from '../../functions/registrar/index.js';
import { SHARDS, ShardMerge, shardKey, shardOf } from '../../functions/registrar/shards.js';
import { epochSeconds } from '../../functions/registrar/expression.js';
import { INFO_LEASE_MS, INFO_RENEWAL_MS } from '../../functions/registrar/task-info-leases.js';
import { scalarResource } from '#shared/resources/resource.js';
import { injectFaults } from '../support/faults.js';
import { freshRegistrar, type TestRegistrar } from '../support/registrar.js';

let t: TestRegistrar;
beforeAll(async () => {
  t = await freshRegistrar();
});
afterAll(async () => {
  await t.close();
});

const uuid = () => Buffer.from(randomUUID().replace(/-/g, ''), 'hex').toString('base64');

function taskInfo(taskId: string) {
  return {
    name: `job ${taskId}`,
    task_id: { value: taskId },
    agent_id: { value: 'agent-1' },
    resources: [{ name: 'cpus', type: 'SCALAR', scalar: { value: 1 } }],
    command: { value: 'sleep 1' },
    data: Buffer.from('secret payload').toString('base64'),
  };
}

async function added(frameworkId: string, taskId: string, launchId = `launch-${taskId}`): Promise<TaskRecord> {
  const result = await t.registrar.tasks.add({
    frameworkId,
    agentId: 'agent-1',
    role: '*',
    resources: [scalarResource('cpus', 1, { allocationRole: '*' })],
    info: taskInfo(taskId),
    launchId,
  });
  if (!result.ok) throw new Error(result.error.message);
  return result.value;
}

/** The ids of a framework's tasks as listByFramework gives them. */
async function listedIds(frameworkId: string): Promise<string[]> {
  const ids: string[] = [];
  for await (const task of t.registrar.tasks.listByFramework(frameworkId)) ids.push(task.taskId);
  return ids;
}

function rowKeyOf(frameworkId: string, taskId: string) {
  return { framework_shard: shardKey(frameworkId, shardOf(taskId)), task_id: taskId };
}

function status(taskId: string, state: TaskState, extra: Partial<TaskStatus> = {}): TaskStatus {
  return { task_id: { value: taskId }, state, source: 'SOURCE_EXECUTOR', uuid: uuid(), ...extra };
}

describe('task rows', () => {
  it('records a launched task in TASK_STAGING, without its data', async () => {
    const task = await added('fw-1', 't1');
    expect(task).toMatchObject({ state: 'TASK_STAGING', agentId: 'agent-1', name: 'job t1', uuids: [], version: 1 });
    expect(await t.registrar.tasks.get('fw-1', 't1')).toEqual(task);
  });

  it('is idempotent for one launch and refuses a second active task with the same id', async () => {
    const task = await added('fw-1', 't2', 'launch-A');
    expect(await added('fw-1', 't2', 'launch-A')).toEqual(task);
    const duplicate = await t.registrar.tasks.add({
      frameworkId: 'fw-1',
      agentId: 'agent-2',
      role: '*',
      resources: [],
      info: taskInfo('t2'),
      launchId: 'launch-B',
    });
    expect(duplicate).toMatchObject({ ok: false, error: { code: 'DUPLICATE_TASK' } });
    // Another framework may use the same task id: ids are per framework.
    expect((await added('fw-2', 't2')).frameworkId).toBe('fw-2');
  });

  it("inserts a launch's rows and TaskInfos together: one request for each, none put alone", async () => {
    const counted = (command: string) =>
      injectFaults(t.clients.dynamodb, {
        commands: [command],
        times: 100,
        fault: { kind: 'hold', until: Promise.resolve() },
      });
    const batches = counted('BatchExecuteStatementCommand');
    const puts = counted('PutItemCommand');
    const ids = Array.from({ length: 12 }, (_, i) => `launch-together-${i}`);
    const tasks = await Promise.all(ids.map((taskId) => added('fw-1', taskId, 'launch-together')));
    batches.remove();
    puts.remove();
    expect(tasks.map((task) => task.state)).toEqual(ids.map(() => 'TASK_STAGING'));
    expect(batches.hits()).toBe(2);
    expect(puts.hits()).toBe(0);
    const info = await t.clients.documents.send(
      new GetCommand({ TableName: t.tables.taskinfos, Key: rowKeyOf('fw-1', 'launch-together-11') }),
    );
    expect(JSON.parse(info.Item?.info as string)).toMatchObject({ name: 'job launch-together-11' });
  });

  it('lets a finished task id be reused by a new launch, but not by a late retry of the old one', async () => {
    await added('fw-1', 'reuse', 'launch-1');
    await t.registrar.tasks.updateStatus('fw-1', status('reuse', 'TASK_FINISHED'));
    const reused = await added('fw-1', 'reuse', 'launch-2');
    expect(reused).toMatchObject({ state: 'TASK_STAGING', launchId: 'launch-2' });
    await t.registrar.tasks.updateStatus('fw-1', status('reuse', 'TASK_FAILED'));
    const late = await t.registrar.tasks.add({
      frameworkId: 'fw-1',
      agentId: 'agent-1',
      role: '*',
      resources: [],
      info: taskInfo('reuse'),
      launchId: 'launch-2',
    });
    // Recognised, not restarted: its ACCEPT launches nothing.
    expect(late).toMatchObject({ ok: false, error: { code: 'LAUNCH_DROPPED' } });
    expect((await t.registrar.tasks.get('fw-1', 'reuse'))?.state).toBe('TASK_FAILED');
  });

  it("records a launch with no row dropped, so that exactly one of it and the launch's late row is written", async () => {
    const dropped = (taskId: string, launchId: string) =>
      t.registrar.tasks.recordDropped(taskId, {
        frameworkId: 'fw-3',
        agentId: 'agent-1',
        role: '*',
        resources: [scalarResource('cpus', 1, { allocationRole: '*' })],
        launchId,
        status: {
          task_id: { value: taskId },
          state: 'TASK_DROPPED',
          source: 'SOURCE_MASTER',
          reason: 'REASON_RECONCILIATION',
        },
      });
    const first = await dropped('orphan', 'launch-o');
    expect(first).toMatchObject({
      written: true,
      row: { state: 'TASK_DROPPED', launchId: 'launch-o', acknowledged: true },
    });
    expect(await t.registrar.tasks.get('fw-3', 'orphan')).toEqual(first.row);
    const late = await t.registrar.tasks.add({
      frameworkId: 'fw-3',
      agentId: 'agent-1',
      role: '*',
      resources: [],
      info: taskInfo('orphan'),
      launchId: 'launch-o',
    });
    expect(late).toMatchObject({ ok: false, error: { code: 'LAUNCH_DROPPED' } });
    // A new launch may take the id; the drop of the old one, coming after, does not overwrite it.
    await added('fw-3', 'orphan', 'launch-new');
    const after = await dropped('orphan', 'launch-o');
    expect(after).toMatchObject({ written: false, row: { state: 'TASK_STAGING', launchId: 'launch-new' } });
    // Nor does the drop of a launch whose own row came first.
    await added('fw-3', 'landed', 'launch-l');
    expect(await dropped('landed', 'launch-l')).toMatchObject({ written: false, row: { state: 'TASK_STAGING' } });
  });

  it('keeps the TaskInfo in an item of its own: written at launch with a lease, untouched by updates', async () => {
    const item = async (table: 'tasks' | 'taskinfos', taskId: string) =>
      (
        await t.clients.documents.send(
          new GetCommand({
            TableName: t.tables[table],
            Key: { framework_shard: shardKey('fw-i', shardOf(taskId)), task_id: taskId },
          }),
        )
      ).Item;
    await added('fw-i', 'info-1', 'launch-1');
    const launchedAt = t.clock.now;
    expect(JSON.parse((await item('taskinfos', 'info-1'))?.info as string)).toMatchObject({ name: 'job info-1' });
    expect((await item('taskinfos', 'info-1'))?.info).not.toContain('data');
    expect(await item('tasks', 'info-1')).not.toHaveProperty('info');
    const lease = epochSeconds(launchedAt + INFO_LEASE_MS);
    expect((await item('taskinfos', 'info-1'))?.expires_at).toBe(lease);
    await t.registrar.tasks.updateStatus('fw-i', status('info-1', 'TASK_RUNNING'));
    expect((await item('taskinfos', 'info-1'))?.expires_at).toBe(lease);
    // A second launch of the running task id is refused and leaves the running task's TaskInfo as it was.
    const other = { ...taskInfo('info-1'), command: { value: 'other' } };
    const duplicate = await t.registrar.tasks.add({
      frameworkId: 'fw-i',
      agentId: 'agent-2',
      role: '*',
      resources: [],
      info: other,
      launchId: 'launch-2',
    });
    expect(duplicate.ok).toBe(false);
    expect((await item('taskinfos', 'info-1'))?.info).toContain('sleep 1');
    // Ended within a renewal period: the launch's lease outlasts the row, and the end writes nothing to it.
    t.clock.advance(INFO_RENEWAL_MS - 1000);
    await t.registrar.tasks.updateStatus('fw-i', status('info-1', 'TASK_FINISHED'));
    const row = await item('tasks', 'info-1');
    expect(row?.expires_at).toBeGreaterThan(0);
    expect((await item('taskinfos', 'info-1'))?.expires_at).toBe(lease);
    expect(lease).toBeGreaterThan(row?.expires_at as number);
    // A new launch of the finished id has its own TaskInfo, with its own lease.
    await t.registrar.tasks.add({
      frameworkId: 'fw-i',
      agentId: 'agent-2',
      role: '*',
      resources: [],
      info: other,
      launchId: 'launch-3',
    });
    expect(await item('taskinfos', 'info-1')).toMatchObject({
      info: expect.stringContaining('other'),
      expires_at: epochSeconds(t.clock.now + INFO_LEASE_MS),
    });
    const page = await t.registrar.tasks.page({ limit: 10, frameworkId: 'fw-i' });
    expect(page.ok && page.value.tasks[0]?.info?.command?.value).toBe('other');
    // Running past a renewal period: its end gives the TaskInfo the row's expiry, whatever its lease was.
    t.clock.advance(INFO_RENEWAL_MS);
    await t.registrar.tasks.updateStatus('fw-i', status('info-1', 'TASK_FAILED'));
    const longer = await item('tasks', 'info-1');
    expect((await item('taskinfos', 'info-1'))?.expires_at).toBe(longer?.expires_at);
  });

  it("renews a running task's TaskInfo lease when it is due, never shortens one, and creates no stub", async () => {
    const item = async (taskId: string) =>
      (
        await t.clients.documents.send(
          new GetCommand({
            TableName: t.tables.taskinfos,
            Key: { framework_shard: shardKey('fw-r', shardOf(taskId)), task_id: taskId },
          }),
        )
      ).Item;
    await added('fw-r', 'old');
    const launched = t.clock.now;
    // Less than half a period since the launch: not due, nothing written.
    t.clock.advance(INFO_RENEWAL_MS / 2 - 60_000);
    expect(await t.registrar.tasks.renewInfos([{ frameworkId: 'fw-r', taskId: 'old' }])).toBe(0);
    expect((await item('old'))?.expires_at).toBe(epochSeconds(launched + INFO_LEASE_MS));
    // A period on: due, renewed to a full lease from now; one just launched is not due.
    t.clock.advance(INFO_RENEWAL_MS / 2 + 60_000);
    await added('fw-r', 'young');
    const keys = ['old', 'young', 'never-launched'].map((taskId) => ({ frameworkId: 'fw-r', taskId }));
    expect(await t.registrar.tasks.renewInfos(keys)).toBe(1);
    expect((await item('old'))?.expires_at).toBe(epochSeconds(t.clock.now + INFO_LEASE_MS));
    expect(await item('never-launched')).toBeUndefined();
    expect(await t.registrar.tasks.renewInfos(keys)).toBe(0);
    // An item written before leases (no expiry) is given one.
    await t.clients.documents.send(
      new UpdateCommand({
        TableName: t.tables.taskinfos,
        Key: { framework_shard: shardKey('fw-r', shardOf('young')), task_id: 'young' },
        UpdateExpression: 'REMOVE expires_at',
      }),
    );
    expect(await t.registrar.tasks.renewInfos(keys)).toBe(1);
    expect((await item('young'))?.expires_at).toBe(epochSeconds(t.clock.now + INFO_LEASE_MS));
    expect(await t.registrar.tasks.renewInfos([])).toBe(0);
  });

  it('a TaskInfo item whose expiry cannot be written leaves the update applied, and is counted', async () => {
    const broken = await freshRegistrar();
    try {
      const launched = await broken.registrar.tasks.add({
        frameworkId: 'fw',
        agentId: 'agent-1',
        role: '*',
        resources: [],
        info: taskInfo('x'),
        launchId: 'l',
      });
      expect(launched.ok).toBe(true);
      await broken.clients.dynamodb.send(new DeleteTableCommand({ TableName: broken.tables.taskinfos }));
      // Only the end of a task that ran past a renewal period writes its TaskInfo's expiry.
      broken.clock.advance(INFO_RENEWAL_MS);
      const finished = await broken.registrar.tasks.updateStatus('fw', status('x', 'TASK_FINISHED'));
      expect(finished.ok && finished.value.outcome).toBe('applied');
      expect((await broken.registrar.tasks.get('fw', 'x'))?.state).toBe('TASK_FINISHED');
      expect(broken.metrics.snapshot()['registrar/task_info_expiry_errors']).toBe(1);
      await broken.clients.dynamodb.send(
        new CreateTableCommand({
          TableName: broken.tables.taskinfos,
          AttributeDefinitions: [
            { AttributeName: 'framework_shard', AttributeType: 'S' },
            { AttributeName: 'task_id', AttributeType: 'S' },
          ],
          KeySchema: [
            { AttributeName: 'framework_shard', KeyType: 'HASH' },
            { AttributeName: 'task_id', KeyType: 'RANGE' },
          ],
          BillingMode: 'PAY_PER_REQUEST',
        }),
      );
    } finally {
      await broken.close();
    }
  });

  it('refuses invalid task ids and TaskInfo with typed errors', async () => {
    for (const taskId of ['', 'a/b', 'a\\b', '..', 'x\u0001', 'x'.repeat(256)]) {
      const result = await t.registrar.tasks.add({
        frameworkId: 'fw-1',
        agentId: 'a',
        role: '*',
        resources: [],
        info: taskInfo(taskId),
        launchId: 'l',
      });
      expect(result, JSON.stringify(taskId)).toMatchObject({ ok: false, error: { code: 'INVALID_ARGUMENT' } });
    }
    const bad = await t.registrar.tasks.add({
      frameworkId: 'f',
      agentId: 'a',
      role: '*',
      resources: [],
      info: { name: 5 },
      launchId: 'l',
    });
    expect(bad).toMatchObject({ ok: false, error: { code: 'INVALID_ARGUMENT' } });
  });
});

describe('status updates through the state machine', () => {
  it('applies updates, ignores duplicates by uuid, and refuses regressions', async () => {
    await added('fw-1', 'life');
    const running = status('life', 'TASK_RUNNING', { data: Buffer.from('big').toString('base64') });
    const applied = await t.registrar.tasks.updateStatus('fw-1', running);
    expect(applied).toMatchObject({
      ok: true,
      value: { outcome: 'applied', previous: 'TASK_STAGING', becameTerminal: false, task: { state: 'TASK_RUNNING' } },
    });
    expect(applied.ok && applied.value.task.status?.data).toBeUndefined();
    expect(await t.registrar.tasks.updateStatus('fw-1', running)).toMatchObject({
      ok: true,
      value: { outcome: 'duplicate' },
    });
    expect(await t.registrar.tasks.updateStatus('fw-1', status('life', 'TASK_STARTING'))).toMatchObject({
      ok: false,
      error: { code: 'ILLEGAL_TRANSITION' },
    });
    const finished = await t.registrar.tasks.updateStatus('fw-1', status('life', 'TASK_FINISHED'));
    expect(finished).toMatchObject({ ok: true, value: { outcome: 'applied', becameTerminal: true } });
    expect(
      await t.registrar.tasks.updateStatus('fw-1', status('life', 'TASK_LOST', { uuid: undefined })),
    ).toMatchObject({
      ok: false,
      error: { code: 'ILLEGAL_TRANSITION' },
    });
    expect((await t.registrar.tasks.get('fw-1', 'life'))?.state).toBe('TASK_FINISHED');
  });

  it('answers unknown tasks and malformed statuses with typed errors', async () => {
    expect(await t.registrar.tasks.updateStatus('fw-1', status('ghost', 'TASK_RUNNING'))).toMatchObject({
      ok: false,
      error: { code: 'UNKNOWN_TASK' },
    });
    for (const bad of [
      null,
      {},
      { task_id: { value: 'x' }, state: 'TASK_EXPLODED' },
      { task_id: 'x', state: 'TASK_RUNNING' },
    ]) {
      expect(await t.registrar.tasks.updateStatus('fw-1', bad)).toMatchObject({
        ok: false,
        error: { code: 'INVALID_ARGUMENT' },
      });
    }
  });

  it('under duplicated, reordered, concurrent delivery: no regression and exactly one terminal transition', async () => {
    for (let round = 0; round < 6; round++) {
      const taskId = `storm-${round}`;
      // Every other round's writes go batched, as the status handler's do.
      const batched = round % 2 === 1;
      await added('fw-1', taskId);
      const stream = [status(taskId, 'TASK_STARTING'), status(taskId, 'TASK_RUNNING'), status(taskId, 'TASK_FINISHED')];
      // Every update delivered four times, all at once, in a shuffled order.
      const deliveries = [...stream, ...stream, ...stream, ...stream].sort(() => Math.random() - 0.5);
      const results = await Promise.all(
        deliveries.map((update) => t.registrar.tasks.updateStatus('fw-1', update, { batched })),
      );
      const terminal = results.filter((r) => r.ok && r.value.outcome === 'applied' && r.value.becameTerminal);
      expect(terminal).toHaveLength(1);
      for (const result of results) {
        if (!result.ok) expect(result.error.code).toBe('ILLEGAL_TRANSITION');
      }
      const final = await t.registrar.tasks.get('fw-1', taskId);
      expect(final?.state).toBe('TASK_FINISHED');
      // Each distinct update applied at most once.
      expect(new Set(final?.uuids).size).toBe(final?.uuids.length);
    }
  });

  it('writes the updates of concurrent callers batched in one request, each decided on its own', async () => {
    const taskIds = Array.from({ length: 10 }, (_, i) => `together-${i}`);
    for (const taskId of taskIds) await added('fw-1', taskId);
    // The rows as the status handler has them, read beforehand; one is then updated by another writer.
    const rows = await Promise.all(taskIds.map((taskId) => t.registrar.tasks.get('fw-1', taskId)));
    await t.registrar.tasks.updateStatus('fw-1', status('together-0', 'TASK_STARTING'));
    const requests = injectFaults(t.clients.dynamodb, {
      commands: ['BatchExecuteStatementCommand'],
      times: 100,
      fault: { kind: 'hold', until: Promise.resolve() },
    });
    const results = await Promise.all(
      taskIds.map((taskId, i) =>
        // together-0's row is stale: its statement's condition fails, and it is read and written again.
        t.registrar.tasks.updateStatus('fw-1', status(taskId, 'TASK_RUNNING'), { batched: true, known: rows[i] }),
      ),
    );
    requests.remove();
    expect(results.map((r) => r.ok && r.value.outcome)).toEqual(taskIds.map(() => 'applied'));
    // The ten in one request; the stale one's second try in another.
    expect(requests.hits()).toBe(2);
    expect((await t.registrar.tasks.get('fw-1', 'together-0'))?.uuids).toHaveLength(2);
  });

  it('makes a batched write alone when its request fails, and takes a lost response for the duplicate it is', async () => {
    await added('fw-1', 'batch-fault');
    const refused = injectFaults(t.clients.dynamodb, {
      commands: ['BatchExecuteStatementCommand'],
      times: 100,
      fault: { kind: 'reject', name: 'ThrottlingException' },
    });
    const running = await t.registrar.tasks.updateStatus('fw-1', status('batch-fault', 'TASK_RUNNING'), {
      batched: true,
    });
    refused.remove();
    // Refused after the SDK's retries, then written by an UpdateItem of its own.
    expect(refused.hits()).toBeGreaterThan(1);
    expect(running).toMatchObject({ ok: true, value: { outcome: 'applied', task: { state: 'TASK_RUNNING' } } });
    const lost = injectFaults(t.clients.dynamodb, {
      commands: ['BatchExecuteStatementCommand'],
      times: 1,
      fault: { kind: 'lose-response' },
    });
    const finished = await t.registrar.tasks.updateStatus('fw-1', status('batch-fault', 'TASK_FINISHED'), {
      batched: true,
    });
    lost.remove();
    expect(lost.hits()).toBe(1);
    // The SDK sent it again and its condition failed on its own write: read again, it is a duplicate.
    expect(finished).toMatchObject({ ok: true, value: { outcome: 'duplicate', task: { state: 'TASK_FINISHED' } } });
    const row = await t.registrar.tasks.get('fw-1', 'batch-fault');
    expect(row?.state).toBe('TASK_FINISHED');
    expect(row?.uuids).toHaveLength(2);
  });

  it('lists a framework s tasks', async () => {
    for (let i = 0; i < 5; i++) await added('fw-list', `task-${i}`);
    const listed: TaskRecord[] = [];
    for await (const task of t.registrar.tasks.listByFramework('fw-list')) listed.push(task);
    expect(listed.map((task) => task.taskId)).toEqual(['task-0', 'task-1', 'task-2', 'task-3', 'task-4']);
    expect(await listedIds('')).toEqual([]);
  });
});

describe("a framework's write shards", () => {
  // Ids whose order differs between UTF-8 bytes (DynamoDB's) and UTF-16 code units (JavaScript's '<').
  const ids = [...Array.from({ length: 90 }, (_, i) => `t-${String(i).padStart(2, '0')}`), 't-\uFFFD', 't-\u{1F600}'];
  const byBytes = [...ids].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));

  it('spreads its rows over the shards and reads them back merged in DynamoDB s order of task ids', async () => {
    for (const id of ids) await added('fw-shards', id);
    expect(new Set(ids.map((id) => shardOf(id))).size).toBeGreaterThan(SHARDS / 2);
    expect(await listedIds('fw-shards')).toEqual(byBytes);
    // One row a query: every shard is read again and again as the merge reaches its end, and a merge can start late.
    const merge = new ShardMerge(t.registrar.context, t.tables.tasks, 'fw-shards', { sortKey: 'task_id', pageSize: 1 });
    const taken: string[] = [];
    while (!merge.finished) taken.push(...(await merge.take(7)).map((item) => item.task_id as string));
    expect(taken).toEqual(byBytes);
    const late = new ShardMerge(t.registrar.context, t.tables.tasks, 'fw-shards', {
      sortKey: 'task_id',
      pageSize: 2,
      after: 't-44',
    });
    expect((await late.take(1000)).map((item) => item.task_id)).toEqual(byBytes.slice(byBytes.indexOf('t-44') + 1));
    expect(late.finished).toBe(true);
  });

  it("pages a framework's tasks over its shards in task id order, each once", async () => {
    const pages: string[][] = [];
    let cursor: string | undefined;
    do {
      const page = await t.registrar.tasks.page({ limit: 10, frameworkId: 'fw-shards', ...(cursor ? { cursor } : {}) });
      if (!page.ok) throw new Error(page.error.message);
      pages.push(page.value.tasks.map(({ task }) => task.taskId));
      cursor = page.value.next;
    } while (cursor);
    expect(pages.flat()).toEqual(byBytes);
    expect(pages.map((page) => page.length)).toEqual([...Array.from({ length: 9 }, () => 10), 2]);
  });
});
