/**
 * Registrar write throughput on DynamoDB Local: accepting offers and applying a status transition,
 * one at a time and with 32 in flight, against the raw rate of a conditional UpdateItem on the same
 * DynamoDB Local. Prints a line per case and writes bench/results/registrar.json.
 *
 * The target (issue 2): our layer reaches at least half the raw conditional UpdateItem rate.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CreateTableCommand, UpdateItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { startDynamoDbLocal } from '../local/aws-standins.js';
import { createAwsClients } from '#shared/aws/clients.js';
import { createTables, Registrar, tableNames, type OfferRecord } from '../functions/registrar/index.js';
import { parseResourceText } from '#shared/resources/parse.js';
import type { Resource } from '#shared/protocol/mesos.js';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const OPS = Number(process.env.BENCH_OPS ?? 2000);
const IN_FLIGHT = [1, 32];
const AGENTS = 64;
/** Outstanding offers per agent in the accept case: one per framework, Mesos-style, four frameworks. */
const OFFERS_PER_AGENT = 4;
const TASK = resources('cpus:4;mem:8192;gpus:1');

function resources(text: string): Resource[] {
  const result = parseResourceText(text);
  if (!result.ok) throw new Error(result.error.message);
  return result.value;
}

interface Measurement {
  case: string;
  in_flight: number;
  ops: number;
  ops_per_s: number;
  p50_ms: number;
  p99_ms: number;
}

/** Runs `op(i)` for i in [0, count) with `inFlight` workers; reports throughput and latency. */
async function measure(
  name: string,
  inFlight: number,
  count: number,
  op: (i: number) => Promise<unknown>,
): Promise<Measurement> {
  const latencies: number[] = [];
  let next = 0;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (next < count) {
        const i = next++;
        const began = performance.now();
        await op(i);
        latencies.push(performance.now() - began);
      }
    }),
  );
  const seconds = (performance.now() - start) / 1000;
  latencies.sort((a, b) => a - b);
  const at = (q: number) =>
    Number((latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0).toFixed(2));
  const result = {
    case: name,
    in_flight: inFlight,
    ops: count,
    ops_per_s: Math.round(count / seconds),
    p50_ms: at(0.5),
    p99_ms: at(0.99),
  };
  console.log(
    `${name.padEnd(28)} in flight ${String(inFlight).padStart(2)}: ${String(result.ops_per_s).padStart(5)}/s  ` +
      `p50 ${result.p50_ms} ms  p99 ${result.p99_ms} ms`,
  );
  return result;
}

type Clients = ReturnType<typeof createAwsClients>;

/** Runs `work(i)` for i in [0, count) with 32 workers (setting up, not measured). */
async function inParallel(count: number, work: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: 32 }, async () => {
      while (next < count) await work(next++);
    }),
  );
}

/** Baseline: a conditional UpdateItem, as bare as it gets. */
async function rawCases(clients: Clients): Promise<Measurement[]> {
  await clients.dynamodb.send(
    new CreateTableCommand({
      TableName: 'bench-raw',
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
      KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
    }),
  );
  console.log('setting up: raw items');
  for (let i = 0; i < AGENTS; i++) {
    await clients.dynamodb.send(
      new PutItemCommand({ TableName: 'bench-raw', Item: { pk: { S: `k${i}` }, version: { N: '0' } } }),
    );
  }
  const results: Measurement[] = [];
  for (const inFlight of IN_FLIGHT) {
    results.push(
      await measure('raw conditional UpdateItem', inFlight, OPS, (i) =>
        clients.dynamodb.send(
          new UpdateItemCommand({
            TableName: 'bench-raw',
            Key: { pk: { S: `k${i % AGENTS}` } },
            UpdateExpression: 'SET version = version + :one',
            ConditionExpression: 'attribute_exists(pk)',
            ExpressionAttributeValues: { ':one': { N: '1' } },
          }),
        ),
      ),
    );
  }
  return results;
}

/** OPS offers made beforehand, OFFERS_PER_AGENT on each agent. */
async function makeOffers(registrar: Registrar, inFlight: number): Promise<OfferRecord[]> {
  const agents = Math.ceil(OPS / OFFERS_PER_AGENT);
  console.log(`setting up: ${OPS} offers on ${agents} agents`);
  const offers: OfferRecord[] = [];
  await inParallel(agents, async (a) => {
    const admitted = await registrar.agents.admit({
      hostname: `bench-${inFlight}-${a}`,
      resources: resources('cpus:32;mem:65536;gpus:4;ports:[31000-32000]'),
    });
    if (!admitted.ok) throw new Error(admitted.error.message);
    const created = await registrar.agents.createOffers(
      admitted.value,
      Array.from({ length: OFFERS_PER_AGENT }, (_, f) => ({
        frameworkId: `bench-fw-${f}`,
        role: '*',
        resources: resources(`cpus:8;mem:16384;gpus:1;ports:[${31000 + f * 250}-${31000 + f * 250 + 249}]`),
      })),
    );
    if (!created.ok) throw new Error(created.error.message);
    offers.push(...created.value.offers);
  });
  return offers;
}

/** Accept: each accept launches one task from one offer. */
async function acceptCases(registrar: Registrar): Promise<Measurement[]> {
  const results: Measurement[] = [];
  for (const inFlight of IN_FLIGHT) {
    const offers = await makeOffers(registrar, inFlight);
    results.push(
      await measure('accept (ledger write)', inFlight, OPS, async (i) => {
        const offer = offers[i] as OfferRecord;
        const result = await registrar.agents.acceptOffers({
          agentId: offer.agentId,
          frameworkId: offer.frameworkId,
          offers: [offer],
          launches: [{ taskId: `task-${inFlight}-${i}`, resources: TASK }],
          launchId: `launch-${inFlight}-${i}`,
        });
        if (!result.ok) throw new Error(result.error.message);
      }),
    );
  }
  return results;
}

/** Status transition: STAGING -> RUNNING through the task state machine (read, apply, conditional write). */
async function statusCases(registrar: Registrar): Promise<Measurement[]> {
  const results: Measurement[] = [];
  for (const inFlight of IN_FLIGHT) {
    console.log(`setting up: ${OPS} staged tasks`);
    const frameworkId = `bench-fw-${inFlight}`;
    await inParallel(OPS, async (i) => {
      const added = await registrar.tasks.add({
        frameworkId,
        agentId: 'bench-agent',
        role: '*',
        resources: TASK,
        info: { name: `t${i}`, task_id: { value: `t${i}` }, agent_id: { value: 'bench-agent' } },
        launchId: `l${i}`,
      });
      if (!added.ok) throw new Error(added.error.message);
    });
    results.push(
      await measure('status transition', inFlight, OPS, async (i) => {
        const result = await registrar.tasks.updateStatus(frameworkId, {
          task_id: { value: `t${i}` },
          state: 'TASK_RUNNING',
          source: 'SOURCE_EXECUTOR',
          uuid: Buffer.from(`uuid-${inFlight}-${String(i).padStart(8, '0')}`.slice(0, 16)).toString('base64'),
        });
        if (!result.ok) throw new Error(result.error.message);
      }),
    );
  }
  return results;
}

function report(results: readonly Measurement[]): void {
  const raw32 = results.find((r) => r.case.startsWith('raw') && r.in_flight === 32)?.ops_per_s ?? 0;
  const summary = Object.fromEntries(
    results
      .filter((r) => !r.case.startsWith('raw') && r.in_flight === 32)
      .map((r) => [r.case, Number((r.ops_per_s / raw32).toFixed(2))]),
  );
  console.log(`share of the raw rate at 32 in flight (target >= 0.5): ${JSON.stringify(summary)}`);
  const out = join(dirname(fileURLToPath(import.meta.url)), 'results', 'registrar.json');
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(
    out,
    `${JSON.stringify(
      {
        benchmark: 'registrar',
        date: new Date().toISOString(),
        machine: { cpus: cpus().length, node: process.version },
        backend: 'DynamoDB Local (in memory)',
        results,
        share_of_raw_at_32_in_flight: summary,
        target: 'our layer >= 0.5 x raw conditional UpdateItem at 32 in flight',
      },
      null,
      2,
    )}\n`,
  );
  console.log(`wrote ${out}`);
}

async function main(): Promise<void> {
  console.log(`registrar benchmark: ${OPS} operations per case, DynamoDB Local`);
  const dynamo = await startDynamoDbLocal({ heapMb: 1024 });
  const clients = createAwsClients({ endpoints: { dynamodb: dynamo.endpoint } });
  try {
    const tables = tableNames('bench');
    await createTables(clients.dynamodb, tables);
    const registrar = new Registrar({ documents: clients.documents, tables, clusterId: 'bench' });
    const results = [
      ...(await rawCases(clients)),
      ...(await acceptCases(registrar)),
      ...(await statusCases(registrar)),
    ];
    report(results);
  } finally {
    clients.destroy();
    await dynamo.stop();
  }
}

await main();
