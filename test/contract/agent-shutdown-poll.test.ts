/**
 * A shutdown does not strand the commands its last long-poll took. SQS makes a received message invisible
 * (30 s on this master's command queue) and, in a FIFO queue, holds every later message of its group behind
 * it; a poll cut off after SQS answered loses its messages to the agent for that long, and a restarted agent
 * waits with them. A proxy in front of the SQS stand-in holds the answer that carries a LAUNCH until the
 * shutdown has begun, so the poll is in flight exactly then. The shutdown lets it end: the launch is handled
 * (the task started, then killed with the rest), and an agent restarted at once reports the kill and gets its
 * next command at once.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, expect, inject, it } from 'vitest';
import type { RunningAgent } from '../../agent/agent.js';
import type { AwsClients } from '#shared/aws/clients.js';
import { standInClients } from '../support/aws.js';
import { FakeMaster } from '../support/agent-master.js';
import { commandTask, launch, removeWorkDir, startTestAgent, taskId, tempWorkDir } from '../support/agent.js';

/** Forwards to the stand-in; holds a ReceiveMessage answer that contains `marker` until `release`. */
class HoldingProxy {
  marker: string | undefined;
  held: Promise<void>;
  private heldNow!: () => void;
  private release_: (() => void) | undefined;
  private server: Server | undefined;
  endpoint = '';

  constructor(private readonly target: string) {
    this.held = new Promise((resolve) => (this.heldNow = resolve));
  }

  release(): void {
    this.release_?.();
  }

  async start(): Promise<this> {
    this.server = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        void (async () => {
          const answer = await fetch(this.target, {
            method: 'POST',
            headers: {
              'content-type': String(request.headers['content-type'] ?? 'application/x-amz-json-1.0'),
              'x-amz-target': String(request.headers['x-amz-target'] ?? ''),
              ...(request.headers.authorization ? { authorization: request.headers.authorization } : {}),
            },
            body: Buffer.concat(chunks),
          });
          const body = await answer.text();
          const marker = this.marker;
          if (marker !== undefined && String(request.headers['x-amz-target']).endsWith('ReceiveMessage')) {
            if (body.includes(marker)) {
              this.marker = undefined;
              const released = new Promise<void>((resolve) => (this.release_ = resolve));
              this.heldNow();
              await released;
            }
          }
          if (response.destroyed) return;
          response
            .writeHead(answer.status, { 'content-type': answer.headers.get('content-type') ?? 'application/json' })
            .end(body);
        })();
      });
    });
    await new Promise<void>((resolve) => this.server?.listen(0, '127.0.0.1', resolve));
    this.endpoint = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  async stop(): Promise<void> {
    this.release();
    await new Promise<void>((resolve) => {
      this.server?.closeAllConnections();
      this.server?.close(() => resolve());
    });
  }
}

let clients: AwsClients;
let master: FakeMaster;
let proxy: HoldingProxy;
let workDir: string;
let agent: RunningAgent | undefined;

beforeAll(async () => {
  clients = standInClients();
  master = await new FakeMaster({ sqs: clients.sqs, heartbeatIntervalSeconds: 60 }).start();
  proxy = await new HoldingProxy(inject('sqsEndpoint')).start();
  workDir = await tempWorkDir();
});

afterAll(async () => {
  await agent?.shutdown(0, { waitForPoll: false });
  await master?.close();
  await proxy?.stop();
  clients?.destroy();
  if (workDir) await removeWorkDir(workDir);
});

it('lets the poll in flight at a shutdown end, handles what it took, and leaves nothing invisible for the next agent', async () => {
  const start = () => startTestAgent(master, { sqsEndpoint: proxy.endpoint, workDir, containerizers: ['mesos'] });
  agent = await start();
  const agentId = await agent.registered;

  const caught = taskId('caught-at-shutdown');
  proxy.marker = caught;
  await master.send(agentId, launch(commandTask(caught, 'sleep 30')));
  await proxy.held; // SQS has handed the launch over (invisible now); the agent has not seen it yet.
  const shutdown = agent.shutdown();
  await new Promise((resolve) => setTimeout(resolve, 300));
  proxy.release();
  await shutdown;
  agent = undefined;

  // The launch was handled and its task killed; its updates (STARTING's acknowledgement came after the
  // poll) go out from the restarted agent's checkpoint, and that agent's commands are not held up.
  agent = await start();
  expect(await agent.registered).toBe(agentId);
  const ended = await master.waitFor(caught, 'TASK_KILLED', 10_000);
  expect(ended.status.message).toMatch(/shutting down/);
  const next = taskId('after-restart');
  await master.send(agentId, launch(commandTask(next, 'true')));
  // Well inside the 30 s a stranded message would hold the group for.
  await master.waitFor(next, 'TASK_FINISHED', 10_000);
});
