/**
 * The client-side CPU of one AWS SDK v3 call, per client configuration: the registrar's document-client
 * GetItem and conditional UpdateItem against DynamoDB Local, and the SQS SendMessageBatch, ReceiveMessage and
 * DeleteMessageBatch of the status and command queues against the SQS stand-in. The stand-in runs in a child
 * process and DynamoDB Local is a JVM, so process.cpuUsage() here counts the client alone (serialising,
 * signing, middleware, HTTP, parsing, GC). Configurations run interleaved, BENCH_ROUNDS times, and each
 * figure is the median of its rounds, as the shared machine's load varies. Prints a table and writes
 * bench/results/sdk-calls.json.
 */
import { fork } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CreateTableCommand, DynamoDBClient, type DynamoDBClientConfig } from '@aws-sdk/client-dynamodb';
import {
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  UpdateCommand,
  type TranslateConfig,
} from '@aws-sdk/lib-dynamodb';
import {
  CreateQueueCommand,
  DeleteMessageBatchCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  SQSClient,
  type SQSClientConfig,
} from '@aws-sdk/client-sqs';
import { FetchHttpHandler } from '@smithy/fetch-http-handler';
import { startDynamoDbLocal, startSqsStandIn } from '../local/aws-standins.js';
import { createAwsClients, standInAuth, type AwsEndpoints } from '#shared/aws/clients.js';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const CALLS = Number(process.env.BENCH_CALLS ?? 300);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const WARMUP = 50;
const TABLE = 'bench-sdk-calls';

interface Clients {
  readonly documents: DynamoDBDocumentClient;
  readonly sqs: SQSClient;
  destroy(): void;
}

interface Configuration {
  readonly name: string;
  readonly what: string;
  build(endpoints: Required<AwsEndpoints>): Clients;
}

const LOCAL_CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' };

/** What shared/aws/clients.ts built before this benchmark: the SDK's defaults with endpoint and credentials. */
function sdkClients(
  endpoints: Required<AwsEndpoints>,
  dynamoExtra: Partial<DynamoDBClientConfig> = {},
  sqsExtra: Partial<SQSClientConfig> = {},
  translate: TranslateConfig = {
    marshallOptions: { removeUndefinedValues: true, convertClassInstanceToMap: false },
    unmarshallOptions: { wrapNumbers: false },
  },
): Clients {
  const common = { region: 'us-east-1', credentials: LOCAL_CREDENTIALS };
  const dynamodb = new DynamoDBClient({ ...common, endpoint: endpoints.dynamodb, ...dynamoExtra });
  const documents = DynamoDBDocumentClient.from(dynamodb, translate);
  const sqs = new SQSClient({ ...common, endpoint: endpoints.sqs, ...sqsExtra });
  return {
    documents,
    sqs,
    destroy() {
      dynamodb.destroy();
      sqs.destroy();
    },
  };
}

const CONFIGURATIONS: Configuration[] = [
  { name: 'sdk-default', what: 'endpoint, region and credentials only (before)', build: (e) => sdkClients(e) },
  {
    name: 'cache-middleware',
    // lib-dynamodb refuses cacheMiddleware on the client under a document client, so SQS alone.
    what: 'SQS cacheMiddleware: true (the middleware stack resolved once per command class)',
    build: (e) => sdkClients(e, {}, { cacheMiddleware: true }),
  },
  {
    name: 'static-endpoint',
    what: 'endpointProvider returns the local endpoint (no ruleset, no endpoint cache)',
    build: (e) =>
      sdkClients(
        e,
        { endpointProvider: () => ({ url: new URL(e.dynamodb) }) },
        { endpointProvider: () => ({ url: new URL(e.sqs) }) },
      ),
  },
  {
    name: 'unsigned',
    what: 'a fixed Authorization header in place of SigV4 signing (stand-ins only)',
    build: (e) => sdkClients(e, standInAuth('us-east-1', 'dynamodb'), standInAuth('us-east-1', 'sqs')),
  },
  {
    name: 'no-md5',
    what: 'SQS md5: false (no MD5 check of message bodies)',
    build: (e) => sdkClients(e, {}, { md5: false }),
  },
  {
    name: 'agent-256',
    what: 'NodeHttpHandler agent keepAlive, maxSockets 256, keepAliveMsecs 1000',
    build: (e) => {
      const requestHandler = { httpAgent: { keepAlive: true, maxSockets: 256, keepAliveMsecs: 1000 } };
      return sdkClients(e, { requestHandler }, { requestHandler });
    },
  },
  {
    name: 'fetch-handler',
    what: 'FetchHttpHandler (undici fetch) in place of NodeHttpHandler',
    build: (e) =>
      sdkClients(
        e,
        { requestHandler: new FetchHttpHandler({ keepAlive: true }) },
        { requestHandler: new FetchHttpHandler({ keepAlive: true }) },
      ),
  },
  {
    name: 'marshall-plain',
    what: 'document client with its default marshalling options (no removeUndefinedValues)',
    build: (e) => sdkClients(e, {}, {}, {}),
  },
  {
    name: 'all-local',
    what: 'SQS cacheMiddleware, static endpoint, unsigned, SQS md5 off',
    build: (e) =>
      sdkClients(
        e,
        { endpointProvider: () => ({ url: new URL(e.dynamodb) }), ...standInAuth('us-east-1', 'dynamodb') },
        {
          cacheMiddleware: true,
          endpointProvider: () => ({ url: new URL(e.sqs) }),
          md5: false,
          ...standInAuth('us-east-1', 'sqs'),
        },
      ),
  },
  {
    name: 'shipped',
    what: 'createAwsClients as it is now (shared/aws/clients.ts) with local endpoints',
    build: (e) => createAwsClients({ endpoints: e }),
  },
];

type Operation = 'get' | 'update' | 'send_batch' | 'receive' | 'delete_batch';
const OPERATIONS: Operation[] = ['get', 'update', 'send_batch', 'receive', 'delete_batch'];

const AGENT_ITEM = {
  pk: 'agent-0001',
  hostname: 'node-0001.example.internal',
  resources: 'cpus:16;mem:65536;disk:409600;ports:[31000-32000];gpus:0',
  attributes: { rack: 'r1', zone: 'a', os: 'linux' },
  used: { cpus: 1.5, mem: 4096 },
  version: 1,
  updatedAt: Date.now(),
};

const BODY = JSON.stringify({
  type: 'UPDATE',
  taskId: 'task-0000000000000000',
  state: 'TASK_RUNNING',
  agentId: 'agent-0001',
  uuid: '00000000-0000-0000-0000-000000000000',
  timestamp: 0,
  message: 'x'.repeat(120),
});

async function timed(cpu: Map<Operation, number>, operation: Operation, call: () => Promise<unknown>) {
  const before = process.cpuUsage();
  await call();
  const spent = process.cpuUsage(before);
  cpu.set(operation, (cpu.get(operation) ?? 0) + spent.user + spent.system);
}

/** One round of one configuration: CALLS of each operation; CPU µs per call by operation. */
async function round(clients: Clients, queueUrl: string, calls: number, id: number): Promise<Map<Operation, number>> {
  const cpu = new Map<Operation, number>();
  for (let i = 0; i < calls; i++) {
    const key = { pk: AGENT_ITEM.pk };
    await timed(cpu, 'get', () => clients.documents.send(new GetCommand({ TableName: TABLE, Key: key })));
    await timed(cpu, 'update', () =>
      clients.documents.send(
        new UpdateCommand({
          TableName: TABLE,
          Key: key,
          UpdateExpression: 'SET #used = :used, #version = #version + :one, #at = :at',
          ConditionExpression: 'attribute_exists(pk) AND #version >= :zero',
          ExpressionAttributeNames: { '#used': 'used', '#version': 'version', '#at': 'updatedAt' },
          ExpressionAttributeValues: { ':used': { cpus: i % 16, mem: 4096 }, ':one': 1, ':zero': 0, ':at': i },
          ReturnValues: 'NONE',
        }),
      ),
    );
    await timed(cpu, 'send_batch', () =>
      clients.sqs.send(
        new SendMessageBatchCommand({
          QueueUrl: queueUrl,
          Entries: Array.from({ length: 10 }, (_, n) => ({ Id: `m${n}`, MessageBody: `${BODY}${id}-${i}-${n}` })),
        }),
      ),
    );
    let received: { ReceiptHandle?: string | undefined }[] = [];
    await timed(cpu, 'receive', async () => {
      const output = await clients.sqs.send(
        new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0 }),
      );
      received = output.Messages ?? [];
    });
    const entries = received.map((message, n) => ({ Id: `d${n}`, ReceiptHandle: message.ReceiptHandle ?? '' }));
    if (entries.length === 0) throw new Error('the receive got no messages');
    await timed(cpu, 'delete_batch', () =>
      clients.sqs.send(new DeleteMessageBatchCommand({ QueueUrl: queueUrl, Entries: entries })),
    );
  }
  return new Map([...cpu].map(([operation, total]) => [operation, total / calls]));
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  const at = (index: number): number => sorted[index] ?? Number.NaN;
  return sorted.length % 2 ? at(middle) : (at(middle - 1) + at(middle)) / 2;
}

async function startSqsOutOfProcess(): Promise<{ endpoint: string; stop(): void }> {
  const child = fork(fileURLToPath(import.meta.url), ['--sqs-stand-in'], { stdio: 'inherit' });
  const endpoint = await new Promise<string>((resolve, reject) => {
    child.once('message', (message) => resolve((message as { endpoint: string }).endpoint));
    child.once('exit', (code) => reject(new Error(`the SQS stand-in exited with code ${code}`)));
  });
  return { endpoint, stop: () => child.disconnect() };
}

interface Built {
  readonly configuration: Configuration;
  readonly clients: Clients;
  readonly queueUrl: string;
  readonly n: number;
}

type Row = { configuration: string; what: string; cpu_us_per_call: Record<string, number>; cpu_us_all_five: number };

/** Every configuration's CPU µs per call by operation: warmed up, then ROUNDS interleaved rounds' medians. */
async function measure(built: Built[]): Promise<Row[]> {
  for (const { clients, queueUrl, n } of built) await round(clients, queueUrl, WARMUP, n);
  const samples = new Map<string, Map<Operation, number[]>>();
  for (let r = 0; r < ROUNDS; r++) {
    // A different order each round, so that no configuration always runs first or last.
    const order = r % 2 === 0 ? built : [...built].reverse();
    for (const { configuration, clients, queueUrl, n } of order) {
      const perCall = await round(clients, queueUrl, CALLS, n);
      const bySample = samples.get(configuration.name) ?? new Map<Operation, number[]>();
      for (const [operation, us] of perCall) bySample.set(operation, [...(bySample.get(operation) ?? []), us]);
      samples.set(configuration.name, bySample);
    }
  }
  return built.map(({ configuration }) => {
    const bySample = samples.get(configuration.name);
    const us = Object.fromEntries(OPERATIONS.map((op) => [op, Math.round(median(bySample?.get(op) ?? []))]));
    const total = OPERATIONS.reduce((sum, op) => sum + (us[op] ?? 0), 0);
    return { configuration: configuration.name, what: configuration.what, cpu_us_per_call: us, cpu_us_all_five: total };
  });
}

function report(rows: Row[], loadBefore: number[]): void {
  const baseline = rows[0]?.cpu_us_all_five ?? Number.NaN;
  console.log(`\n${'configuration'.padEnd(18)}${OPERATIONS.map((op) => op.padStart(13)).join('')}   all five`);
  for (const row of rows) {
    const cells = OPERATIONS.map((op) => String(row.cpu_us_per_call[op]).padStart(13)).join('');
    const change = (((row.cpu_us_all_five - baseline) / baseline) * 100).toFixed(0);
    console.log(`${row.configuration.padEnd(18)}${cells}   ${row.cpu_us_all_five} (${change}%)`);
  }
  const out = join(dirname(fileURLToPath(import.meta.url)), 'results', 'sdk-calls.json');
  mkdirSync(dirname(out), { recursive: true });
  const result = {
    benchmark: 'sdk-calls',
    unit: 'client CPU microseconds per call (user + system, this process only), median of rounds',
    calls_per_round: CALLS,
    rounds: ROUNDS,
    node: process.version,
    cpus: cpus().length,
    load_average_before: loadBefore.map((l) => Number(l.toFixed(2))),
    load_average_after: loadavg().map((l) => Number(l.toFixed(2))),
    results: rows,
  };
  writeFileSync(out, `${JSON.stringify(result, null, 2)}\n`);
  console.log(`wrote ${out}`);
}

async function main(): Promise<void> {
  console.log(`sdk-calls: ${CALLS} calls of each operation per configuration, ${ROUNDS} rounds`);
  const loadBefore = loadavg();
  const dynamo = await startDynamoDbLocal();
  const sqs = await startSqsOutOfProcess();
  const endpoints = { dynamodb: dynamo.endpoint, sqs: sqs.endpoint };
  const setup = createAwsClients({ endpoints });
  const built: Built[] = [];
  try {
    await setup.dynamodb.send(
      new CreateTableCommand({
        TableName: TABLE,
        AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
        KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
        BillingMode: 'PAY_PER_REQUEST',
      }),
    );
    await setup.documents.send(new PutCommand({ TableName: TABLE, Item: AGENT_ITEM }));
    for (const [n, configuration] of CONFIGURATIONS.entries()) {
      const { QueueUrl } = await setup.sqs.send(new CreateQueueCommand({ QueueName: `bench-${configuration.name}` }));
      if (!QueueUrl) throw new Error('the stand-in made no queue');
      built.push({ configuration, clients: configuration.build(endpoints), queueUrl: QueueUrl, n });
    }
    report(await measure(built), loadBefore);
  } finally {
    for (const { clients } of built) clients.destroy();
    setup.destroy();
    sqs.stop();
    await dynamo.stop();
  }
}

// The SQS stand-in, out of this process so that its CPU is not counted as the client's.
if (process.argv[2] === '--sqs-stand-in') {
  const sqs = await startSqsStandIn();
  process.send?.({ endpoint: sqs.endpoint });
  process.on('disconnect', () => void sqs.stop().then(() => process.exit(0)));
} else {
  await main();
}
