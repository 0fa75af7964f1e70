/**
 * Measures what the control plane uses, for the cost model (infra/cost.ts, docs/cost.md): DynamoDB
 * capacity units (DynamoDB Local reports them like DynamoDB, but for BatchExecuteStatement: those are computed from
 * the items' sizes, test/support/item-size.ts), SQS requests, calls to the master and
 * Lambda invocations, for an idle agent's heartbeats and scans, and for tasks run end to end (offers,
 * ACCEPT, launch, STARTING/RUNNING/FINISHED, acknowledgements). The measured figures must stay within
 * 15% of the ones docs/cost.md is computed from (MEASURED below): a change that makes Mantle dearer
 * fails here and the document is updated with it.
 */
import { randomBytes } from 'node:crypto';
import { DescribeTableCommand } from '@aws-sdk/client-dynamodb';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ACCESS_LOG_BYTES,
  BUDGET,
  cost,
  DURATIONS,
  idleAgentMonth,
  MEASURED,
  PRICES,
  scale,
  total,
  type Usage,
} from '../../infra/cost.js';
import { runAllocationPass } from '../../functions/allocation/index.js';
import { Allocator, allocatorConfig } from '../../functions/allocator/index.js';
import type { AwsClients } from '#shared/aws/clients.js';
import { newAgentId } from '#shared/ids.js';
import { handleHeartbeats, type ReceivedHeartbeat } from '../../functions/fleet/heartbeats.js';
import type { HeartbeatMessage } from '#shared/protocol/internal.js';
import type { Event } from '#shared/protocol/scheduler.js';
import { startTestMaster, type TestMaster } from '../support/master.js';
import {
  commands,
  resources,
  sendStatus,
  subscribe,
  uuid,
  type TestAgent,
  type TestFramework,
} from '../support/scheduler.js';
import { instanceId } from './infra-agents.js';
import { standInClients } from '../support/aws.js';
import { insertedItem, statementTable, updatedKey } from '../../bench/support/partiql.js';
import { writeUnits } from '../support/item-size.js';
import { clusterFigures } from '../../functions/operator/metrics.js';

/** A statement and its answer in plain values: the meter's middleware wraps the document client's marshalling. */
type Statement = { Statement?: string; Parameters?: unknown[] };
type StatementResponse = { Error?: { Item?: Record<string, unknown> } };

/** Each table's key attributes, described once. */
const keySchemas = new Map<string, Promise<string[]>>();
function keyNames(reader: AwsClients, table: string): Promise<string[]> {
  let names = keySchemas.get(table);
  if (!names) {
    names = reader.dynamodb
      .send(new DescribeTableCommand({ TableName: table }))
      .then((schema) => (schema.Table?.KeySchema ?? []).map((key) => key.AttributeName as string));
    keySchemas.set(table, names);
  }
  return names;
}

/**
 * A BatchExecuteStatement's write units by table, as AWS bills its statements (DynamoDB Local reports none): each
 * the single write it stands for, by the size of its item (item-size.ts), read afresh after an UPDATE with an
 * unmetered client.
 */
async function statementUnits(
  reader: AwsClients,
  statements: readonly Statement[],
  responses: readonly StatementResponse[],
): Promise<Array<{ TableName: string; CapacityUnits: number }>> {
  return Promise.all(
    statements.map(async (entry, i) => {
      const statement = entry.Statement ?? '';
      const parameters = entry.Parameters ?? [];
      const table = statementTable(statement);
      const old = responses[i]?.Error?.Item;
      const inserted = insertedItem(statement, parameters);
      if (inserted) return { TableName: table, CapacityUnits: writeUnits(inserted, old) };
      const key = updatedKey(statement, parameters, await keyNames(reader, table));
      const after = key && (await reader.documents.send(new GetCommand({ TableName: table, Key: key }))).Item;
      return { TableName: table, CapacityUnits: writeUnits(after, old) };
    }),
  );
}

/** Counts DynamoDB units and SQS requests as AWS would bill them (empty receives are idle polling). */
class Meter {
  readUnits = 0;
  writeUnits = 0;
  sqsStandard = 0;
  sqsFifo = 0;
  /** Units and requests by call and table or queue, for the breakdown the per-task test prints. */
  readonly items = new Map<string, number>();

  private count(key: string, amount: number): void {
    this.items.set(key, (this.items.get(key) ?? 0) + amount);
  }

  constructor(private readonly reader: AwsClients) {}

  attach(clients: AwsClients): void {
    clients.dynamodb.middlewareStack.add(
      (next, context) => async (args) => {
        (args.input as Record<string, unknown>).ReturnConsumedCapacity = 'TOTAL';
        const result = await next(args);
        // One entry for single-item calls, one per table for batch calls.
        const input = args.input as { Statements?: Statement[] };
        const output = result.output as { ConsumedCapacity?: unknown; Responses?: StatementResponse[] };
        const consumed =
          output.ConsumedCapacity ??
          (input.Statements && (await statementUnits(this.reader, input.Statements, output.Responses ?? [])));
        const entries = (Array.isArray(consumed) ? consumed : [consumed]) as Array<
          { CapacityUnits?: number; TableName?: string } | undefined
        >;
        const units = entries.reduce((sum, entry) => sum + (entry?.CapacityUnits ?? 0), 0);
        const read = /^(Get|BatchGet|Query|Scan)/.test(context.commandName ?? '');
        if (read) this.readUnits += units;
        else this.writeUnits += units;
        for (const entry of entries) {
          const table = (entry?.TableName ?? '?').replace(/^.*?-/, '');
          this.count(`${read ? 'read ' : 'write'} ${context.commandName} ${table}`, entry?.CapacityUnits ?? 0);
        }
        return result;
      },
      { step: 'initialize', name: 'meterDynamoDb' },
    );
    clients.sqs.middlewareStack.add(
      (next, context) => async (args) => {
        const url = String((args.input as { QueueUrl?: string }).QueueUrl ?? '');
        const result = await next(args);
        const empty =
          context.commandName === 'ReceiveMessageCommand' &&
          ((result.output as { Messages?: unknown[] }).Messages ?? []).length === 0;
        if (!empty) {
          if (url.endsWith('.fifo')) this.sqsFifo++;
          else this.sqsStandard++;
          const queue = url.endsWith('.fifo') ? url.replace(/^.*\//, '').replace(/[0-9a-f]{8,}/g, '*') : 'standard';
          this.count(`sqs   ${context.commandName} ${queue}`, 1);
        }
        return result;
      },
      { step: 'initialize', name: 'meterSqs' },
    );
  }

  snapshot() {
    return { read: this.readUnits, write: this.writeUnits, standard: this.sqsStandard, fifo: this.sqsFifo };
  }
}

const AGENTS = 4;
const GPUS = 4;
const ROUNDS = 3;

let tm: TestMaster;
/** Reads the items a BatchExecuteStatement wrote, unmetered. */
const reader = standInClients();
const meter = new Meter(reader);
let framework: TestFramework;
let agentAuth: string;
const agents: TestAgent[] = [];

function basic(principal: string, secret: string): string {
  return `Basic ${Buffer.from(`${principal}:${secret}`).toString('base64')}`;
}

async function principal(kind: 'framework' | 'agent'): Promise<string> {
  const name = `${kind}-${randomBytes(3).toString('hex')}`;
  const secret = randomBytes(24).toString('base64url');
  const created = await tm.master.registrar.principals.create({ principal: name, secret, kind, roles: ['*'] });
  if (!created.ok) throw new Error(created.error.message);
  return basic(name, secret);
}

/** An agent as the daemon registers on a g6.12xlarge-like host: 4 GPUs, ports, EC2 attributes. */
async function register(): Promise<TestAgent> {
  const response = await fetch(`${tm.url}/internal/v1/agents/register`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Authorization: agentAuth },
    body: JSON.stringify({
      hostname: `ip-10-0-${randomBytes(1)[0]}-${randomBytes(1)[0]}.ec2.internal`,
      ip: '10.0.3.17',
      resources: resources(`cpus:48;mem:190000;disk:140000;ports:[31000-32000];gpus:${GPUS}`),
      attributes: [
        { name: 'instance_type', type: 'TEXT', text: { value: 'g6.12xlarge' } },
        { name: 'zone', type: 'TEXT', text: { value: 'us-east-1a' } },
        { name: 'instance_id', type: 'TEXT', text: { value: instanceId() } },
      ],
      domain: { fault_domain: { region: { name: 'us-east-1' }, zone: { name: 'us-east-1a' } } },
      capabilities: [
        'MULTI_ROLE',
        'HIERARCHICAL_ROLE',
        'RESERVATION_REFINEMENT',
        'AGENT_DRAINING',
        'TASK_RESOURCE_LIMITS',
      ].map((type) => ({ type })),
      containerizers: ['docker', 'mesos'],
      isolation: { cgroups: 'v2', gpus: 'devices-cgroup', notes: [] },
      version: '0.1.0',
    }),
  });
  if (response.status !== 200) throw new Error(`register answered ${response.status}`);
  const body = (await response.json()) as { agent_id: { value: string }; command_queue_url: string };
  return { agentId: body.agent_id.value, commandQueueUrl: body.command_queue_url };
}

beforeAll(async () => {
  tm = await startTestMaster({
    authenticate: true,
    heartbeatIntervalSeconds: 3600,
    reconnectGraceSeconds: 3600,
    maxStreamSeconds: 24 * 3600,
  });
  agentAuth = await principal('agent');
  for (let i = 0; i < AGENTS; i++) agents.push(await register());
  framework = await subscribe(
    tm,
    {
      user: 'batch',
      name: 'cost',
      failover_timeout: 3600,
      capabilities: [{ type: 'GPU_RESOURCES' }, { type: 'PARTITION_AWARE' }],
    },
    { headers: { Authorization: await principal('framework') } },
  );
  meter.attach(tm.clients);
});
afterAll(async () => {
  framework.close();
  await tm.close();
  reader.destroy();
});

function delta(before: ReturnType<Meter['snapshot']>) {
  const now = meter.snapshot();
  return {
    read: now.read - before.read,
    write: now.write - before.write,
    standard: now.standard - before.standard,
    fifo: now.fifo - before.fifo,
  };
}

/** `slack`: what rounding adds on top of the 15% (a scan page's read units round up to the next 4 KB). */
function within(measured: number, documented: number, what: string, slack = 0): void {
  expect(measured, `${what}: measured ${measured.toFixed(3)}, documented ${documented}`).toBeLessThanOrEqual(
    documented * 1.15 + slack,
  );
  expect(measured, `${what}: measured ${measured.toFixed(3)}, documented ${documented}`).toBeGreaterThanOrEqual(
    documented * 0.85,
  );
}

describe('what the control plane uses', () => {
  it('per idle agent: heartbeats, their handling and their share of the periodic scans', async () => {
    const rounds = 20;
    const beats: ReceivedHeartbeat[] = [];
    for (const agent of agents) {
      const record = await tm.master.registrar.agents.get(agent.agentId);
      const instance = record?.attributes.find((a) => a.name === 'instance_id')?.text?.value;
      const body: HeartbeatMessage = { agent_id: { value: agent.agentId }, sent_at: Date.now() };
      beats.push({ body: JSON.stringify(body), senderId: `AROAEXAMPLE:${instance}` });
    }
    const before = meter.snapshot();
    for (let i = 0; i < rounds; i++) expect((await handleHeartbeats(tm.master, beats)).recorded).toBe(AGENTS);
    const handled = delta(before);
    within(handled.read / (rounds * AGENTS), MEASURED.heartbeatReadUnits, 'heartbeat read units');

    // The log item of a batch grows with its agents: a thousand ids of this cluster, in one write.
    const many = new Map(Array.from({ length: 1000 }, () => [newAgentId(tm.master.config.clusterId), Date.now()]));
    const logged = meter.snapshot();
    await tm.master.registrar.heartbeats.record(many);
    const bytesPerAgent = (delta(logged).write * 1024) / many.size;
    within(bytesPerAgent, MEASURED.heartbeatLogBytesPerAgent, 'heartbeat log bytes per agent');

    const scan = meter.snapshot();
    for await (const agent of tm.master.registrar.agents.list()) expect(agent.status).toBe('ACTIVE');
    // The agents' items (about 2 KB each) total close to 8 KB, and a page's units round up to the next
    // 4 KB: a few bytes more (a longer hostname) cost one more unit, a quarter of a unit per agent here.
    within(delta(scan).read / AGENTS, MEASURED.scanReadUnitsPerAgent, 'scan read units per agent', 1 / AGENTS);

    // In a cluster of a hundred agents.
    for (const [seconds, documented] of [
      [15, MEASURED.idleAgentMonth15s],
      [30, MEASURED.idleAgentMonth30s],
      [60, MEASURED.idleAgentMonth60s],
    ] as const) {
      const idle = total(idleAgentMonth({ heartbeatSeconds: seconds, clusterAgents: 100, ...MEASURED }));
      within(idle, documented, `idle agent-month, ${seconds} s heartbeats`);
    }
  });

  it('per task run end to end', async () => {
    const allocator = new Allocator(allocatorConfig());
    const passes: Array<ReturnType<typeof delta>> = [];
    const start = meter.snapshot();
    const itemsBefore = new Map(meter.items);
    const triggersBefore = tm.allocation.triggers.length;
    let apiCalls = 0;
    let statusMessages = 0;
    let tasks = 0;
    for (let round = 0; round < ROUNDS; round++) {
      const beforePass = meter.snapshot();
      const pass = await runAllocationPass({ registrar: tm.master.registrar, events: tm.master.events, allocator });
      passes.push(delta(beforePass));
      expect(pass.offers).toHaveLength(AGENTS);
      const offers = new Set(pass.offers.map((made) => made.offerId));
      await framework.next(
        () =>
          framework.stream.events.flatMap((e) => e.offers?.offers ?? []).filter((o) => offers.has(o.id.value))
            .length === AGENTS,
      );
      const launched: Array<{ agent: TestAgent; taskId: string }> = [];
      for (const made of pass.offers) {
        const agent = agents.find((a) => a.agentId === made.agentId) as TestAgent;
        const taskInfos = Array.from({ length: GPUS }, (_, i) => {
          const taskId = `r${round}-${made.agentId.slice(-6)}-${i}`;
          launched.push({ agent, taskId });
          return {
            name: taskId,
            task_id: { value: taskId },
            agent_id: { value: agent.agentId },
            resources: resources('cpus:8;mem:30000;gpus:1'),
            container: { type: 'DOCKER', docker: { image: 'nvcr.io/nvidia/pytorch:24.08-py3' } },
            command: { value: 'python train.py --epochs 1' },
          };
        });
        const accepted = await framework.call('ACCEPT', {
          accept: {
            offer_ids: [{ value: made.offerId }],
            operations: [{ type: 'LAUNCH', launch: { task_infos: taskInfos } }],
            filters: { refuse_seconds: 0 },
          },
        });
        expect(accepted.status).toBe(202);
        apiCalls++;
      }
      for (const agent of agents) await commands(tm, agent, 1);
      for (const { agent, taskId } of launched) {
        for (const state of ['TASK_STARTING', 'TASK_RUNNING', 'TASK_FINISHED'] as const) {
          await sendStatus(tm, agent, framework.frameworkId, { task_id: { value: taskId }, state, uuid: uuid() });
          statusMessages++;
        }
      }
      for (const { agent, taskId } of launched) {
        await framework.update(taskId, 'TASK_FINISHED');
        const updates = framework.stream.events.filter(
          (e: Event) => e.type === 'UPDATE' && e.update?.status.task_id.value === taskId,
        );
        for (const update of updates) {
          const acknowledged = await framework.call('ACKNOWLEDGE', {
            acknowledge: {
              agent_id: { value: agent.agentId },
              task_id: { value: taskId },
              uuid: update.update?.status.uuid,
            },
          });
          expect(acknowledged.status).toBe(202);
          apiCalls++;
        }
      }
      for (const agent of agents) await commands(tm, agent, 1);
      tasks += launched.length;
    }
    const used = delta(start);
    // Where the units and requests go, per task (the passes' reads as measured, one pass per round).
    const breakdown = [...meter.items]
      .map(([key, value]) => [key, (value - (itemsBefore.get(key) ?? 0)) / (ROUNDS * AGENTS * GPUS)] as const)
      .filter(([, value]) => value > 0)
      .sort((a, b) => a[0].localeCompare(b[0]));
    console.log(breakdown.map(([key, value]) => `${value.toFixed(3).padStart(8)}  ${key}`).join('\n'));
    const pass = passes.reduce((sum, p) => ({ read: sum.read + p.read, write: sum.write + p.write }), {
      read: 0,
      write: 0,
    });
    const triggers = tm.allocation.triggers.length - triggersBefore;
    // Per task, with one allocation pass per trigger (no coalescing: the dearest case). A pass reads the
    // whole cluster whatever triggered it; it writes only the offers it makes.
    const passesPerTask = triggers / tasks;
    const perTask: Usage = {
      restApiRequests: apiCalls / tasks,
      logBytes: (apiCalls / tasks) * ACCESS_LOG_BYTES,
      lambda: [
        { invocations: apiCalls / tasks, ...DURATIONS.apiCall },
        { invocations: statusMessages / tasks, ...DURATIONS.statusBatch },
        { invocations: passesPerTask, ...DURATIONS.allocationPass },
      ],
      dynamoReadUnits: (used.read - pass.read) / tasks + (passesPerTask * pass.read) / ROUNDS,
      dynamoWriteUnits: used.write / tasks,
      // Each trigger is a message on the allocation queue: sent, received and deleted.
      sqsStandardRequests: used.standard / tasks + passesPerTask * 3,
      sqsFifoRequests: used.fifo / tasks,
    };
    const functionUrl = { ...perTask, restApiRequests: 0, logBytes: 0 };
    console.log(
      `per task: ${perTask.restApiRequests.toFixed(2)} API calls, ${perTask.dynamoReadUnits.toFixed(2)} read and ` +
        `${perTask.dynamoWriteUnits.toFixed(2)} write units, ${perTask.sqsFifoRequests.toFixed(2)} FIFO requests; ` +
        `per 100,000 tasks $${cost(scale(perTask, 100_000)).toFixed(2)} (REST API), ` +
        `$${cost(scale(functionUrl, 100_000)).toFixed(2)} (function URL)`,
    );
    within(perTask.restApiRequests, MEASURED.apiCallsPerTask, 'API calls per task');
    within(statusMessages / tasks, MEASURED.statusMessagesPerTask, 'status messages per task');
    within(passesPerTask, MEASURED.allocationTriggersPerTask, 'allocation triggers per task');
    within(perTask.dynamoReadUnits, MEASURED.readUnitsPerTask, 'read units per task');
    within(perTask.dynamoWriteUnits, MEASURED.writeUnitsPerTask, 'write units per task');
    within(perTask.sqsFifoRequests, MEASURED.fifoRequestsPerTask, 'FIFO requests per task');
    within(cost(scale(perTask, 100_000)), MEASURED.per100kTasksApiGateway, 'per 100,000 tasks, REST API');
    within(cost(scale(functionUrl, 100_000)), MEASURED.per100kTasksFunctionUrl, 'per 100,000 tasks, function URL');
    // The budget comparison the document states.
    expect(MEASURED.per100kTasksApiGateway).toBeGreaterThan(BUDGET.per100kTasks);
    expect(PRICES.restApiRequest * perTask.restApiRequests * 100_000).toBeGreaterThan(BUDGET.per100kTasks / 2);
  });

  it('per scrape of the cluster-wide metrics: the agents, the frameworks and the task-count shards', async () => {
    const before = meter.snapshot();
    const figures = await clusterFigures(tm.master);
    const scrape = delta(before);
    expect(figures['master/slaves_active']).toBe(AGENTS);
    expect(figures['master/tasks_finished']).toBe(ROUNDS * AGENTS * GPUS);
    expect(scrape.write).toBe(0);
    // The agents' scan rounds up to the next 4 KB page, as above: one unit more in some runs.
    within(scrape.read - AGENTS * MEASURED.scanReadUnitsPerAgent, MEASURED.scrapeReadUnitsBesideAgents, 'scrape', 1);
    // Scrapes within the cache's lifetime read nothing.
    const again = meter.snapshot();
    await clusterFigures(tm.master);
    expect(delta(again).read).toBe(0);
  });
});
