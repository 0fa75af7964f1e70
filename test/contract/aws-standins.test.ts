import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ListTablesCommand } from '@aws-sdk/client-dynamodb';
import {
  CreateQueueCommand,
  DeleteMessageBatchCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  SendMessageCommand,
} from '@aws-sdk/client-sqs';
import { GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it } from 'vitest';
import { createAwsClients } from '#shared/aws/clients.js';
import { createTables, tableNames } from '../../functions/registrar/index.js';
import {
  isRunning,
  JavaMissingError,
  javaMajorVersion,
  startDynamoDbLocal,
  startLocalAws,
  startSqsStandIn,
  startSqsStandInProcess,
  type SqsStandIn,
} from '../../local/aws-standins.js';
import { correctedSource } from '../../local/sqs-package.js';

/** This process's children whose command line mentions `name`. */
function childrenNamed(name: string): number[] {
  return readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .filter((pid) => {
      try {
        const parent = Number(readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ')[1]);
        return parent === process.pid && readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(name);
      } catch {
        return false; // gone since
      }
    })
    .map(Number);
}

async function until(check: () => boolean, timeoutMs = 10_000): Promise<boolean> {
  for (const deadline = Date.now() + timeoutMs; Date.now() < deadline;) {
    if (check()) return true;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return check();
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('the local AWS stand-ins', () => {
  it('start, answer through the ordinary SDK clients, and stop by PID', async () => {
    const aws = await startLocalAws();
    const clients = aws.clients();
    try {
      expect(aws.dynamodb.endpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect(alive(aws.dynamodb.pid)).toBe(true);
      await createTables(clients.dynamodb, tableNames('standin'));
      const listed = await clients.dynamodb.send(new ListTablesCommand({}));
      expect(listed.TableNames).toContain('standin-agents');
      const queue = await clients.sqs.send(new CreateQueueCommand({ QueueName: 'standin-test' }));
      await clients.sqs.send(new SendMessageCommand({ QueueUrl: queue.QueueUrl, MessageBody: 'hello' }));
      const received = await clients.sqs.send(
        new ReceiveMessageCommand({ QueueUrl: queue.QueueUrl, WaitTimeSeconds: 1 }),
      );
      expect(received.Messages?.[0]?.Body).toBe('hello');
    } finally {
      clients.destroy();
      await aws.stop();
    }
    expect(alive(aws.dynamodb.pid)).toBe(false);
  });

  it("answer the registrar's and the queues' calls sent unsigned, as the local clients send them", async () => {
    const aws = await startLocalAws();
    const clients = aws.clients();
    try {
      expect(clients.dynamodb.config.httpAuthSchemes.map((scheme) => scheme.schemeId)).toEqual([
        'mantle.local#standIn',
      ]);
      expect(clients.sqs.config.httpAuthSchemes.map((scheme) => scheme.schemeId)).toEqual(['mantle.local#standIn']);
      const tables = tableNames('unsigned');
      await createTables(clients.dynamodb, tables);
      const Key = { agent_id: 'a1' };
      await clients.documents.send(new PutCommand({ TableName: tables.agents, Item: { ...Key, version: 1 } }));
      await clients.documents.send(
        new UpdateCommand({
          TableName: tables.agents,
          Key,
          UpdateExpression: 'SET version = version + :one, note = :note',
          ConditionExpression: 'version = :one',
          ExpressionAttributeValues: { ':one': 1, ':note': { kept: true, dropped: undefined } },
        }),
      );
      const read = await clients.documents.send(new GetCommand({ TableName: tables.agents, Key }));
      expect(read.Item).toEqual({ ...Key, version: 2, note: { kept: true } });
      const { QueueUrl } = await clients.sqs.send(
        new CreateQueueCommand({ QueueName: 'unsigned.fifo', Attributes: { FifoQueue: 'true' } }),
      );
      const bodies = Array.from({ length: 10 }, (_, i) => `{"update":${i},"text":"ünïcödé"}`);
      const batch = await clients.sqs.send(
        new SendMessageBatchCommand({
          QueueUrl,
          Entries: bodies.map((MessageBody, i) => ({
            Id: String(i),
            MessageBody,
            MessageGroupId: 'g',
            MessageDeduplicationId: String(i),
          })),
        }),
      );
      expect(batch.Successful).toHaveLength(10);
      const received = await clients.sqs.send(new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 10 }));
      expect(received.Messages?.map((message) => message.Body)).toEqual(bodies);
      const deleted = await clients.sqs.send(
        new DeleteMessageBatchCommand({
          QueueUrl,
          Entries: (received.Messages ?? []).map((message, i) => ({
            Id: String(i),
            ReceiptHandle: message.ReceiptHandle,
          })),
        }),
      );
      expect(deleted.Successful).toHaveLength(10);
      expect(deleted.Failed ?? []).toEqual([]);
    } finally {
      clients.destroy();
      await aws.stop();
    }
  });

  it('keeps tables across restarts with a data dir', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mantle-dynamo-'));
    try {
      const first = await startDynamoDbLocal({ dataDir: dir });
      const clients = createAwsClients({ endpoints: { dynamodb: first.endpoint } });
      await createTables(clients.dynamodb, tableNames('kept'));
      clients.destroy();
      await first.stop();
      const second = await startDynamoDbLocal({ dataDir: dir });
      const again = createAwsClients({ endpoints: { dynamodb: second.endpoint } });
      const listed = await again.dynamodb.send(new ListTablesCommand({}));
      again.destroy();
      await second.stop();
      expect(listed.TableNames).toContain(tableNames('kept').tasks);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('says clearly when Java is missing or too old', async () => {
    await expect(startDynamoDbLocal({ java: '/nonexistent/java' })).rejects.toThrow(JavaMissingError);
    await expect(startDynamoDbLocal({ java: '/nonexistent/java' })).rejects.toThrow(/openjdk-17-jre-headless/);
    const dir = mkdtempSync(join(tmpdir(), 'mantle-java-'));
    const oldJava = join(dir, 'java');
    writeFileSync(oldJava, '#!/bin/sh\necho \'java version "1.8.0_392"\' >&2\n', { mode: 0o755 });
    try {
      await expect(startDynamoDbLocal({ java: oldJava })).rejects.toThrow(/found Java 8/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    expect(javaMajorVersion('openjdk version "17.0.15" 2025-04-15')).toBe(17);
    expect(javaMajorVersion('java version "1.8.0_392"')).toBe(8);
    expect(javaMajorVersion('no version here')).toBeUndefined();
  });

  it('ends only a DynamoDB Local whose owner is gone, noted in its pid file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mantle-pidfile-'));
    const pidFile = join(dir, 'dynamodb-local.pid');
    const gone = spawn('true');
    await new Promise((resolve) => gone.once('exit', resolve));
    const sleeper = spawn('sleep', ['30']);
    const other = await startDynamoDbLocal();
    try {
      // Not DynamoDB Local (the PID may have been reused): left alone.
      writeFileSync(pidFile, `${sleeper.pid} ${gone.pid}\n`);
      const first = await startDynamoDbLocal({ pidFile });
      expect(first.reaped).toBeUndefined();
      expect(isRunning(sleeper.pid as number)).toBe(true);
      expect(readFileSync(pidFile, 'utf8')).toBe(`${first.pid} ${process.pid}\n`);
      await first.stop();
      expect(existsSync(pidFile)).toBe(false);

      // Its owner still runs (another `mantle local` on the same folder): left alone.
      writeFileSync(pidFile, `${other.pid} ${process.pid}\n`);
      const second = await startDynamoDbLocal({ pidFile });
      expect(second.reaped).toBeUndefined();
      expect(isRunning(other.pid)).toBe(true);
      await second.stop();
    } finally {
      sleeper.kill('SIGKILL');
      await other.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it.each([
    ['in this process', startSqsStandIn],
    ['in a child process', startSqsStandInProcess],
  ] as const)(
    "drains a backlog past SQS's in-flight quota (%s): only received, undeleted messages count",
    async (_, start) => {
      const sqs: SqsStandIn = await start();
      const clients = createAwsClients({ endpoints: { sqs: sqs.endpoint } });
      try {
        const { QueueUrl } = await clients.sqs.send(
          new CreateQueueCommand({ QueueName: 'backlog.fifo', Attributes: { FifoQueue: 'true' } }),
        );
        // 20,000 waiting: the package's own check refused every receive from here on (it counted them as in flight).
        for (let sent = 0; sent < 20_000; sent += 10) {
          await clients.sqs.send(
            new SendMessageBatchCommand({
              QueueUrl,
              Entries: Array.from({ length: 10 }, (_, i) => ({
                Id: String(i),
                MessageBody: 'waiting',
                MessageGroupId: `group-${sent + i}`,
                MessageDeduplicationId: `message-${sent + i}`,
              })),
            }),
          );
        }
        const received = await clients.sqs.send(new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 10 }));
        expect(received.Messages).toHaveLength(10);
        const attributes = await clients.sqs.send(
          new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['ApproximateNumberOfMessagesNotVisible'] }),
        );
        expect(attributes.Attributes?.ApproximateNumberOfMessagesNotVisible).toBe('10');
      } finally {
        clients.destroy();
        await sqs.stop();
      }
    },
  );

  it('refuses to run a stand-in package whose in-flight check it does not know', () => {
    expect(() => correctedSource('module.exports = {}')).toThrow(/is not in its bundle exactly once/);
  });

  it('reports a port that is taken instead of hanging', async () => {
    const sqs = await startSqsStandIn();
    try {
      await expect(startSqsStandIn({ port: sqs.port })).rejects.toThrow(/EADDRINUSE/);
    } finally {
      await sqs.stop();
    }
  });

  it('runs the SQS stand-in in a child of its own, which says its port and stops when told', async () => {
    const sqs = await startSqsStandInProcess();
    const clients = createAwsClients({ endpoints: { sqs: sqs.endpoint } });
    try {
      expect(sqs.endpoint).toBe(`http://127.0.0.1:${sqs.port}`);
      expect(sqs.pid).not.toBe(process.pid);
      expect(childrenNamed('sqs-host')).toEqual([sqs.pid]);
      const { QueueUrl } = await clients.sqs.send(new CreateQueueCommand({ QueueName: 'child' }));
      expect(QueueUrl).toBe(`${sqs.endpoint}/123456789012/child`);
    } finally {
      clients.destroy();
      await sqs.stop();
    }
    expect(isRunning(sqs.pid as number)).toBe(false);
  });

  it('a stand-in child that cannot start says why and leaves nothing running', async () => {
    const sqs = await startSqsStandIn();
    try {
      await expect(startSqsStandInProcess({ port: sqs.port })).rejects.toThrow(
        /the SQS stand-in could not start: listen EADDRINUSE/,
      );
      expect(await until(() => childrenNamed('sqs-host').length === 0)).toBe(true);
    } finally {
      await sqs.stop();
    }
  });

  it('a stand-in that dies says so, and the stand-ins still stop cleanly', async () => {
    const aws = await startLocalAws({ sqsProcess: true });
    const pid = aws.sqs.pid as number;
    process.kill(pid, 'SIGKILL');
    const died = await aws.died;
    expect(died.message).toBe(`the SQS stand-in (pid ${pid}) exited (SIGKILL): the queues are gone`);
    await aws.stop();
    expect(alive(aws.dynamodb.pid)).toBe(false);
    expect(childrenNamed('sqs-host')).toEqual([]);
  });

  it('a stand-in child dies with its parent, even one killed with SIGKILL', async () => {
    const standins = new URL('../../local/sqs-standin.ts', import.meta.url).href;
    const owner = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        '--input-type=module',
        '-e',
        `const { startSqsStandInProcess } = await import('${standins}');
         const sqs = await startSqsStandInProcess();
         console.log(sqs.pid);`,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    try {
      const pid = await new Promise<number>((resolve, reject) => {
        owner.stdout.once('data', (chunk: Buffer) => resolve(Number(chunk.toString().trim())));
        owner.once('exit', (code) => reject(new Error(`the owner exited (${code}) before it started the stand-in`)));
      });
      expect(isRunning(pid)).toBe(true);
      owner.kill('SIGKILL');
      expect(await until(() => !isRunning(pid))).toBe(true);
    } finally {
      owner.kill('SIGKILL');
    }
  });
});
