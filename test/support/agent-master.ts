/**
 * A stand-in master for agent tests and the agent benchmark: it serves the registration endpoint of the
 * internal protocol on loopback, creates each agent's command FIFO queue, a status FIFO queue and a
 * heartbeat queue on the SQS stand-in, counts heartbeats, and reads the raw status messages the agent
 * sends, acknowledging each update as the master does after the framework's ACKNOWLEDGE (or not, when a
 * test wants to hold a stream). No vitest here, so the benchmark can use it too.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { SQSClient } from '@aws-sdk/client-sqs';
import {
  AgentMessageSchema,
  RegisterAgentRequestSchema,
  type AgentCommand,
  type AgentMessage,
  type RegisterAgentRequest,
} from '#shared/protocol/internal.js';
import type { TaskState, TaskStatus } from '#shared/protocol/mesos.js';
import { Queues } from '#shared/queues/queues.js';

export interface ReceivedStatus {
  readonly frameworkId: string;
  readonly agentId: string;
  readonly status: TaskStatus;
  readonly latestState?: TaskState;
  readonly at: number;
}

export interface FakeMasterOptions {
  readonly sqs: SQSClient;
  /** Acknowledge every update as it arrives (the default), as a framework that acks at once would. */
  readonly autoAcknowledge?: boolean;
  readonly heartbeatIntervalSeconds?: number;
  /** Basic credentials the master demands (principal:secret), if any. */
  readonly credentials?: { principal: string; secret: string };
}

export class FakeMaster {
  readonly registrations: RegisterAgentRequest[] = [];
  readonly statuses: ReceivedStatus[] = [];
  readonly drained: string[] = [];
  /** Custom executors' messages to their frameworks, and their ends. */
  readonly executorMessages: Array<Extract<AgentMessage, { type: 'EXECUTOR_MESSAGE' | 'EXECUTOR_EXITED' }>> = [];
  heartbeats = 0;
  autoAcknowledge: boolean;
  /** Agent ids the master answers 410 for (gone, or never known). */
  readonly gone = new Set<string>();
  url = '';
  statusQueueUrl = '';
  heartbeatQueueUrl = '';
  private readonly queues: Queues;
  private readonly prefix = `a${randomBytes(4).toString('hex')}`;
  private readonly commandQueues = new Map<string, string>();
  private server: Server | undefined;
  private polling = true;
  private poller: Promise<void> | undefined;
  private readonly waiters = new Set<() => void>();
  private next = 0;

  constructor(private readonly options: FakeMasterOptions) {
    this.queues = new Queues(options.sqs);
    this.autoAcknowledge = options.autoAcknowledge ?? true;
  }

  async start(): Promise<this> {
    this.statusQueueUrl = await this.queues.ensure(`${this.prefix}-status.fifo`, { visibilityTimeoutSeconds: 30 });
    this.heartbeatQueueUrl = await this.queues.ensure(`${this.prefix}-heartbeats`, { visibilityTimeoutSeconds: 30 });
    this.server = createServer((request, response) => {
      let body = '';
      request.on('data', (chunk: Buffer) => (body += chunk.toString()));
      request.on('end', () => {
        void this.route(request.url ?? '', request.headers.authorization, body).then(({ status, json }) => {
          response.writeHead(status, { 'Content-Type': 'application/json' }).end(JSON.stringify(json));
        });
      });
    });
    await new Promise<void>((resolve) => this.server?.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    this.poller = Promise.all([this.poll(), this.pollHeartbeats()]).then(() => undefined);
    return this;
  }

  private async route(
    path: string,
    authorization: string | undefined,
    body: string,
  ): Promise<{ status: number; json: unknown }> {
    const expected = this.options.credentials;
    if (expected) {
      const token = Buffer.from(`${expected.principal}:${expected.secret}`).toString('base64');
      if (authorization !== `Basic ${token}`) return { status: 401, json: 'Unauthenticated' };
    }
    if (path === '/internal/v1/agents/register') {
      const parsed = RegisterAgentRequestSchema.safeParse(JSON.parse(body));
      if (!parsed.success) return { status: 400, json: parsed.error.message };
      const request = parsed.data;
      this.registrations.push(request);
      this.wake();
      let agentId = request.agent_id?.value;
      if (agentId !== undefined && (this.gone.has(agentId) || !this.commandQueues.has(agentId))) {
        return { status: 410, json: `Agent ${agentId} is gone` };
      }
      agentId ??= `${this.prefix}-S${this.next++}`;
      return {
        status: 200,
        json: {
          agent_id: { value: agentId },
          command_queue_url: await this.commandQueue(agentId),
          status_queue_url: this.statusQueueUrl,
          heartbeat_queue_url: this.heartbeatQueueUrl,
          heartbeat_interval_seconds: this.options.heartbeatIntervalSeconds ?? 15,
        },
      };
    }
    return { status: 404, json: 'Not found' };
  }

  async commandQueue(agentId: string): Promise<string> {
    let url = this.commandQueues.get(agentId);
    if (!url) {
      url = await this.queues.ensure(`${this.prefix}-agent-${this.commandQueues.size}.fifo`, {
        visibilityTimeoutSeconds: 30,
      });
      this.commandQueues.set(agentId, url);
    }
    return url;
  }

  /** Sends commands in order (one FIFO group, as the master does per task). */
  async send(agentId: string, ...commands: AgentCommand[]): Promise<void> {
    const url = await this.commandQueue(agentId);
    await this.queues.send(
      url,
      commands.map((command) => ({
        body: command,
        groupId: 'commands',
        deduplicationId: randomBytes(16).toString('hex'),
      })),
    );
  }

  /** What the master does with an agent it no longer takes as active: REREGISTER on its command queue. */
  async askToReregister(agentId: string): Promise<void> {
    await this.send(agentId, { type: 'REREGISTER', reason: 'the test asks' });
  }

  /** What the master does with a gone agent: its command queue is deleted, its id refused. */
  async markGone(agentId: string): Promise<void> {
    this.gone.add(agentId);
    const url = this.commandQueues.get(agentId);
    if (url) await this.queues.remove(url);
  }

  async acknowledge(agentId: string, received: ReceivedStatus): Promise<void> {
    await this.send(agentId, {
      type: 'ACKNOWLEDGE',
      framework_id: { value: received.frameworkId },
      task_id: received.status.task_id,
      uuid: received.status.uuid as string,
    });
  }

  private async pollHeartbeats(): Promise<void> {
    while (this.polling) {
      const messages = await this.queues.receive(this.heartbeatQueueUrl, { waitSeconds: 1, max: 10 }).catch(() => []);
      if (messages.length === 0) continue;
      this.heartbeats += messages.length;
      this.wake();
      await this.queues.delete(
        this.heartbeatQueueUrl,
        messages.map((m) => m.receiptHandle),
      );
    }
  }

  private async poll(): Promise<void> {
    while (this.polling) {
      let messages;
      try {
        messages = await this.queues.receive(this.statusQueueUrl, { waitSeconds: 1, max: 10 });
      } catch {
        if (!this.polling) return;
        await new Promise((resolve) => setTimeout(resolve, 100));
        continue;
      }
      for (const message of messages) {
        const parsed = AgentMessageSchema.parse(JSON.parse(message.body));
        await this.record(parsed);
      }
      if (messages.length > 0)
        await this.queues.delete(
          this.statusQueueUrl,
          messages.map((m) => m.receiptHandle),
        );
    }
  }

  private async record(message: AgentMessage): Promise<void> {
    if (message.type === 'DRAINED') {
      this.drained.push(message.agent_id.value);
      this.wake();
      return;
    }
    if (message.type !== 'STATUS_UPDATE') {
      this.executorMessages.push(message);
      this.wake();
      return;
    }
    const received: ReceivedStatus = {
      frameworkId: message.framework_id.value,
      agentId: message.agent_id.value,
      status: message.status,
      ...(message.latest_state ? { latestState: message.latest_state } : {}),
      at: performance.now(),
    };
    this.statuses.push(received);
    this.wake();
    if (this.autoAcknowledge) await this.acknowledge(received.agentId, received);
  }

  private wake(): void {
    for (const waiter of this.waiters) waiter();
  }

  /** Waits until `check` returns something (re-checked on every arrival); throws after `timeoutMs`. */
  async until<T>(
    check: () => T | undefined | false | Promise<T | undefined | false>,
    timeoutMs = 10_000,
    what = 'condition',
  ): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = await check();
      if (value !== undefined && value !== false) return value;
      if (Date.now() > deadline) {
        const seen = this.statuses.map((s) => `${s.status.task_id.value}:${s.status.state}`).join(', ');
        throw new Error(`Timed out waiting for ${what}; statuses so far: ${seen}`);
      }
      await new Promise<void>((resolve) => {
        const waiter = () => {
          this.waiters.delete(waiter);
          resolve();
        };
        this.waiters.add(waiter);
        setTimeout(waiter, 50);
      });
    }
  }

  /** Statuses of one task, in arrival order. */
  of(taskId: string): ReceivedStatus[] {
    return this.statuses.filter((received) => received.status.task_id.value === taskId);
  }

  /**
   * The task's updates, each once however often it arrived: the agent resends an update it has no
   * acknowledgement for after a few seconds, and on a loaded machine the acknowledgement can be slower.
   */
  updates(taskId: string): ReceivedStatus[] {
    const seen = new Set<string | undefined>();
    return this.of(taskId).filter((received) => {
      if (seen.has(received.status.uuid)) return false;
      seen.add(received.status.uuid);
      return true;
    });
  }

  /** Waits for the task to reach `state` (with an optional extra condition) and returns that status. */
  waitFor(
    taskId: string,
    state: TaskState,
    timeoutMs = 10_000,
    and: (status: TaskStatus) => boolean = () => true,
  ): Promise<ReceivedStatus> {
    return this.until(
      () => this.of(taskId).find((received) => received.status.state === state && and(received.status)),
      timeoutMs,
      `${taskId} to reach ${state}`,
    );
  }

  async close(): Promise<void> {
    this.polling = false;
    await this.poller;
    await new Promise<void>((resolve) => {
      this.server?.closeAllConnections();
      this.server?.close(() => resolve());
    });
    for (const url of [...this.commandQueues.values(), this.statusQueueUrl, this.heartbeatQueueUrl]) {
      await this.queues.remove(url).catch(() => undefined);
    }
  }
}
