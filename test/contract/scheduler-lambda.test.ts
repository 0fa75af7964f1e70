/**
 * The Lambda path (issue 3): the app invoked as a Lambda handler with API Gateway REST proxy events,
 * in-process, against the stand-ins. The streaming entry point runs under a shim of the Lambda Node.js
 * runtime's `awslambda` global (AWS-only behaviour, so emulated here): it writes the HTTP integration
 * prelude (JSON metadata, then 8 NUL bytes) and then the body, which must parse as RecordIO.
 */
import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import type { Context } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { decodeMessage, encodeMessage } from '#shared/protocol/protobuf.js';
import { RecordIODecoder } from '#shared/protocol/recordio.js';
import type { Event } from '#shared/protocol/scheduler.js';
import { tableEnvironmentVariable, TABLE_DEFINITIONS, tableNames } from '../../functions/registrar/index.js';
import { createJobsTable } from '../../frameworks/jobs/bootstrap.js';
import { jobsTableName } from '../../frameworks/jobs/tables.js';
import { bootstrapMaster } from '../../local/master.js';
import { standInClients } from '../support/aws.js';
import { restApiEvent } from '../support/lambda-events.js';

type StreamingHandler = (event: unknown, stream: Writable, context: Context) => Promise<void>;
type BufferedHandler = (
  event: unknown,
  context: Context,
) => Promise<{ statusCode: number; body: string; headers?: Record<string, string> }>;

let streamingHandler: StreamingHandler;
let handler: BufferedHandler;
const clients = standInClients();

beforeAll(async () => {
  const cluster = `l${randomBytes(4).toString('hex')}`;
  const local = await bootstrapMaster({ clients, cluster, config: { authenticate: false } });
  const tables = tableNames(cluster);
  await createJobsTable(clients.dynamodb, jobsTableName(cluster));
  Object.assign(process.env, {
    MANTLE_JOBS_TABLE: jobsTableName(cluster),
    MANTLE_CLUSTER: cluster,
    MANTLE_CLUSTER_ID: local.master.config.clusterId,
    MANTLE_AGENT_IDENTITY: 'principal',
    MANTLE_STATUS_QUEUE_URL: local.statusQueueUrl,
    MANTLE_HEARTBEAT_QUEUE_URL: local.master.heartbeatQueueUrl,
    MANTLE_ALLOCATION_QUEUE_URL: local.allocationQueueUrl,
    MANTLE_MAX_STREAM_SECONDS: '3',
    MANTLE_HEARTBEAT_INTERVAL_SECONDS: '0.5',
    // The Lambda path itself is under test here; authentication is (test/contract/scheduler-auth.test.ts).
    MANTLE_AUTHENTICATE: 'false',
    MANTLE_ACLS: 'permissive',
    AWS_ENDPOINT_URL_DYNAMODB: inject('dynamodbEndpoint'),
    AWS_ENDPOINT_URL_SQS: inject('sqsEndpoint'),
    AWS_ACCESS_KEY_ID: 'local',
    AWS_SECRET_ACCESS_KEY: 'local',
    AWS_REGION: 'us-east-1',
    ...Object.fromEntries(TABLE_DEFINITIONS.map((t) => [tableEnvironmentVariable(t.id), tables[t.id]])),
  });
  // The Lambda Node.js runtime's streaming API, as far as the handler uses it.
  Object.assign(globalThis, {
    awslambda: {
      streamifyResponse: (fn: StreamingHandler) => fn,
      HttpResponseStream: {
        from(stream: Writable, metadata: unknown) {
          stream.write(JSON.stringify(metadata));
          stream.write(new Uint8Array(8));
          return stream;
        },
      },
    },
  });
  const api = (await import('../../functions/handlers/api.js')) as unknown as {
    streamingHandler: StreamingHandler;
    handler: BufferedHandler;
  };
  streamingHandler = api.streamingHandler;
  handler = api.handler;
});
afterAll(() => clients.destroy());

const context = { awsRequestId: 'test', getRemainingTimeInMillis: () => 900_000 } as unknown as Context;

describe('the master as a Lambda handler', () => {
  it('streams SUBSCRIBE as RecordIO after the HTTP integration prelude', async () => {
    const chunks: Buffer[] = [];
    const stream = new Writable({
      write(chunk: Buffer, _encoding, done) {
        chunks.push(Buffer.from(chunk));
        done();
      },
    });
    const event = restApiEvent('POST', '/api/v1/scheduler', {
      body: { type: 'SUBSCRIBE', subscribe: { framework_info: { user: 'lambda', name: 'streamed' } } },
      headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
    });
    await streamingHandler(event, stream, context);
    const bytes = Buffer.concat(chunks);
    const delimiter = bytes.indexOf(Buffer.alloc(8));
    expect(delimiter).toBeGreaterThan(0);
    const prelude = JSON.parse(bytes.subarray(0, delimiter).toString()) as {
      statusCode: number;
      headers: Record<string, string>;
    };
    expect(prelude.statusCode).toBe(200);
    expect(prelude.headers['content-type']).toBe('application/json');
    expect(prelude.headers['mesos-stream-id']).toMatch(/^[0-9a-f-]{36}$/);
    const events = new RecordIODecoder()
      .decode(bytes.subarray(delimiter + 8))
      .map((record) => JSON.parse(record) as Event);
    expect(events[0]?.type).toBe('SUBSCRIBED');
    expect(events[0]?.subscribed?.heartbeat_interval_seconds).toBe(0.5);
    expect(events[1]?.type).toBe('HEARTBEAT');
    // The stream ran until its maximum duration (3 s here, so that a turn a loaded machine makes a second late still
    // starts before it) and the heartbeats kept coming.
    expect(events.filter((e) => e.type === 'HEARTBEAT').length).toBeGreaterThanOrEqual(3);
  });

  it('takes protobuf bodies base64-encoded, as API Gateway passes a binary media type, and answers in kind', async () => {
    const protobufEvent = (path: string, body: Uint8Array) => ({
      ...restApiEvent('POST', path, {
        headers: { 'Content-Type': 'application/x-protobuf', Accept: 'application/x-protobuf' },
      }),
      body: Buffer.from(body).toString('base64'),
      isBase64Encoded: true,
    });
    const health = (await handler(
      protobufEvent('/api/v1', encodeMessage('mesos.v1.master.Call', { type: 'GET_HEALTH' })),
      context,
    )) as Awaited<ReturnType<BufferedHandler>> & { isBase64Encoded?: boolean };
    expect(health.statusCode).toBe(200);
    expect(health.isBase64Encoded).toBe(true);
    expect(decodeMessage('mesos.v1.master.Response', Buffer.from(health.body, 'base64'))).toEqual({
      ok: true,
      value: { type: 'GET_HEALTH', get_health: { healthy: true } },
    });

    const chunks: Buffer[] = [];
    const stream = new Writable({
      write(chunk: Buffer, _encoding, done) {
        chunks.push(Buffer.from(chunk));
        done();
      },
    });
    const subscribe = { type: 'SUBSCRIBE', subscribe: { framework_info: { user: 'lambda', name: 'protobuf' } } };
    await streamingHandler(
      protobufEvent('/api/v1/scheduler', encodeMessage('mesos.v1.scheduler.Call', subscribe)),
      stream,
      context,
    );
    const bytes = Buffer.concat(chunks);
    const delimiter = bytes.indexOf(Buffer.alloc(8));
    const prelude = JSON.parse(bytes.subarray(0, delimiter).toString()) as { headers: Record<string, string> };
    expect(prelude.headers['content-type']).toBe('application/x-protobuf');
    const events = new RecordIODecoder()
      .decodeBytes(bytes.subarray(delimiter + 8))
      .map((record) => decodeMessage('mesos.v1.scheduler.Event', record));
    expect(events[0]).toMatchObject({ ok: true, value: { type: 'SUBSCRIBED' } });
    expect(events[1]).toEqual({ ok: true, value: { type: 'HEARTBEAT' } });
  });

  it('answers buffered routes and Mesos status codes through the proxy integration', async () => {
    expect((await handler(restApiEvent('GET', '/health'), context)).statusCode).toBe(200);
    const missing = await handler(
      restApiEvent('POST', '/api/v1/scheduler', {
        body: { type: 'REVIVE' },
        headers: { 'Content-Type': 'application/json' },
      }),
      context,
    );
    expect(missing.statusCode).toBe(400);
    expect(missing.body).toMatch(/Expecting 'framework_id' to be present/);
    expect((await handler(restApiEvent('GET', '/api/v1/scheduler'), context)).statusCode).toBe(405);
  });

  it('answers the Jobs API over the table MANTLE_JOBS_TABLE names', async () => {
    const json = { 'Content-Type': 'application/json' };
    const body = { name: 'from-lambda', queue: 'lambda', command: 'true' };
    const submitted = await handler(restApiEvent('POST', '/api/jobs/v1/jobs', { body, headers: json }), context);
    expect(submitted.statusCode).toBe(201);
    const job = JSON.parse(submitted.body) as { id: string; state: string };
    expect(job.state).toBe('PENDING');
    const shown = await handler(restApiEvent('GET', `/api/jobs/v1/jobs/${job.id}`), context);
    expect(JSON.parse(shown.body)).toMatchObject({ id: job.id, name: 'from-lambda' });
    const bad = await handler(
      restApiEvent('POST', '/api/jobs/v1/jobs', { body: { name: 'x' }, headers: json }),
      context,
    );
    expect(bad.statusCode).toBe(400);
    expect(JSON.parse(bad.body)).toEqual({
      message: "Invalid job: field 'command': is required when there is no docker_image",
    });
  });
});
