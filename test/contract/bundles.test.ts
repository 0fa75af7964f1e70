/**
 * The bundles `cdk synth` produces, run as Lambda would run them: the stack is synthesised with real
 * esbuild bundling, each function's built `index.mjs` is copied out of the repository (so nothing can
 * resolve from node_modules: the bundle must be self-contained), given the environment its template
 * declares (CloudFormation references resolved to the stand-ins' tables and queues), imported, and
 * invoked with a realistic event: REST API proxy events, an SQS batch, schedules, EventBridge events,
 * a TOKEN authorizer event. The agent bundle is run too.
 */
import { execFile } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Writable } from 'node:stream';
import { pathToFileURL } from 'node:url';
import type { Context, SQSRecord } from 'aws-lambda';
import { App } from 'aws-cdk-lib';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { LIFECYCLE_HOOK_NAME } from '../../infra/agents.js';
import { MantleStack } from '../../infra/mantle-stack.js';
import { toSqsRecord } from '../../local/event-source.js';
import { clusterSettings } from '../../infra/settings.js';
import { AgentCommandSchema, type AgentCommand } from '#shared/protocol/internal.js';
import { RecordIODecoder } from '#shared/protocol/recordio.js';
import type { Event } from '#shared/protocol/scheduler.js';
import { Queues } from '#shared/queues/queues.js';
import { createTables, Registrar, tableNames, type PrincipalKind } from '../../functions/registrar/index.js';
import { standInClients } from '../support/aws.js';
import { restApiEvent } from '../support/lambda-events.js';
import { instanceId, lifecycleEvent } from './infra-agents.js';
import { startAwsStub, type AwsStub } from './infra-aws-stub.js';
import { signAgentIdentity } from '../../agent/identity.js';
import { HAS_C_COMPILER } from '../support/device-filter.js';
import { instanceCaller, startStsStandIn, TEST_ACCOUNT, type StsCaller, type StsStandIn } from '../support/sts.js';

type Json = Record<string, unknown>;
interface CfnResource {
  Type: string;
  Properties: Json;
  Metadata?: Json;
}
type Handler = (event: unknown, ...rest: unknown[]) => Promise<unknown>;

const cluster = `b${randomBytes(4).toString('hex')}`;
const STUB_GROUP = `${cluster}-agents`;
const clients = standInClients();
const queues = new Queues(clients.sqs);
const registrar = new Registrar({
  documents: clients.documents,
  tables: tableNames(cluster),
  clusterId: 'bundle-test',
});
const work = mkdtempSync(join(tmpdir(), 'mantle-bundles-'));
const context = { awsRequestId: 'bundle-test', getRemainingTimeInMillis: () => 900_000 } as unknown as Context;

let outdir: string;
let template: { Resources: Record<string, CfnResource> };
let stub: AwsStub;
let sts: StsStandIn;
/** The agents role as the template names it (resolved), and the instance the test's agent runs on. */
let agentRole: { name: string; id: string };
let agentCaller: StsCaller;
/** The stand-in resource each CloudFormation resource of the template stands for. */
const physical = new Map<string, string>();
const credentials = new Map<PrincipalKind, string>();
const agentInstance = instanceId();

beforeAll(async () => {
  // The Lambda Node.js runtime's global, in every function (the streaming API, as far as the
  // handlers use it; the SDK adds its InvokeStore to the same object).
  const runtime = ((globalThis as { awslambda?: Json }).awslambda ??= {});
  Object.assign(runtime, {
    streamifyResponse: (fn: Handler) => fn,
    HttpResponseStream: {
      from(stream: Writable, metadata: unknown) {
        stream.write(JSON.stringify(metadata));
        stream.write(new Uint8Array(8));
        return stream;
      },
    },
  });
  outdir = mkdtempSync(join(tmpdir(), 'mantle-synth-'));
  const app = new App({ outdir, context: { 'aws:cdk:enable-asset-metadata': true } });
  const stack = new MantleStack(app, 'Bundles', { settings: clusterSettings((key) => ({ cluster })[key]) });
  const assembly = app.synth();
  template = assembly.getStackByName(stack.stackName).template as typeof template;

  await createTables(clients.dynamodb, tableNames(cluster));
  stub = await startAwsStub({ name: STUB_GROUP, hook: LIFECYCLE_HOOK_NAME });
  sts = await startStsStandIn();
  for (const [id, resource] of Object.entries(template.Resources)) {
    if (resource.Type === 'AWS::IAM::Role') physical.set(id, `Bundles-${id}`.slice(0, 64));
    if (resource.Type === 'AWS::DynamoDB::GlobalTable') physical.set(id, resource.Properties.TableName as string);
    if (resource.Type === 'AWS::SQS::Queue') {
      physical.set(id, await queues.ensure(resource.Properties.QueueName as string));
    }
    if (resource.Type === 'AWS::AutoScaling::AutoScalingGroup') physical.set(id, STUB_GROUP);
  }
  for (const kind of ['framework', 'agent', 'operator'] as const) {
    const principal = `${kind}-bundles`;
    const secret = randomBytes(24).toString('base64url');
    const created = await registrar.principals.create({ principal, secret, kind, roles: ['*'] });
    if (!created.ok) throw new Error(created.error.message);
    credentials.set(kind, `Basic ${Buffer.from(`${principal}:${secret}`).toString('base64')}`);
  }
  const api = builtFunction('Api').environment;
  agentRole = { name: api.MANTLE_AGENT_ROLE_NAME as string, id: api.MANTLE_AGENT_ROLE_ID as string };
  agentCaller = sts.add(instanceCaller(agentRole.name, agentRole.id, agentInstance));
}, 180_000);

afterAll(async () => {
  await stub.close();
  await sts.close();
  clients.destroy();
  rmSync(work, { recursive: true, force: true });
  rmSync(outdir, { recursive: true, force: true });
});

/** Resolves the intrinsics the stack's environment variables use, to the stand-ins. */
function resolve(value: unknown): string {
  if (typeof value === 'string') return value;
  const node = value as Json;
  if ('Ref' in node) {
    if (node.Ref === 'AWS::AccountId') return TEST_ACCOUNT;
    if (node.Ref === 'AWS::StackId')
      return `arn:aws:cloudformation:us-east-1:123456789012:stack/Bundles/${randomUUID()}`;
    const found = physical.get(node.Ref as string);
    if (found === undefined) throw new Error(`The test cannot resolve Ref ${String(node.Ref)}`);
    return found;
  }
  if ('Fn::Join' in node) {
    const [separator, parts] = node['Fn::Join'] as [string, unknown[]];
    return parts.map(resolve).join(separator);
  }
  if ('Fn::Select' in node) {
    const [index, list] = node['Fn::Select'] as [number, unknown];
    return resolveList(list)[index] as string;
  }
  if ('Fn::GetAtt' in node) {
    const [id, attribute] = node['Fn::GetAtt'] as [string, string];
    if (attribute === 'RoleId') return `AROA${id.slice(0, 12).toUpperCase()}`;
    throw new Error(`The test cannot resolve Fn::GetAtt ${id}.${attribute}`);
  }
  throw new Error(`The test cannot resolve ${JSON.stringify(value)}`);
}

function resolveList(value: unknown): string[] {
  const node = value as Json;
  if ('Fn::Split' in node) {
    const [separator, source] = node['Fn::Split'] as [string, unknown];
    return resolve(source).split(separator);
  }
  throw new Error(`The test cannot resolve the list ${JSON.stringify(value)}`);
}

interface BuiltFunction {
  readonly id: string;
  readonly handler: string;
  readonly environment: Record<string, string>;
  readonly bundle: string;
}

function builtFunction(key: string): BuiltFunction {
  const entries = Object.entries(template.Resources).filter(
    ([id, r]) => r.Type === 'AWS::Lambda::Function' && id.startsWith(`${key}Function`),
  );
  expect(entries, `the ${key} function`).toHaveLength(1);
  const [id, resource] = entries[0] as [string, CfnResource];
  const asset = resource.Metadata?.['aws:asset:path'] as string;
  const variables = (resource.Properties.Environment as { Variables: Record<string, unknown> }).Variables;
  return {
    id,
    handler: (resource.Properties.Handler as string).replace(/^index\./, ''),
    environment: Object.fromEntries(Object.entries(variables).map(([name, value]) => [name, resolve(value)])),
    bundle: join(outdir, asset),
  };
}

const ENDPOINTS = (): Record<string, string> => ({
  AWS_ENDPOINT_URL_DYNAMODB: inject('dynamodbEndpoint'),
  AWS_ENDPOINT_URL_SQS: inject('sqsEndpoint'),
  AWS_ENDPOINT_URL_AUTO_SCALING: stub.url,
  AWS_ENDPOINT_URL_EC2: stub.url,
  AWS_ENDPOINT_URL_STS: sts.url,
  AWS_ACCESS_KEY_ID: 'local',
  AWS_SECRET_ACCESS_KEY: 'local',
  AWS_REGION: 'us-east-1',
});

/** Everything a bundle writes (Powertools logs and EMF metrics), one JSON object per line. */
const captured: Json[] = [];

/**
 * Loads a function's bundle from a copy outside the repository, with its template's environment
 * (plus `overrides`), and returns a caller that invokes its handler under the same environment.
 */
async function load(key: string, overrides: Record<string, string> = {}) {
  const fn = builtFunction(key);
  const copy = join(work, `${key}-${randomBytes(3).toString('hex')}`);
  cpSync(fn.bundle, copy, { recursive: true });
  const environment = { ...fn.environment, ...ENDPOINTS(), ...overrides };
  const within = async <T>(work: () => Promise<T>): Promise<T> => {
    const saved = { ...process.env };
    Object.assign(process.env, environment);
    const writes = [process.stdout.write, process.stderr.write];
    const capture = ((chunk: string | Uint8Array) => {
      for (const line of String(chunk).split('\n')) {
        if (line.trim().startsWith('{')) captured.push(JSON.parse(line) as Json);
      }
      return true;
    }) as typeof process.stdout.write;
    process.stdout.write = capture;
    process.stderr.write = capture;
    try {
      return await work();
    } finally {
      [process.stdout.write, process.stderr.write] = writes as [typeof capture, typeof capture];
      for (const name of Object.keys(process.env)) if (!(name in saved)) Reflect.deleteProperty(process.env, name);
      Object.assign(process.env, saved);
    }
  };
  const module = await within(
    () => import(pathToFileURL(join(copy, 'index.mjs')).href) as Promise<Record<string, Handler>>,
  );
  const handler = module[fn.handler];
  expect(handler, `${key} exports ${fn.handler}`).toBeTypeOf('function');
  return {
    environment: fn.environment,
    invoke: (event: unknown, ...rest: unknown[]) => within(() => (handler as Handler)(event, ...rest)),
  };
}

/** The queue's messages as Lambda's event source hands them over; SQS stamps the sender's role session. */
async function sqsRecords(queueUrl: string, senderId = `${agentRole.id}:${agentInstance}`): Promise<SQSRecord[]> {
  const arn = await queues.arn(queueUrl);
  const received = await queues.receive(queueUrl, { waitSeconds: 2 });
  return received.map((message) => toSqsRecord(message, arn, 'us-east-1', senderId));
}

async function agentCommands(queueUrl: string): Promise<AgentCommand[]> {
  const received = await queues.receive(queueUrl, { waitSeconds: 2 });
  await queues.delete(
    queueUrl,
    received.map((message) => message.receiptHandle),
  );
  return received.map((message) => AgentCommandSchema.parse(JSON.parse(message.body)));
}

/** The agent's proof of its instance, as `--authenticatee=aws_sts` signs it in AWS. */
function agentIdentity(): Promise<string> {
  return signAgentIdentity({
    cluster,
    region: 'us-east-1',
    stsEndpoint: sts.url,
    credentials: () => Promise.resolve(agentCaller),
  });
}

describe('the bundles cdk synth builds', () => {
  let agent: { agentId: string; commandQueueUrl: string };
  let frameworkId: string;

  it('the authorizer: allows a principal its routes, refuses a bad secret', async () => {
    const authorizer = await load('Authorizer');
    const methodArn = 'arn:aws:execute-api:us-east-1:123456789012:abc/v1/POST/api/v1/scheduler';
    const allowed = (await authorizer.invoke(
      { type: 'TOKEN', authorizationToken: credentials.get('framework'), methodArn },
      context,
    )) as { policyDocument: { Statement: Array<{ Effect: string; Resource: string[] }> } };
    expect(allowed.policyDocument.Statement[0]?.Effect).toBe('Allow');
    expect(allowed.policyDocument.Statement[0]?.Resource).toContain(methodArn);
    await expect(
      authorizer.invoke(
        {
          type: 'TOKEN',
          authorizationToken: `Basic ${Buffer.from('framework-bundles:wrong').toString('base64')}`,
          methodArn,
        },
        context,
      ),
    ).rejects.toThrow('Unauthorized');
    // Agents prove their instance (STS, the stand-in); a shared agent principal is refused.
    const agentArn = 'arn:aws:execute-api:us-east-1:123456789012:abc/v1/POST/internal/v1/agents/register';
    const agentAllowed = (await authorizer.invoke(
      { type: 'TOKEN', authorizationToken: await agentIdentity(), methodArn: agentArn },
      context,
    )) as { context: Record<string, string> };
    expect(agentAllowed.context.kind).toBe('agent');
    await expect(
      authorizer.invoke({ type: 'TOKEN', authorizationToken: credentials.get('agent'), methodArn: agentArn }, context),
    ).rejects.toThrow('Unauthorized');
  });

  it("the API (REST proxy events): health, and an agent's registration with its AWS identity", async () => {
    const api = await load('Api');
    expect(api.environment.MANTLE_AUTHENTICATE).toBe('true');
    const health = (await api.invoke(restApiEvent('GET', '/health'), context)) as { statusCode: number };
    expect(health.statusCode).toBe(200);
    const anonymous = (await api.invoke(
      restApiEvent('POST', '/internal/v1/agents/register', {
        headers: { 'Content-Type': 'application/json' },
        body: {},
      }),
      context,
    )) as { statusCode: number };
    expect(anonymous.statusCode).toBe(401);
    const registered = (await api.invoke(
      restApiEvent('POST', '/internal/v1/agents/register', {
        headers: { 'Content-Type': 'application/json', Authorization: await agentIdentity() },
        body: {
          hostname: 'ip-10-0-0-7.ec2.internal',
          resources: [
            { name: 'cpus', type: 'SCALAR', scalar: { value: 8 } },
            { name: 'mem', type: 'SCALAR', scalar: { value: 30000 } },
            { name: 'gpus', type: 'SCALAR', scalar: { value: 1 } },
          ],
          attributes: [{ name: 'instance_id', type: 'TEXT', text: { value: agentInstance } }],
          containerizers: ['docker'],
          isolation: { cgroups: 'v2', gpus: 'devices-cgroup', notes: [] },
          version: 'bundle-test',
        },
      }),
      context,
    )) as { statusCode: number; body: string };
    expect(registered.statusCode).toBe(200);
    const body = JSON.parse(registered.body) as {
      agent_id: { value: string };
      command_queue_url: string;
      status_queue_url: string;
      heartbeat_queue_url: string;
    };
    const queueOf = (prefix: string) =>
      physical.get([...physical.keys()].find((id) => id.startsWith(prefix) && !id.includes('Dlq')) as string);
    expect(body.status_queue_url).toBe(queueOf('QueuesStatus'));
    expect(body.heartbeat_queue_url).toBe(queueOf('QueuesHeartbeats'));
    expect(body.command_queue_url).toContain(`${cluster}-agent-`);
    agent = { agentId: body.agent_id.value, commandQueueUrl: body.command_queue_url };
    const record = await registrar.agents.get(agent.agentId);
    expect(record?.principal).toBe(`arn:aws:sts::${TEST_ACCOUNT}:assumed-role/${agentRole.name}/${agentInstance}`);
    expect(record?.instanceSession).toBe(`${agentRole.id}:${agentInstance}`);
  });

  it("the scheduler (streamed through the Lambda runtime's response stream): SUBSCRIBE", async () => {
    // The stream's own limits are shortened: the template keeps Mesos's 15 s heartbeats and 14 min streams.
    const scheduler = await load('Scheduler', {
      MANTLE_MAX_STREAM_SECONDS: '1',
      MANTLE_HEARTBEAT_INTERVAL_SECONDS: '0.5',
    });
    const chunks: Buffer[] = [];
    const stream = new Writable({
      write(chunk: Buffer, _encoding, done) {
        chunks.push(Buffer.from(chunk));
        done();
      },
    });
    await scheduler.invoke(
      restApiEvent('POST', '/api/v1/scheduler', {
        headers: {
          'Content-Type': 'application/json',
          Accept: 'application/json',
          Authorization: credentials.get('framework') as string,
        },
        body: {
          type: 'SUBSCRIBE',
          subscribe: { framework_info: { user: 'bundle', name: 'bundles', capabilities: [{ type: 'GPU_RESOURCES' }] } },
        },
      }),
      stream,
      context,
    );
    const bytes = Buffer.concat(chunks);
    const delimiter = bytes.indexOf(Buffer.alloc(8));
    const prelude = JSON.parse(bytes.subarray(0, delimiter).toString()) as { statusCode: number };
    expect(prelude.statusCode).toBe(200);
    const events = new RecordIODecoder().decode(bytes.subarray(delimiter + 8)).map((r) => JSON.parse(r) as Event);
    expect(events[0]?.type).toBe('SUBSCRIBED');
    frameworkId = events[0]?.subscribed?.framework_id.value as string;
    expect((await registrar.frameworks.get(frameworkId))?.eventQueueUrl).toContain(`${cluster}-fw-`);
  });

  it('the allocator (an SQS batch of triggers): offers the agent to the framework', async () => {
    const allocator = await load('Allocator');
    const allocationQueue = allocator.environment.MANTLE_ALLOCATION_QUEUE_URL as string;
    await queues.send(allocationQueue, [{ body: { reason: 'PERIODIC' } }]);
    const records = (await sqsRecords(allocationQueue)).filter((record) => record.body.includes('PERIODIC'));
    expect(records.length).toBeGreaterThan(0);
    const result = (await allocator.invoke({ Records: records }, context)) as { batchItemFailures: unknown[] };
    expect(result.batchItemFailures).toEqual([]);
    const offers = Object.values((await registrar.agents.get(agent.agentId))?.offers ?? {});
    expect(offers.map((made) => made.frameworkId)).toEqual([frameworkId]);
  });

  it('the status handler (an SQS batch from the status FIFO queue): applies, acknowledges, drops the malformed', async () => {
    const status = await load('Status');
    const statusQueue = status.environment.MANTLE_STATUS_QUEUE_URL as string;
    const uuid = randomBytes(16).toString('base64');
    await queues.send(statusQueue, [
      {
        body: {
          type: 'STATUS_UPDATE',
          agent_id: { value: agent.agentId },
          framework_id: { value: frameworkId },
          status: { task_id: { value: 'never-launched' }, state: 'TASK_RUNNING', source: 'SOURCE_EXECUTOR', uuid },
        },
        groupId: `${frameworkId}/never-launched`,
        deduplicationId: randomUUID(),
      },
      { body: 'not json at all', groupId: 'malformed', deduplicationId: randomUUID() },
    ]);
    const records = await sqsRecords(statusQueue);
    expect(records).toHaveLength(2);
    const result = (await status.invoke({ Records: records }, context)) as { batchItemFailures: unknown[] };
    expect(result.batchItemFailures).toEqual([]);
    // An update the master cannot apply is acknowledged to the agent, which then stops resending it.
    const acknowledged = (await agentCommands(agent.commandQueueUrl)).filter((c) => c.type === 'ACKNOWLEDGE');
    expect(acknowledged).toEqual([expect.objectContaining({ task_id: { value: 'never-launched' }, uuid })]);
    expect(status.environment.MANTLE_AGENT_LIFECYCLE_HOOK).toBe(LIFECYCLE_HOOK_NAME);
  });

  it("the heartbeat handler (an SQS batch from the heartbeat queue): records the agent's heartbeat", async () => {
    const heartbeats = await load('Heartbeats');
    const heartbeatQueue = heartbeats.environment.MANTLE_HEARTBEAT_QUEUE_URL as string;
    await queues.send(heartbeatQueue, [{ body: { agent_id: { value: agent.agentId }, sent_at: Date.now() } }]);
    const records = await sqsRecords(heartbeatQueue);
    expect(records).toHaveLength(1);
    const before = Date.now();
    await heartbeats.invoke({ Records: records }, context);
    const seen = await registrar.heartbeats.lastSeen(before - 1000);
    expect(seen.get(agent.agentId)).toBeGreaterThanOrEqual(before - 1000);
  });

  it('the sweeper (a schedule event): sweeps the registrar', async () => {
    const sweeper = await load('Sweeper');
    captured.length = 0;
    await sweeper.invoke({ 'detail-type': 'Scheduled Event', source: 'aws.events', detail: {} }, context);
    expect(captured.find((line) => line.message === 'Sweep done')).toMatchObject({ unreachable: 0, removed: 0 });
  });

  it('the fleet tick (a schedule event): publishes the demand metrics and reads the group', async () => {
    const fleet = await load('FleetTick');
    expect(fleet.environment.MANTLE_AGENT_ASG_NAME).toBe(STUB_GROUP);
    captured.length = 0;
    await fleet.invoke({ 'detail-type': 'Scheduled Event', source: 'aws.events', detail: {} }, context);
    const emf = captured.find((line) => '_aws' in line) as Json & { _aws: { CloudWatchMetrics: Array<Json> } };
    expect(emf._aws.CloudWatchMetrics[0]).toMatchObject({ Namespace: 'Mantle', Dimensions: [['service', 'cluster']] });
    expect(emf).toMatchObject({
      cluster,
      service: 'fleet',
      ActiveAgents: 1,
      AgentsNeeded: 0,
      PendingGpus: 0,
      OutstandingOffers: 1,
    });
    expect(stub.callsOf('DescribeAutoScalingGroups').at(-1)?.params['AutoScalingGroupNames.member.1']).toBe(STUB_GROUP);
  });

  it('the lifecycle handler (an EventBridge lifecycle action): lets an instance without an agent go', async () => {
    const lifecycle = await load('Lifecycle');
    const instance = instanceId();
    stub.waiting.add(instance);
    await lifecycle.invoke(lifecycleEvent(STUB_GROUP, LIFECYCLE_HOOK_NAME, instance), context);
    expect(stub.callsOf('CompleteLifecycleAction').map((call) => call.params)).toContainEqual(
      expect.objectContaining({
        AutoScalingGroupName: STUB_GROUP,
        LifecycleHookName: LIFECYCLE_HOOK_NAME,
        InstanceId: instance,
        LifecycleActionResult: 'CONTINUE',
      }),
    );
  });

  it('the agent bundle runs on its own', async () => {
    const [, bundle] = Object.entries(template.Resources).find(([, r]) => r.Type === 'AWS::EC2::LaunchTemplate') ?? [];
    expect(bundle).toBeDefined();
    const assets = JSON.parse(readFileSync(join(outdir, 'Bundles.assets.json'), 'utf8')) as {
      files: Record<string, { source: { path: string; packaging: string } }>;
    };
    const agentAsset = Object.values(assets.files).find(
      (file) =>
        file.source.packaging === 'zip' &&
        readFileSync(join(outdir, file.source.path, 'index.mjs'), 'utf8').includes('mantle agent'),
    );
    expect(agentAsset).toBeDefined();
    const copy = join(work, 'agent');
    cpSync(join(outdir, agentAsset?.source.path as string), copy, { recursive: true });
    const { stdout } = await promisify(execFile)(process.execPath, [join(copy, 'index.mjs'), '--help']);
    expect(stdout).toContain('Usage: mantle agent --master=<url> [--work_dir=<dir>]');
    // The GPU device filter's loader, built here (Linux x86_64, as the fleet), static, beside index.mjs;
    // where this machine has no C compiler, only its source ships and the instance builds it at boot.
    expect(existsSync(join(copy, 'device-filter.c'))).toBe(true);
    if (!HAS_C_COMPILER) {
      expect(existsSync(join(copy, 'mantle-device-filter'))).toBe(false);
      return;
    }
    const usage = await promisify(execFile)(join(copy, 'mantle-device-filter'), []).catch((error: unknown) => error);
    expect(usage).toMatchObject({
      code: 2,
      stderr: expect.stringContaining('<cgroup2 dir> <major> [allowed minor ...]'),
    });
  });
});
