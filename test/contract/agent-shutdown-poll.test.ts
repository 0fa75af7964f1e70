/**
 * A shutdown does not strand the commands its last long-poll took. SQS makes a received message invisible
 * (30 s on this master's command queue) and, in a FIFO queue, holds every later message of its group behind
 * it; a poll cut off after SQS answered loses its messages to the agent for that long, and a restarted agent
 * waits with them. A proxy in front of the SQS stand-in holds the answer that carries a LAUNCH until the
 * shutdown has begun, so the poll is in flight exactly then. The shutdown lets it end: the launch is handled
 * (the task started, then killed with the rest), and an agent restarted at once reports the kill and gets its
 * next command at once.
 */
import { afterAll, beforeAll, expect, inject, it } from 'vitest';
import type { RunningAgent } from '../../agent/agent.js';
import type { AwsClients } from '#shared/aws/clients.js';
import { standInClients } from '../support/aws.js';
import { FakeMaster } from '../support/agent-master.js';
import { commandTask, launch, removeWorkDir, startTestAgent, taskId, tempWorkDir } from '../support/agent.js';
import { SqsProxy } from '../support/sqs-proxy.js';

/** Holds the ReceiveMessage answer that contains `marker` until `release`. */
class HoldingProxy {
  marker: string | undefined;
  readonly held: Promise<void>;
  private heldNow!: () => void;
  private release_: (() => void) | undefined;
  private readonly proxy: SqsProxy;

  constructor(target: string) {
    this.held = new Promise((resolve) => (this.heldNow = resolve));
    this.proxy = new SqsProxy(target, async (request, forward) => {
      const answer = await forward(request.body);
      const marker = this.marker;
      if (marker !== undefined && request.action === 'ReceiveMessage' && answer.body.includes(marker)) {
        this.marker = undefined;
        const released = new Promise<void>((resolve) => (this.release_ = resolve));
        this.heldNow();
        await released;
      }
      return answer;
    });
  }

  get endpoint(): string {
    return this.proxy.endpoint;
  }

  release(): void {
    this.release_?.();
  }

  async start(): Promise<this> {
    await this.proxy.start();
    return this;
  }

  async stop(): Promise<void> {
    this.release();
    await this.proxy.stop();
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
