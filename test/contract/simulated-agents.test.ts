/**
 * bench:scale's simulated agents (bench/support/simulated-agents.ts) against a real master on DynamoDB Local and
 * the SQS stand-in: they register, take launches from their command queues and answer with STARTING, RUNNING and
 * FINISHED through the status queue, one update per acknowledgement; a KILL ends a running task, even one whose
 * doorbell was missed. Correctness only: the timings are the benchmark's.
 */
import { PutItemCommand, type AttributeValue } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { AwsClients } from '#shared/aws/clients.js';
import { PartitionWriteMeter } from '../../bench/support/partition-writes.js';
import { startScaleCluster, type ScaleCluster } from '../../bench/support/scale-cluster.js';
import { attachDoorbell } from '../../bench/support/fleet-parts.js';
import { SimulatedFleet } from '../../bench/support/simulated-agents.js';
import { runBatch } from '../support/batch-framework.js';
import type { TableId } from '../../functions/registrar/tables.js';

const AGENTS = 20;
const TASKS = 50;
/** The doorbell rings no more: sends to command queues go unnoticed, as when the receive after one fails. */
let deaf = false;

interface Started {
  readonly cluster: ScaleCluster;
  readonly fleet: SimulatedFleet;
  readonly meter: PartitionWriteMeter;
  readonly clients: AwsClients;
  readonly tables: Readonly<Record<TableId, string>>;
}

async function start(name: string, taskMs: number): Promise<Started> {
  let meter: PartitionWriteMeter | undefined;
  let names: Readonly<Record<TableId, string>> | undefined;
  let ring: (url: string) => void = () => undefined;
  const cluster = await startScaleCluster({
    cluster: name,
    endpoints: { dynamodb: inject('dynamodbEndpoint'), sqs: inject('sqsEndpoint') },
    allocationIntervalSeconds: 1,
    sweepIntervalSeconds: 60,
    instrument(clients, tables) {
      names = tables;
      meter = new PartitionWriteMeter(tables);
      meter.attach(clients.dynamodb);
      attachDoorbell(clients.sqs, (url) => ring(url));
    },
  });
  const clients = cluster.clients();
  const fleet = new SimulatedFleet({
    master: cluster.url,
    sqs: clients.sqs,
    agents: AGENTS,
    resources: 'cpus:1;mem:1024',
    taskMs,
  });
  ring = (url) => {
    if (!deaf) fleet.ring(url);
  };
  await fleet.register();
  return { cluster, fleet, meter: meter as PartitionWriteMeter, clients, tables: names as Record<TableId, string> };
}

async function stop(started: Started | undefined): Promise<void> {
  started?.fleet.stop();
  started?.clients.destroy();
  await started?.cluster.stop();
}

async function until(check: () => boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('simulated agents', () => {
  let started: Started | undefined;
  beforeAll(async () => {
    started = await start('simagents', 0);
  }, 120_000);
  afterAll(() => stop(started));

  it('register, run every task to TASK_FINISHED through the real status path, and close every stream', async () => {
    const { fleet, cluster, meter } = started as Started;
    expect(fleet.counters.registered).toBe(AGENTS);
    const tasks = Array.from({ length: TASKS }, (_, i) => ({
      taskId: `sim-${i}`,
      command: 'true',
      resources: 'cpus:0.1;mem:16',
    }));
    const run = await runBatch({ master: cluster.url, tasks, perOffer: 3 });
    try {
      await run.done;
      for (const timeline of run.timelines.values()) {
        expect(timeline.updates.map((update) => update.state)).toEqual([
          'TASK_STARTING',
          'TASK_RUNNING',
          'TASK_FINISHED',
        ]);
      }
      // The framework acknowledged each FINISHED: the agents close every stream.
      await until(() => fleet.counters.tasksClosed === TASKS);
      expect(fleet.counters).toMatchObject({ launches: TASKS, acknowledgements: 3 * TASKS, errors: 0 });
      expect(fleet.openTasks).toBe(0);
      // The master's writes were counted by partition key: the framework's tasks, in its write shards.
      const tasksKeys = meter.between(0, meter.now() + 1).filter((key) => key.table === 'tasks');
      for (const key of tasksKeys) expect(key.key).toMatch(new RegExp(`^${run.frameworkId}#\\d+$`));
      expect(tasksKeys.reduce((sum, key) => sum + key.writes, 0)).toBeGreaterThanOrEqual(3 * TASKS);
    } finally {
      await run.stop();
    }
  }, 120_000);

  it("meters the heartbeat log's minute keys as one key, and other tables by their partition key", async () => {
    const { clients, tables } = started as Started;
    const meter = new PartitionWriteMeter(tables);
    meter.attach(clients.dynamodb);
    const put = (TableName: string, Item: Record<string, AttributeValue>) =>
      clients.dynamodb.send(new PutItemCommand({ TableName, Item }));
    for (const minute of ['1', '2', '3']) {
      await put(tables.heartbeats, { minute: { N: minute }, batch: { S: `b-${minute}` } });
    }
    await put(tables.frameworks, { framework_id: { S: 'metered-framework' } });
    const figures = meter.between(0, meter.now() + 1);
    expect(figures.filter((key) => key.table === 'heartbeats')).toEqual([
      expect.objectContaining({ key: '(current minute)', writes: 3 }),
    ]);
    expect(figures.filter((key) => key.table === 'frameworks')).toEqual([
      expect.objectContaining({ key: 'metered-framework', writes: 1 }),
    ]);
  });
});

describe('a simulated agent told to KILL', () => {
  let started: Started | undefined;
  beforeAll(async () => {
    // Tasks that would run for ten minutes.
    started = await start('simkill', 600_000);
  }, 120_000);
  afterAll(() => stop(started));

  it("ends the running task with TASK_KILLED, even when the KILL's ring is missed", async () => {
    const { cluster, fleet } = started as Started;
    const run = await runBatch({
      master: cluster.url,
      tasks: [{ taskId: 'long', command: 'sleep 600', resources: 'cpus:0.1;mem:16' }],
    });
    try {
      const timeline = run.timelines.get('long');
      await until(() => timeline?.updates.some((update) => update.state === 'TASK_RUNNING') ?? false);
      // STARTING and RUNNING acknowledged: nothing of the task is in flight, so no resend reads the queue.
      await until(() => fleet.counters.acknowledgements === 2);
      deaf = true;
      await run.driver.kill('long');
      // Within the test's time, with what the fleet saw if not.
      await until(() => timeline?.ended !== undefined, 30_000).catch(() => {
        const states = timeline?.updates.map((update) => update.state).join(', ');
        throw new Error(
          `No end after the KILL; updates: ${states}; fleet: ${JSON.stringify(fleet.counters)} ${fleet.errorSamples.join('; ')}`,
        );
      });
      await run.done;
      expect(timeline?.ended?.state).toBe('TASK_KILLED');
    } finally {
      await run.stop();
    }
  }, 120_000);
});
