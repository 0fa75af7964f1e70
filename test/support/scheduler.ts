/**
 * Test helpers that play the other parties of the scheduler API over raw HTTP and the real queues:
 * a framework (subscribe, calls with the stream id), an agent (registration, its command queue, status
 * messages), and offers made directly in the registrar (standing in for the allocator).
 */
import { randomBytes } from 'node:crypto';
import type { AgentCommand, AgentMessage, HeartbeatMessage } from '#shared/protocol/internal.js';
import { AgentCommandSchema } from '#shared/protocol/internal.js';
import type { FrameworkInfo, Offer, TaskStatus } from '#shared/protocol/mesos.js';
import type { Event } from '#shared/protocol/scheduler.js';
import { handleHeartbeats } from '../../functions/fleet/heartbeats.js';
import { publishEvents } from '../../functions/master/master.js';
import type { OfferRecord } from '../../functions/registrar/index.js';
import { post, subscribeRaw, type RawCall, type RawSubscription } from './http.js';
import type { TestMaster } from './master.js';
import { resources } from './resources.js';

export { resources };

export function uuid(): string {
  return randomBytes(16).toString('base64');
}

export const FRAMEWORK: FrameworkInfo = {
  user: 'tester',
  name: 'test-framework',
  failover_timeout: 60,
  capabilities: [{ type: 'PARTITION_AWARE' }, { type: 'GPU_RESOURCES' }],
};

/** Where a framework's calls go: a test master or a local cluster. */
export interface MasterEndpoint {
  readonly url: string;
}

export class TestFramework {
  constructor(
    readonly tm: MasterEndpoint,
    readonly stream: RawSubscription,
    readonly frameworkId: string,
    readonly info: FrameworkInfo,
    private readonly headers: Record<string, string> = {},
  ) {}

  get streamId(): string {
    return this.stream.streamId;
  }

  /** A call on behalf of this framework, with its id and stream id. */
  call(type: string, payload: Record<string, unknown> = {}, headers: Record<string, string> = {}): Promise<RawCall> {
    return post(
      this.tm.url,
      { framework_id: { value: this.frameworkId }, type, ...payload },
      { 'Mesos-Stream-Id': this.streamId, ...this.headers, ...headers },
    );
  }

  next(predicate: (event: Event) => boolean, timeoutMs?: number): Promise<Event> {
    return this.stream.next(predicate, timeoutMs);
  }

  /** Waits for an UPDATE of this task in this state. */
  update(taskId: string, state: string, timeoutMs?: number): Promise<TaskStatus> {
    return this.next(
      (e) => e.type === 'UPDATE' && e.update?.status.task_id.value === taskId && e.update.status.state === state,
      timeoutMs,
    ).then((e) => e.update?.status as TaskStatus);
  }

  /**
   * Acknowledges every update with a uuid as it arrives, as a scheduler driver does: the agent sends a
   * task's next update only once the previous one is acknowledged (or its retry interval passes).
   */
  acknowledgeAll(): this {
    this.stream.listeners.push((event) => {
      const status = event.type === 'UPDATE' ? event.update?.status : undefined;
      if (!status?.uuid || !status.agent_id) return;
      void this.call('ACKNOWLEDGE', {
        acknowledge: { agent_id: status.agent_id, task_id: status.task_id, uuid: status.uuid },
      });
    });
    return this;
  }

  close(): void {
    this.stream.close();
  }
}

export async function subscribe(
  tm: MasterEndpoint,
  info: FrameworkInfo = FRAMEWORK,
  options: { frameworkId?: string; headers?: Record<string, string>; suppressedRoles?: string[] } = {},
): Promise<TestFramework> {
  const withId = options.frameworkId ? { ...info, id: { value: options.frameworkId } } : info;
  const stream = await subscribeRaw(
    tm.url,
    {
      type: 'SUBSCRIBE',
      ...(options.frameworkId ? { framework_id: { value: options.frameworkId } } : {}),
      subscribe: {
        framework_info: withId,
        ...(options.suppressedRoles ? { suppressed_roles: options.suppressedRoles } : {}),
      },
    },
    options.headers,
  );
  if (stream.response.status !== 200) throw new Error(`SUBSCRIBE answered ${stream.response.status}`);
  const subscribed = await stream.next((e) => e.type === 'SUBSCRIBED' || e.type === 'ERROR');
  if (subscribed.type === 'ERROR') throw new Error(`SUBSCRIBE failed: ${subscribed.error?.message}`);
  return new TestFramework(tm, stream, subscribed.subscribed?.framework_id.value as string, withId, options.headers);
}

export interface TestAgent {
  readonly agentId: string;
  readonly commandQueueUrl: string;
}

/** Registers an agent over the agents' HTTP API, as the agent daemon does. */
export async function registerAgent(
  tm: TestMaster,
  text = 'cpus:8;mem:8192;gpus:2;disk:10000;ports:[31000-31099]',
  headers: Record<string, string> = {},
  capabilities: readonly string[] = [],
): Promise<TestAgent> {
  const response = await fetch(`${tm.url}/internal/v1/agents/register`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', ...headers },
    body: JSON.stringify({
      hostname: `agent-${randomBytes(3).toString('hex')}.local`,
      ip: '127.0.0.1',
      resources: resources(text),
      ...(capabilities.length > 0 ? { capabilities: capabilities.map((type) => ({ type })) } : {}),
      containerizers: ['mesos'],
      isolation: { cgroups: 'none', gpus: 'none', notes: [] },
      version: 'test',
    }),
  });
  if (response.status !== 200) throw new Error(`register answered ${response.status}: ${await response.text()}`);
  const body = (await response.json()) as { agent_id: { value: string }; command_queue_url: string };
  return { agentId: body.agent_id.value, commandQueueUrl: body.command_queue_url };
}

/** Reads (and deletes) what the master sent to an agent. */
export async function commands(tm: TestMaster, agent: TestAgent, waitSeconds = 1): Promise<AgentCommand[]> {
  const received: AgentCommand[] = [];
  for (;;) {
    const batch = await tm.master.queues.receive(agent.commandQueueUrl, {
      waitSeconds: received.length ? 0 : waitSeconds,
    });
    if (batch.length === 0) return received;
    received.push(...batch.map((message) => AgentCommandSchema.parse(JSON.parse(message.body))));
    await tm.master.queues.delete(
      agent.commandQueueUrl,
      batch.map((message) => message.receiptHandle),
    );
  }
}

/**
 * Reads (and deletes) what the master sent to an agent until `enough` holds of all read, or for `timeoutMs`: for a
 * command sent a moment after the test's step (an SDK's ACKNOWLEDGE after its callback returned), which one wait
 * of a fixed time can miss on a loaded machine.
 */
export async function commandsUntil(
  tm: TestMaster,
  agent: TestAgent,
  enough: (read: AgentCommand[]) => boolean,
  timeoutMs = 15_000,
): Promise<AgentCommand[]> {
  const read: AgentCommand[] = [];
  const deadline = Date.now() + timeoutMs;
  while (!enough(read) && Date.now() < deadline) read.push(...(await commands(tm, agent)));
  return read;
}

/**
 * An agent's heartbeat, handed to the heartbeat handler as its event source would (at once, rather than
 * waiting for the poller). `senderId` is what SQS would stamp: the sending instance's role session.
 */
export async function heartbeat(tm: TestMaster, agent: Pick<TestAgent, 'agentId'>, senderId?: string) {
  const body: HeartbeatMessage = { agent_id: { value: agent.agentId }, sent_at: tm.master.now() };
  return handleHeartbeats(tm.master, [{ body: JSON.stringify(body), ...(senderId ? { senderId } : {}) }]);
}

/** What an agent sends: a status update on the status queue. */
export async function sendStatus(
  tm: TestMaster,
  agent: TestAgent,
  frameworkId: string,
  status: TaskStatus,
): Promise<void> {
  const message: AgentMessage = {
    type: 'STATUS_UPDATE',
    agent_id: { value: agent.agentId },
    framework_id: { value: frameworkId },
    status: { source: 'SOURCE_EXECUTOR', timestamp: Date.now() / 1000, ...status, agent_id: { value: agent.agentId } },
  };
  await tm.master.queues.send(tm.statusQueueUrl, [
    {
      body: message,
      groupId: `${frameworkId}/${status.task_id.value}`,
      deduplicationId: Buffer.from(status.uuid ?? uuid(), 'base64').toString('hex'),
    },
  ]);
}

/**
 * Makes an offer in the registrar and sends it to the framework, as the allocator would; waits for it
 * on the framework's stream when the test holds one.
 */
export async function offer(
  tm: TestMaster,
  framework: Pick<TestFramework, 'frameworkId'> & Partial<Pick<TestFramework, 'next'>>,
  agent: TestAgent,
  text: string,
  role = '*',
): Promise<OfferRecord> {
  const record = await tm.master.registrar.agents.get(agent.agentId);
  if (!record) throw new Error('no such agent');
  const created = await tm.master.registrar.agents.createOffers(record, [
    { frameworkId: framework.frameworkId, role, resources: resources(text) },
  ]);
  if (!created.ok) throw new Error(created.error.message);
  const made = created.value.offers[0] as OfferRecord;
  const wire: Offer = {
    id: { value: made.offerId },
    framework_id: { value: framework.frameworkId },
    agent_id: { value: agent.agentId },
    hostname: record.hostname,
    url: {
      scheme: 'http',
      address: { hostname: record.hostname, ip: record.ip, port: record.port },
      path: '/slave(1)',
    },
    resources: made.resources,
    allocation_info: { role },
  };
  const target = await tm.master.registrar.frameworks.get(framework.frameworkId);
  if (!target) throw new Error('no such framework');
  await publishEvents(tm.master, target, [{ type: 'OFFERS', offers: { offers: [wire] } }]);
  await framework.next?.(
    (e) => e.type === 'OFFERS' && e.offers?.offers?.some((o) => o.id.value === made.offerId) === true,
  );
  return made;
}

/**
 * What a master that died right after an ACCEPT's ledger write leaves: the offer taken and the task's entry in the
 * agent's ledger under `launchId`, with no task record and no launch command.
 */
export async function ledgerOnlyLaunch(
  tm: TestMaster,
  framework: Pick<TestFramework, 'frameworkId'>,
  agent: TestAgent,
  made: OfferRecord,
  task: { readonly taskId: string; readonly launchId: string; readonly resources: string },
): Promise<void> {
  const committed = await tm.master.registrar.agents.acceptOffers({
    agentId: agent.agentId,
    frameworkId: framework.frameworkId,
    offers: [made],
    launches: [{ taskId: task.taskId, resources: resources(task.resources) }],
    launchId: task.launchId,
  });
  if (!committed.ok) throw new Error(committed.error.message);
}

/** A minimal command task using `text` resources on `agent`. */
export function commandTask(
  taskId: string,
  agent: TestAgent,
  text = 'cpus:1;mem:128',
  extra: Record<string, unknown> = {},
) {
  return {
    name: taskId,
    task_id: { value: taskId },
    agent_id: { value: agent.agentId },
    resources: resources(text),
    command: { value: 'sleep 1' },
    ...extra,
  };
}

export function launch(offerIds: string[], tasks: unknown[], filters?: { refuse_seconds: number }) {
  return {
    accept: {
      offer_ids: offerIds.map((value) => ({ value })),
      operations: [{ type: 'LAUNCH', launch: { task_infos: tasks } }],
      ...(filters ? { filters } : {}),
    },
  };
}
