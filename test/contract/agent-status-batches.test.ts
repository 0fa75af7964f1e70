/**
 * The agent's SQS requests per task, counted between a real agent and the SQS stand-in by a proxy that sees every
 * request: the updates a receive's acknowledgements release share one SendMessageBatch (agent/agent.ts's transport,
 * gathered per turn by shared/queues/send-batches.ts), each task's updates still arrive in order, and an entry SQS refuses
 * fails only its own update, which the status update manager sends again. The refusal is injected by the proxy
 * (the stand-in never refuses one entry of a batch): it keeps the entry from the stand-in and reports it in `Failed`.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { RunningAgent } from '../../agent/agent.js';
import type { AwsClients } from '#shared/aws/clients.js';
import { Queues } from '#shared/queues/queues.js';
import { standInClients } from '../support/aws.js';
import { FakeMaster } from '../support/agent-master.js';
import { commandTask, launch, removeWorkDir, startTestAgent, taskId, tempWorkDir } from '../support/agent.js';
import { eventually } from '../support/cluster.js';
import { SqsProxy, type ProxiedAnswer, type ProxiedRequest } from '../support/sqs-proxy.js';
import { untilFile } from '../support/gates.js';

interface Seen {
  readonly action: string;
  readonly queueUrl: string;
  /** SendMessageBatch: the bodies of its entries; ReceiveMessage: how many messages came. */
  readonly bodies: readonly string[];
  readonly received: number;
  /** Entries the proxy refused (their bodies). */
  readonly refused: readonly string[];
}

interface BatchRequest {
  QueueUrl?: string;
  Entries?: Array<{ Id: string; MessageBody?: string }>;
}

/** Refuses entries of a SendMessageBatch: given its bodies, the indexes to refuse. */
type Refusal = (bodies: readonly string[]) => readonly number[];

/** Records each request the agent makes of SQS (sqs-proxy.ts), and can refuse entries. */
class CountingProxy {
  readonly seen: Seen[] = [];
  refuse: Refusal = () => [];
  private readonly proxy: SqsProxy;

  constructor(target: string) {
    this.proxy = new SqsProxy(target, (request, forward) => this.forward(request, forward));
  }

  get endpoint(): string {
    return this.proxy.endpoint;
  }

  async start(): Promise<this> {
    await this.proxy.start();
    return this;
  }

  stop(): Promise<void> {
    return this.proxy.stop();
  }

  private async forward(
    { action, body: raw }: ProxiedRequest,
    forward: (body: string) => Promise<ProxiedAnswer>,
  ): Promise<ProxiedAnswer> {
    const input = JSON.parse(raw || '{}') as BatchRequest;
    const bodies = (input.Entries ?? []).map((entry) => entry.MessageBody ?? '');
    const refusedAt = action === 'SendMessageBatch' ? new Set(this.refuse(bodies)) : new Set<number>();
    const refused = (input.Entries ?? []).filter((_, i) => refusedAt.has(i));
    if (refused.length > 0) input.Entries = input.Entries?.filter((_, i) => !refusedAt.has(i));
    const answer = await forward(JSON.stringify(input));
    let body = answer.body;
    if (refused.length > 0 && answer.status === 200 && body) {
      const output = JSON.parse(body) as { Failed?: unknown[] };
      output.Failed = [
        ...(output.Failed ?? []),
        ...refused.map((entry) => ({ Id: entry.Id, SenderFault: false, Code: 'InternalError', Message: 'injected' })),
      ];
      body = JSON.stringify(output);
    }
    const received =
      action === 'ReceiveMessage' && body ? ((JSON.parse(body) as { Messages?: unknown[] }).Messages ?? []) : [];
    this.seen.push({
      action,
      queueUrl: input.QueueUrl ?? '',
      bodies,
      received: received.length,
      refused: refused.map((entry) => entry.MessageBody ?? ''),
    });
    return { ...answer, body };
  }

  /** Requests SQS would bill (an empty receive is idle polling, left out as the cost model does). */
  billed(from = 0): Seen[] {
    return this.seen.slice(from).filter((seen) => seen.action !== 'ReceiveMessage' || seen.received > 0);
  }
}

let clients: AwsClients;
let queues: Queues;
let master: FakeMaster;
let proxy: CountingProxy;
let agent: RunningAgent;
let agentId: string;
let workDir: string;
/** Files a test writes to let its waiting tasks end. */
let gates: string;

beforeAll(async () => {
  gates = await mkdtemp(join(tmpdir(), 'mantle-batches-'));
  clients = standInClients();
  queues = new Queues(clients.sqs);
  master = await new FakeMaster({ sqs: clients.sqs, heartbeatIntervalSeconds: 60 }).start();
  proxy = await new CountingProxy(inject('sqsEndpoint')).start();
  workDir = await tempWorkDir();
  agent = await startTestAgent(master, { sqsEndpoint: proxy.endpoint, workDir, containerizers: ['mesos'] });
  agentId = await agent.registered;
});

afterAll(async () => {
  await agent?.shutdown();
  await master?.close();
  await proxy?.stop();
  clients?.destroy();
  if (workDir) await removeWorkDir(workDir);
  if (gates) await rm(gates, { recursive: true, force: true });
});

const STATES = ['TASK_STARTING', 'TASK_RUNNING', 'TASK_FINISHED'];

/** Launches the tasks in one receive and waits until each has ended and its terminal update is acknowledged. */
async function runTogether(ids: readonly string[]): Promise<void> {
  await master.send(agentId, ...ids.map((id) => launch(commandTask(id, 'true'))));
  await finished(ids);
}

/** Waits until each task has ended, its updates arrived in order, and its stream closed. */
async function finished(ids: readonly string[]): Promise<void> {
  for (const id of ids) await master.waitFor(id, 'TASK_FINISHED', 30_000);
  for (const id of ids) expect(statesOf(id)).toEqual(STATES);
  await eventually(
    async () => (agent.tasks().some((task) => ids.includes(task.taskId)) ? undefined : true),
    30_000,
    'the streams to close',
  );
}

/** The file that lets these tasks of `releasedTogether` end. */
const gateOf = (ids: readonly string[]): string => join(gates, ids[0] as string);

/** Lets the tasks of `releasedTogether` end, once the test has seen all their RUNNING updates go. */
async function letEnd(ids: readonly string[]): Promise<void> {
  await Promise.all(ids.map((id) => master.waitFor(id, 'TASK_RUNNING', 30_000)));
  await writeFile(gateOf(ids), '');
}

/**
 * Launches tasks that run until `letEnd` and holds the acknowledgement of their STARTING until each runs (its
 * RUNNING waits behind), then sends those acknowledgements in one request, each in its task's group as the master
 * sends them. Returns where the proxy's record stood before they went.
 */
async function releasedTogether(ids: readonly string[]): Promise<number> {
  master.autoAcknowledge = false;
  // Not a fixed sleep: one task could end before a loaded machine had started the last, and then the wait for all
  // of them running would never end.
  const held = untilFile(gateOf(ids));
  try {
    await master.send(agentId, ...ids.map((id) => launch(commandTask(id, held))));
    const starting = await Promise.all(ids.map((id) => master.waitFor(id, 'TASK_STARTING', 30_000)));
    await eventually(
      async () => agent.tasks().every((task) => !ids.includes(task.taskId) || task.phase === 'running') || undefined,
      30_000,
      'the tasks to run',
    );
    const from = proxy.seen.length;
    await queues.send(
      await master.commandQueue(agentId),
      starting.map((received) => ({
        body: {
          type: 'ACKNOWLEDGE',
          framework_id: { value: received.frameworkId },
          task_id: received.status.task_id,
          uuid: received.status.uuid,
        },
        groupId: received.status.task_id.value,
        deduplicationId: `ack-${received.status.uuid}`,
      })),
    );
    return from;
  } finally {
    master.autoAcknowledge = true;
  }
}

function statesOf(id: string): string[] {
  return master.updates(id).map((received) => received.status.state);
}

describe("the agent's SQS requests per task", () => {
  it("counts the requests of ten tasks launched together; each task's updates arrive in order", async () => {
    const ids = Array.from({ length: 10 }, () => taskId('together'));
    const from = proxy.seen.length;
    await runTogether(ids);
    for (const id of ids) expect(statesOf(id)).toEqual(STATES);
    const billed = proxy.billed(from);
    const count = (action: string) => billed.filter((seen) => seen.action === action).length;
    const sends = statusSends(billed);
    const updates = sends.reduce((sum, seen) => sum + seen.bodies.length, 0);
    console.log(
      `10 tasks launched together: ${updates} updates in ${sends.length} requests ` +
        `(largest ${Math.max(...sends.map((seen) => seen.bodies.length))}); per task ` +
        `${(billed.length / ids.length).toFixed(2)} requests: ${(sends.length / ids.length).toFixed(2)} sends, ` +
        `${(count('ReceiveMessage') / ids.length).toFixed(2)} receives, ` +
        `${(count('DeleteMessageBatch') / ids.length).toFixed(2)} deletes`,
    );
    expect(updates).toBeGreaterThanOrEqual(ids.length * STATES.length);
    expect(sends.length).toBeLessThanOrEqual(updates);
    // A receive's handled commands go in one delete.
    expect(count('DeleteMessageBatch')).toBeLessThanOrEqual(count('ReceiveMessage'));
  }, 90_000);

  it("the updates a receive's acknowledgements release go in one request", async () => {
    const ids = Array.from({ length: 10 }, () => taskId('released'));
    const from = await releasedTogether(ids);
    await Promise.all(ids.map((id) => master.waitFor(id, 'TASK_RUNNING', 30_000)));
    const sends = runningSends(from);
    const receives = proxy.billed(from).filter((seen) => seen.action === 'ReceiveMessage');
    console.log(
      `10 acknowledgements in receives of ${receives.map((seen) => seen.received).join(', ')}: ` +
        `their RUNNING updates in requests of ${sends.map((seen) => seen.bodies.length).join(', ')}`,
    );
    expect(sends.flatMap((seen) => seen.bodies.map(taskOf)).sort()).toEqual([...ids].sort());
    // One request per receive at most (SQS may answer a waiting poll with part of what was sent).
    expect(sends.length).toBeLessThanOrEqual(receives.length);
    await letEnd(ids);
    await finished(ids);
  }, 90_000);

  it('an entry SQS refuses fails only its own update, which is sent again; the others of its request go on', async () => {
    const ids = Array.from({ length: 6 }, () => taskId('refused'));
    let victim: string | undefined;
    // The second entry of the first request that carries several of these tasks' updates.
    proxy.refuse = (bodies) => {
      if (victim !== undefined || bodies.length < 2 || !bodies.every((body) => ids.includes(taskOf(body)))) return [];
      victim = taskOf(bodies[1] ?? '');
      return [1];
    };
    // From the launch on: the first request carrying several of them may be their STARTING updates, sent together
    // before the acknowledgements are released (more often on a loaded machine).
    const from = proxy.seen.length;
    try {
      await releasedTogether(ids);
      await letEnd(ids);
      await finished(ids);
    } finally {
      proxy.refuse = () => [];
    }
    const refusedIn = proxy.seen.slice(from).find((seen) => seen.refused.length > 0);
    expect(victim).toBeDefined();
    expect(refusedIn?.bodies.length).toBeGreaterThan(1);
    // The refused update arrived, from its resend; the others of its request from that request.
    const refusedUuid = statusOf(refusedIn?.refused[0] ?? '').uuid;
    expect(master.of(victim ?? '').some((received) => received.status.uuid === refusedUuid)).toBe(true);
    const sentWith = (refusedIn?.bodies ?? []).filter((body) => taskOf(body) !== victim);
    expect(sentWith.length).toBeGreaterThan(0);
    for (const body of sentWith) {
      expect(master.statuses.some((received) => received.status.uuid === statusOf(body).uuid)).toBe(true);
    }
  }, 90_000);
});

interface SentStatus {
  task_id: { value: string };
  state: string;
  uuid?: string;
}

function statusOf(body: string): SentStatus {
  return (JSON.parse(body) as { status: SentStatus }).status;
}

function statusSends(seen: readonly Seen[]): Seen[] {
  return seen.filter((each) => each.action === 'SendMessageBatch' && each.queueUrl === master.statusQueueUrl);
}

/** The agent's status requests since `from` that carried RUNNING updates. */
function runningSends(from: number): Seen[] {
  return statusSends(proxy.billed(from)).filter((seen) =>
    seen.bodies.some((body) => statusOf(body).state === 'TASK_RUNNING'),
  );
}

function taskOf(body: string): string {
  return statusOf(body).task_id.value;
}
