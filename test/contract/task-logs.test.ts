/**
 * The task log store's CloudWatch client (shared/task-logs/cloudwatch.ts) against the local stand-in
 * (local/logs-standin.ts), through the real SDK client: streams created on first use, byte offsets
 * across events and pages, listings by prefix. What the stand-in cannot do (throttling, a stream
 * deleted under the writer) is injected into the client's `send`.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CreateLogGroupCommand, type CloudWatchLogsClient } from '@aws-sdk/client-cloudwatch-logs';
import {
  CloudWatchTaskLogReader,
  CloudWatchTaskLogWriter,
  createLogsClient,
  putBatches,
  type LogsSender,
} from '#shared/task-logs/cloudwatch.js';
import { parseStreamName, streamName, taskLogGroup } from '#shared/task-logs/names.js';
import { startLogsStandIn, type LogsStandIn } from '../../local/logs-standin.js';

let standIn: LogsStandIn;
let client: CloudWatchLogsClient;
const group = taskLogGroup('logs-test');

beforeAll(async () => {
  standIn = await startLogsStandIn();
  client = createLogsClient({ endpoint: standIn.endpoint, maxAttempts: 1 });
  await client.send(new CreateLogGroupCommand({ logGroupName: group }));
});

afterAll(async () => {
  client.destroy();
  await standIn.stop();
});

const run = { frameworkId: 'fw:1', executorId: 'task*1', run: 'c-1' };

describe('stream names', () => {
  it('follow the sandbox layout, escape what CloudWatch refuses, and parse back', () => {
    const name = streamName(run, 'stdout');
    expect(name).toBe('frameworks/fw%3A1/executors/task%2A1/runs/c-1/stdout');
    expect(parseStreamName(name ?? '')).toEqual({ run, file: 'stdout' });
    expect(parseStreamName(streamName(run, 'tasks/t%1/stderr') ?? '')).toEqual({ run, file: 'tasks/t%1/stderr' });
    expect(streamName({ ...run, executorId: 'x'.repeat(255) }, `tasks/${'y'.repeat(255)}/stdout`)).toBeUndefined();
  });

  it('batches stay within PutLogEvents limits', () => {
    const many = Array.from({ length: 10_001 }, () => ({ timestamp: 1, message: 'x' }));
    expect(putBatches(many).map((batch) => batch.length)).toEqual([10_000, 1]);
    const big = Array.from({ length: 20 }, () => ({ timestamp: 1, message: 'y'.repeat(100_000) }));
    expect(putBatches(big).map((batch) => batch.length)).toEqual([10, 10]);
  });
});

describe('the CloudWatch task log store on the stand-in', () => {
  it('appends to a stream it creates, and reads any byte range back', async () => {
    const writer = new CloudWatchTaskLogWriter(client, group);
    const reader = new CloudWatchTaskLogReader(client, group);
    const stream = streamName(run, 'stdout') as string;
    expect(await reader.read(stream, 0, 10)).toBeUndefined();
    expect(await reader.size(stream)).toBeUndefined();
    await writer.append(stream, [
      { timestamp: 1, message: 'héllo\n' },
      { timestamp: 2, message: 'world\n' },
    ]);
    expect(await reader.size(stream)).toBe(13);
    expect((await reader.read(stream, 0, 100))?.data.toString()).toBe('héllo\nworld\n');
    expect((await reader.read(stream, 4, 6))?.data.toString()).toBe('lo\nwor');
    expect(await reader.read(stream, 13, 10)).toEqual({ data: Buffer.alloc(0), end: true });
    await writer.append(stream, [{ timestamp: 3, message: 'more\n' }]);
    expect((await reader.read(stream, 13, 10))?.data.toString()).toBe('more\n');
  });

  it('reads across GetLogEvents pages, and a follower resumes from where it was', async () => {
    const writer = new CloudWatchTaskLogWriter(client, group);
    const stream = streamName({ ...run, run: 'paged' }, 'stdout') as string;
    const lines = Array.from({ length: 25_000 }, (_, i) => ({
      timestamp: i,
      message: `${String(i).padStart(5, '0')}\n`,
    }));
    await writer.append(stream, lines);
    const calls: string[] = [];
    const counting: LogsSender = {
      send: ((command: { constructor: { name: string } }) => {
        calls.push(command.constructor.name);
        return client.send(command as never);
      }) as LogsSender['send'],
    };
    const reader = new CloudWatchTaskLogReader(counting, group);
    expect(await reader.size(stream)).toBe(150_000);
    expect((await reader.read(stream, 6 * 24_999, 6))?.data.toString()).toBe('24999\n');
    expect((await reader.read(stream, 6 * 12_345, 12))?.data.toString()).toBe('12345\n12346\n');
    calls.length = 0;
    await writer.append(stream, [{ timestamp: 30_000, message: 'tail\n' }]);
    expect((await reader.read(stream, 150_000, 100))?.data.toString()).toBe('tail\n');
    expect(calls.length).toBeLessThanOrEqual(2);
  });

  it('lists the streams under a prefix, as the files API browses a run', async () => {
    const writer = new CloudWatchTaskLogWriter(client, group);
    const listed = { ...run, run: 'listed' };
    await writer.append(streamName(listed, 'stderr') as string, [{ timestamp: 1, message: 'e\n' }]);
    await writer.append(streamName(listed, 'stdout') as string, [{ timestamp: 1, message: 'o\n' }]);
    const reader = new CloudWatchTaskLogReader(client, group);
    const streams = await reader.list('frameworks/fw%3A1/executors/task%2A1/runs/listed/');
    expect(streams.map((stream) => stream.name.split('/').at(-1))).toEqual(['stderr', 'stdout']);
    expect(streams[0]?.createdAt).toBeGreaterThan(0);
    expect(await new CloudWatchTaskLogReader(client, '/no/such/group').list('frameworks/')).toEqual([]);
  });

  it('creates the stream again when it was deleted under the writer', async () => {
    const stream = streamName({ ...run, run: 'deleted' }, 'stdout') as string;
    let failed = false;
    const deleting: LogsSender = {
      send: ((command: { constructor: { name: string } }) => {
        if (command.constructor.name === 'PutLogEventsCommand' && !failed) {
          failed = true;
          return Promise.reject(
            Object.assign(new Error('The specified log stream does not exist.'), { name: 'ResourceNotFoundException' }),
          );
        }
        return client.send(command as never);
      }) as LogsSender['send'],
    };
    await new CloudWatchTaskLogWriter(deleting, group).append(stream, [{ timestamp: 1, message: 'kept\n' }]);
    expect(failed).toBe(true);
    expect((await new CloudWatchTaskLogReader(client, group).read(stream, 0, 10))?.data.toString()).toBe('kept\n');
  });

  it('lets a throttling error through for the shipper to retry', async () => {
    const throttled: LogsSender = {
      send: (() =>
        Promise.reject(
          Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' }),
        )) as LogsSender['send'],
    };
    await expect(
      new CloudWatchTaskLogWriter(throttled, group).append('frameworks/a/executors/b/runs/c/stdout', [
        { timestamp: 1, message: 'x' },
      ]),
    ).rejects.toThrow('Rate exceeded');
  });
});
