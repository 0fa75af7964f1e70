/**
 * Checks (CheckInfo) and max_completion_time on the process containerizer, end to end through the SQS
 * stand-in: every update of a task with a check carries check_status (empty before the first result),
 * a TASK_RUNNING with REASON_TASK_CHECK_STATUS_UPDATED follows each change of the result, failing checks
 * never kill; a task still running at its max_completion_time ends TASK_FAILED with
 * REASON_MAX_COMPLETION_TIME_REACHED.
 */
import { writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { RunningAgent } from '../../agent/agent.js';
import type { AwsClients } from '#shared/aws/clients.js';
import type { TaskStatus } from '#shared/protocol/mesos.js';
import { standInClients } from '../support/aws.js';
import { FakeMaster } from '../support/agent-master.js';
import { sandboxes } from '../support/agent-sandbox.js';
import { commandTask, kill, launch, removeWorkDir, startTestAgent, taskId, tempWorkDir } from '../support/agent.js';

let clients: AwsClients;
let master: FakeMaster;
let agent: RunningAgent;
let agentId: string;
let workDir: string;

beforeAll(async () => {
  clients = standInClients();
  master = await new FakeMaster({ sqs: clients.sqs }).start();
  workDir = await tempWorkDir();
  agent = await startTestAgent(master, { sqsEndpoint: inject('sqsEndpoint'), workDir, containerizers: ['mesos'] });
  agentId = await agent.registered;
});

afterAll(async () => {
  await agent?.shutdown();
  await master?.close();
  clients?.destroy();
  if (workDir) await removeWorkDir(workDir);
});

/** The check results the task's check updates reported, in order. */
function checkUpdates(id: string): Array<TaskStatus['check_status']> {
  return master
    .updates(id)
    .map((received) => received.status)
    .filter((status) => status.reason === 'REASON_TASK_CHECK_STATUS_UPDATED')
    .map((status) => status.check_status);
}

async function listen(handler: Parameters<typeof createServer>[1]): Promise<{ server: Server; port: number }> {
  const server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: (server.address() as AddressInfo).port };
}

describe('checks', () => {
  it('COMMAND: reports the exit code when it changes, starting empty, and never kills', async () => {
    const id = taskId('check-command');
    const check = {
      type: 'COMMAND' as const,
      command: { command: { value: 'test -f ready' } },
      delay_seconds: 0,
      interval_seconds: 0.2,
      timeout_seconds: 5,
    };
    await master.send(agentId, launch(commandTask(id, 'sleep 60', { check })));
    // The check passes once the test has seen it fail: a task's own `sleep 1` could end before a loaded
    // machine's first check ran, and then no failing result would come.
    await master.waitFor(id, 'TASK_RUNNING', 10_000, (s) => s.check_status?.command?.exit_code === 1);
    const [sandbox] = await sandboxes(workDir, id);
    await writeFile(join(sandbox as string, 'ready'), '');
    await master.waitFor(id, 'TASK_RUNNING', 10_000, (s) => s.check_status?.command?.exit_code === 0);
    const [starting, running] = master.updates(id).map((received) => received.status);
    expect(starting).toMatchObject({ state: 'TASK_STARTING', check_status: { type: 'COMMAND', command: {} } });
    expect(running?.state).toBe('TASK_RUNNING');
    expect(running?.check_status).toEqual({ type: 'COMMAND', command: {} });
    expect(checkUpdates(id)).toEqual([
      { type: 'COMMAND', command: { exit_code: 1 } },
      { type: 'COMMAND', command: { exit_code: 0 } },
    ]);
    await master.send(agentId, kill(id));
    const killed = await master.waitFor(id, 'TASK_KILLED');
    expect(killed.status.check_status).toEqual({ type: 'COMMAND', command: { exit_code: 0 } });
  });

  it('HTTP and TCP: the status code, and whether the connection succeeded', async () => {
    let code = 503;
    const http = await listen((_request, response) => response.writeHead(code).end());
    const closed = await listen(() => undefined);
    await new Promise((resolve) => closed.server.close(resolve));
    const httpId = taskId('check-http');
    const tcpId = taskId('check-tcp');
    const timing = { delay_seconds: 0, interval_seconds: 0.2, timeout_seconds: 2 };
    try {
      await master.send(
        agentId,
        launch(commandTask(httpId, 'sleep 60', { check: { type: 'HTTP', http: { port: http.port }, ...timing } })),
        launch(commandTask(tcpId, 'sleep 60', { check: { type: 'TCP', tcp: { port: closed.port }, ...timing } })),
      );
      await master.waitFor(httpId, 'TASK_RUNNING', 10_000, (s) => s.check_status?.http?.status_code === 503);
      code = 200;
      await master.waitFor(httpId, 'TASK_RUNNING', 10_000, (s) => s.check_status?.http?.status_code === 200);
      expect(checkUpdates(httpId)).toEqual([
        { type: 'HTTP', http: { status_code: 503 } },
        { type: 'HTTP', http: { status_code: 200 } },
      ]);
      await master.waitFor(tcpId, 'TASK_RUNNING', 10_000, (s) => s.check_status?.tcp?.succeeded === false);
      // The port opens: the next check connects.
      const reopened = createServer();
      await new Promise<void>((resolve) => reopened.listen(closed.port, '127.0.0.1', resolve));
      try {
        await master.waitFor(tcpId, 'TASK_RUNNING', 10_000, (s) => s.check_status?.tcp?.succeeded === true);
      } finally {
        reopened.close();
      }
      expect(checkUpdates(tcpId)).toEqual([
        { type: 'TCP', tcp: { succeeded: false } },
        { type: 'TCP', tcp: { succeeded: true } },
      ]);
    } finally {
      await master.send(agentId, kill(httpId), kill(tcpId));
      http.server.close();
    }
    await master.waitFor(httpId, 'TASK_KILLED');
    await master.waitFor(tcpId, 'TASK_KILLED');
  });
});

describe('max_completion_time', () => {
  it('kills a task still running at its deadline: TASK_FAILED, REASON_MAX_COMPLETION_TIME_REACHED', async () => {
    const id = taskId('deadline');
    const started = Date.now();
    await master.send(agentId, launch(commandTask(id, 'sleep 60', { max_completion_time: { nanoseconds: 1e9 } })));
    const failed = await master.waitFor(id, 'TASK_FAILED', 15_000);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1_000);
    expect(failed.status).toMatchObject({
      reason: 'REASON_MAX_COMPLETION_TIME_REACHED',
      source: 'SOURCE_EXECUTOR',
    });
    expect(failed.status.message).toMatch(
      /^Task reached its max completion time of 1s \(Command terminated with signal/,
    );
    expect(master.updates(id).map((received) => received.status.state)).toEqual([
      'TASK_STARTING',
      'TASK_RUNNING',
      'TASK_FAILED',
    ]);
  });

  it('keeps the deadline across an agent restart', async () => {
    const dir = await tempWorkDir();
    let first: RunningAgent | undefined = await startTestAgent(master, {
      sqsEndpoint: inject('sqsEndpoint'),
      workDir: dir,
      containerizers: ['mesos'],
    });
    let second: RunningAgent | undefined;
    try {
      const firstId = await first.registered;
      const id = taskId('deadline-restart');
      await master.send(firstId, launch(commandTask(id, 'sleep 60', { max_completion_time: { nanoseconds: 4e9 } })));
      await master.waitFor(id, 'TASK_RUNNING', 10_000);
      // Stopped: the task keeps running and no agent watches its deadline for a while.
      await first.stop();
      first = undefined;
      second = await startTestAgent(master, {
        sqsEndpoint: inject('sqsEndpoint'),
        workDir: dir,
        containerizers: ['mesos'],
      });
      await second.registered;
      const failed = await master.waitFor(id, 'TASK_FAILED', 20_000);
      expect(failed.status.reason).toBe('REASON_MAX_COMPLETION_TIME_REACHED');
    } finally {
      await first?.shutdown();
      await second?.shutdown();
      await removeWorkDir(dir);
    }
  });

  it('leaves a task that ends in time alone', async () => {
    const id = taskId('in-time');
    await master.send(agentId, launch(commandTask(id, 'true', { max_completion_time: { nanoseconds: 5e9 } })));
    const finished = await master.waitFor(id, 'TASK_FINISHED', 15_000);
    expect(finished.status.reason).toBeUndefined();
  });
});
