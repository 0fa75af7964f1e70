/**
 * The task counts by state that the task writes keep (registrar/counters.ts): a launch counts in
 * TASK_STAGING, each change of state moves one count, duplicates, retried launches and refused updates
 * count nothing, and a failing counter write never fails the task's own write.
 */
import { randomUUID } from 'node:crypto';
import { CreateTableCommand, DeleteTableCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { COUNTER_SHARDS } from '../../functions/registrar/counters.js';
import { scalarResource } from '#shared/resources/resource.js';
import { freshRegistrar, type TestRegistrar } from '../support/registrar.js';

let t: TestRegistrar;
beforeAll(async () => {
  t = await freshRegistrar();
});
afterAll(async () => {
  await t.close();
});

const uuid = () => Buffer.from(randomUUID().replace(/-/g, ''), 'hex').toString('base64');

async function launch(frameworkId: string, taskId: string, launchId = `launch-${taskId}`): Promise<void> {
  const result = await t.registrar.tasks.add({
    frameworkId,
    agentId: 'agent-1',
    role: '*',
    resources: [scalarResource('cpus', 1, { allocationRole: '*' })],
    info: { name: taskId, task_id: { value: taskId }, agent_id: { value: 'agent-1' }, resources: [] },
    launchId,
  });
  if (!result.ok) throw new Error(result.error.message);
}

function update(frameworkId: string, taskId: string, state: string, id = uuid()) {
  return t.registrar.tasks.updateStatus(frameworkId, { task_id: { value: taskId }, state, uuid: id });
}

describe('task counters', () => {
  it('count launches and changes of state, once each', async () => {
    const before = await t.registrar.counters.read();
    expect(before.TASK_RUNNING).toBe(0);
    await launch('fw', 'a');
    await launch('fw', 'a'); // the same launch, retried: no second count
    await launch('fw', 'b');
    expect((await t.registrar.counters.read()).TASK_STAGING).toBe(2);

    const running = uuid();
    await update('fw', 'a', 'TASK_STARTING');
    await update('fw', 'a', 'TASK_RUNNING', running);
    await update('fw', 'a', 'TASK_RUNNING', running); // a duplicate
    await update('fw', 'b', 'TASK_RUNNING');
    await update('fw', 'b', 'TASK_RUNNING'); // RUNNING again (a new uuid): still one task running
    let counts = await t.registrar.counters.read();
    expect(counts).toMatchObject({ TASK_STAGING: 0, TASK_STARTING: 0, TASK_RUNNING: 2 });

    await update('fw', 'a', 'TASK_FINISHED');
    const refused = await update('fw', 'a', 'TASK_RUNNING'); // a terminal state never changes
    expect(refused.ok).toBe(false);
    await update('fw', 'b', 'TASK_FAILED');
    counts = await t.registrar.counters.read();
    expect(counts).toMatchObject({ TASK_RUNNING: 0, TASK_FINISHED: 1, TASK_FAILED: 1 });

    // A finished task's id reused by a new launch: one more staging, the finished count kept.
    await launch('fw', 'a', 'launch-a-again');
    counts = await t.registrar.counters.read();
    expect(counts).toMatchObject({ TASK_STAGING: 1, TASK_FINISHED: 1 });
  });

  it('a batch counts its changes in one write at its end, also when it throws', async () => {
    const counterWrites = () => {
      let writes = 0;
      t.clients.dynamodb.middlewareStack.add(
        (next, context) => async (args) => {
          const input = args.input as { TableName?: string };
          if (context.commandName === 'UpdateItemCommand' && input.TableName === t.tables.counters) writes++;
          return next(args);
        },
        { step: 'initialize', name: 'countCounterWrites' },
      );
      return {
        get writes() {
          return writes;
        },
        stop: () => t.clients.dynamodb.middlewareStack.remove('countCounterWrites'),
      };
    };
    const meter = counterWrites();
    try {
      const before = await t.registrar.counters.read();
      await t.registrar.counters.batched(async () => {
        await launch('fw-batch', 'x');
        await update('fw-batch', 'x', 'TASK_STARTING');
        await update('fw-batch', 'x', 'TASK_RUNNING');
        expect(meter.writes).toBe(0);
      });
      expect(meter.writes).toBe(1);
      expect((await t.registrar.counters.read()).TASK_RUNNING - before.TASK_RUNNING).toBe(1);
      await expect(
        t.registrar.counters.batched(async () => {
          await update('fw-batch', 'x', 'TASK_FINISHED');
          throw new Error('the batch failed after the write');
        }),
      ).rejects.toThrow('the batch failed');
      expect(meter.writes).toBe(2);
      const after = await t.registrar.counters.read();
      expect(after.TASK_RUNNING - before.TASK_RUNNING).toBe(0);
      expect(after.TASK_FINISHED - before.TASK_FINISHED).toBe(1);
      // Outside a batch, each change is written as before.
      await launch('fw-batch', 'y');
      expect(meter.writes).toBe(3);
    } finally {
      meter.stop();
    }
  });

  it('spread over the shards and sum back, concurrently', async () => {
    const before = await t.registrar.counters.read();
    await Promise.all(Array.from({ length: 40 }, (_, i) => launch('fw-many', `t-${i}`)));
    const after = await t.registrar.counters.read();
    expect(after.TASK_STAGING - before.TASK_STAGING).toBe(40);
    expect(COUNTER_SHARDS).toBeGreaterThan(1);
  });

  it('a counter that cannot be written leaves the task written, and is counted as an error', async () => {
    const broken = await freshRegistrar();
    try {
      await broken.clients.dynamodb.send(new DeleteTableCommand({ TableName: broken.tables.counters }));
      const result = await broken.registrar.tasks.add({
        frameworkId: 'fw',
        agentId: 'agent-1',
        role: '*',
        resources: [],
        info: { name: 'x', task_id: { value: 'x' }, agent_id: { value: 'agent-1' }, resources: [] },
        launchId: 'l',
      });
      expect(result.ok).toBe(true);
      expect((await broken.registrar.tasks.get('fw', 'x'))?.state).toBe('TASK_STAGING');
      expect(broken.metrics.snapshot()['registrar/task_counter_errors']).toBe(1);
      await broken.clients.dynamodb.send(
        new CreateTableCommand({
          TableName: broken.tables.counters,
          AttributeDefinitions: [{ AttributeName: 'shard', AttributeType: 'N' }],
          KeySchema: [{ AttributeName: 'shard', KeyType: 'HASH' }],
          BillingMode: 'PAY_PER_REQUEST',
        }),
      );
    } finally {
      await broken.close();
    }
  });
});
