/**
 * Light simulated agents for bench:scale (docs/local-cluster.md, "bench:scale"): thousands in one Node process,
 * each speaking the real agent's protocol to a real master, and starting nothing.
 *
 * Like a real agent, each one registers over HTTP with the message the agent builds (registration.ts, through
 * master-client.ts), heartbeats on the heartbeat queue at the interval the master answers, reads its own command
 * queue, and answers a LAUNCH with TASK_STARTING, TASK_RUNNING and TASK_FINISHED on the status FIFO queue, one update
 * at a time, the next sent once the master's ACKNOWLEDGE for the head arrived (status-update-stream.ts), the head
 * resent as the agent resends it (carrying an end behind it as `latest_state`): first after its own
 * acknowledgements' round trip (ack-round-trip.ts, at least 10 s), then doubling up to 10 minutes. A RECONCILE is
 * answered as the agent answers it: nothing for a task it has, TASK_DROPPED (its LAUNCH refused from then on) otherwise.
 *
 * Where they differ from real agents, so that 10,000 fit in one process:
 * - No idle long-poll per agent. The bench's SQS client rings `ring(queueUrl)` after each send to a command queue
 *   (the moment a real agent's long-poll would return), and a bounded pool of receivers reads the rung queues with
 *   the same receive and delete calls. A periodic sweep reads the queues of agents with updates in flight, and
 *   every few seconds those of agents with open tasks, in case a ring was missed (a receive that failed leaves
 *   its commands unread): a real agent's long poll would still find them.
 * - Nothing is journalled, nothing is launched: a task "runs" for `taskMs` (0: it finishes at once).
 * - Their status updates and heartbeats go through one SQS client in a few send lanes (Queues, each with one batch
 *   in flight per queue), so sends to the same queue share batches (SendMessageBatch of up to 10) where separate
 *   agents would each send their own.
 */
import { taskKey } from '#shared/ids.js';
import type { AgentCommand, AgentMessage, HeartbeatMessage } from '#shared/protocol/internal.js';
import { AgentCommandSchema, parseMessageBody } from '#shared/protocol/internal.js';
import type { Resource, TaskState, TaskStatus } from '#shared/protocol/mesos.js';
import type { SQSClient } from '@aws-sdk/client-sqs';
import { Queues, type ReceivedMessage } from '#shared/queues/queues.js';
import { MasterClient } from '../../agent/master-client.js';
import { registrationRequest, type AgentRegistration, agentRegistration } from '../../agent/registration.js';
import { AckRoundTrip } from '../../agent/ack-round-trip.js';
import { StatusUpdateStream } from '../../agent/status-update-stream.js';
import { agentResources, pool } from './fleet-parts.js';
import { agentStatus, taskStatus, uuidHex } from '../../agent/statuses.js';

export interface FleetOptions {
  readonly master: string;
  /** The fleet's SQS client. */
  readonly sqs: SQSClient;
  readonly agents: number;
  /** Each agent's --resources without ports (each gets a port range of its own). */
  readonly resources: string;
  /** How long a task runs before TASK_FINISHED (default 0). */
  readonly taskMs?: number;
  /** Registrations in flight at once (default 32). */
  readonly registrationConcurrency?: number;
  /** Command queues read at once (default 64). */
  readonly receivers?: number;
  /** The agent's --status_update_retry_interval_min and _max (default 10 s and 10 minutes). */
  readonly retryMinMs?: number;
  readonly retryMaxMs?: number;
  /** Send heartbeats (default true). */
  readonly heartbeats?: boolean;
}

interface SimTask {
  readonly frameworkId: string;
  readonly taskId: string;
  readonly containerId: string;
  readonly stream: StatusUpdateStream;
  attempt: number;
  sending: boolean;
  /** When the head was first sent, for the acknowledgement's round trip. */
  headSentAt?: number;
  /** When the head is due to be resent, and the wait after that. */
  retryAt?: number;
  intervalMs: number;
  timer?: NodeJS.Timeout;
}

interface SimAgent {
  readonly index: number;
  readonly resources: Resource[];
  registration?: AgentRegistration;
  readonly tasks: Map<string, SimTask>;
  /** Tasks it answered TASK_DROPPED for (a RECONCILE of a task it did not have): their LAUNCH never runs. */
  readonly refused: Set<string>;
  /** A ring arrived since the last receive began. */
  dirty: boolean;
  /** In the receivers' queue or being read. */
  scheduled: boolean;
  /** When its queue was last read (Date.now()). */
  readAt: number;
  /** Its acknowledgements' round trip (each agent measures its own). */
  readonly roundTrip: AckRoundTrip;
}

/** What the fleet did, for the bench's report. */
export interface FleetCounters {
  registered: number;
  launches: number;
  statusUpdatesSent: number;
  statusResends: number;
  acknowledgements: number;
  tasksClosed: number;
  heartbeats: number;
  receives: number;
  emptyReceives: number;
  sweeps: number;
  /** RECONCILEs answered TASK_DROPPED (tasks the agent did not have). */
  reconcileDrops: number;
  /** Commands a simulated agent has nothing to do for (framework messages, volumes, reconciliation...). */
  ignoredCommands: number;
  errors: number;
}

/** Send lanes: each Queues has one SendMessageBatch in flight per queue, and every agent sends to the status queue. */
const LANES = 8;
/** How often the queue of an agent with open tasks is read when nothing rang it (a missed ring's longest wait). */
const OPEN_TASKS_READ_MS = 5_000;

export class SimulatedFleet {
  readonly counters: FleetCounters = {
    registered: 0,
    launches: 0,
    statusUpdatesSent: 0,
    statusResends: 0,
    acknowledgements: 0,
    tasksClosed: 0,
    heartbeats: 0,
    receives: 0,
    emptyReceives: 0,
    sweeps: 0,
    reconcileDrops: 0,
    ignoredCommands: 0,
    errors: 0,
  };
  /** The first few errors, for the report. */
  readonly errorSamples: string[] = [];
  private readonly agents: SimAgent[];
  private readonly lanes: Queues[];
  private readonly byQueue = new Map<string, SimAgent>();
  private readonly client: MasterClient;
  private readonly ready: SimAgent[] = [];
  private receiving = 0;
  private readonly timers: NodeJS.Timeout[] = [];
  private stopped = false;
  private heartbeatQueueUrl: string | undefined;
  private statusQueueUrl: string | undefined;

  constructor(private readonly options: FleetOptions) {
    this.client = new MasterClient(options.master, undefined, 60_000);
    this.lanes = Array.from({ length: LANES }, () => new Queues(options.sqs));
    this.agents = Array.from({ length: options.agents }, (_, index) => ({
      index,
      resources: agentResources(options.resources, index),
      tasks: new Map(),
      refused: new Set(),
      dirty: false,
      scheduled: false,
      readAt: 0,
      roundTrip: new AckRoundTrip(),
    }));
  }

  /** Registers every agent (`onProgress` after each); then heartbeats and the retry sweep start. */
  async register(onProgress?: (registered: number) => void): Promise<void> {
    let heartbeatSeconds = 15;
    await pool(this.agents, this.options.registrationConcurrency ?? 32, async (agent) => {
      const seconds = await this.registerOne(agent);
      heartbeatSeconds = seconds;
      this.counters.registered++;
      onProgress?.(this.counters.registered);
    });
    if (this.options.heartbeats ?? true) this.startHeartbeats(heartbeatSeconds);
    this.timers.push(setInterval(() => this.sweep(), 1000));
  }

  private async registerOne(agent: SimAgent, reregister = false): Promise<number> {
    const request = registrationRequest({
      agentId: agent.registration?.agentId,
      hostname: `sim-${agent.index}.local`,
      advertiseIp: '127.0.0.1',
      port: undefined,
      resources: agent.resources,
      attributes: [],
      domain: undefined,
      containerizers: ['mesos'],
      executors: [],
      isolation: { cgroups: 'none', gpus: 'none', notes: ['simulated agent: starts nothing'] },
      gpus: [],
      tasks: reregister
        ? [...agent.tasks.values()].map((task) => ({
            frameworkId: task.frameworkId,
            taskId: task.taskId,
            state: task.stream.latestState,
          }))
        : [],
    });
    for (let attempt = 1; ; attempt++) {
      try {
        const outcome = await this.client.register(request);
        if (outcome.kind !== 'registered') {
          throw new Error(`agent ${agent.index}: registration ${outcome.kind}: ${outcome.message}`);
        }
        const registration = agentRegistration(outcome.response);
        agent.registration = registration;
        this.byQueue.set(registration.commandQueueUrl, agent);
        this.heartbeatQueueUrl = registration.heartbeatQueueUrl;
        this.statusQueueUrl = registration.statusQueueUrl;
        return outcome.response.heartbeat_interval_seconds;
      } catch (error) {
        // Transport faults and 5xx are retried, as the agent does; a refusal is not.
        if (attempt >= 5 || /registration (gone|refused)/.test(String(error))) throw error;
        await new Promise((resolve) => setTimeout(resolve, 200 * attempt));
      }
    }
  }

  /** Each agent heartbeats once per interval, the fleet spread evenly over it (one send per second). */
  private startHeartbeats(intervalSeconds: number): void {
    let slot = 0;
    const slots = Math.max(1, Math.round(intervalSeconds));
    this.timers.push(
      setInterval(() => {
        const url = this.heartbeatQueueUrl;
        const mine = this.agents.filter((agent) => agent.index % slots === slot && agent.registration);
        slot = (slot + 1) % slots;
        if (!url || mine.length === 0) return;
        const beats = mine.map((agent) => {
          const agentId = (agent.registration as AgentRegistration).agentId;
          const body: HeartbeatMessage = { agent_id: { value: agentId }, sent_at: Date.now() };
          return { body, context: { agent_id: agentId } };
        });
        this.lane(slot)
          .send(url, beats)
          .then(
            () => (this.counters.heartbeats += beats.length),
            (error: unknown) => this.fail('heartbeat', error),
          );
      }, 1000),
    );
  }

  /** A send to this queue completed: if it is one of the fleet's command queues, read it. */
  ring(queueUrl: string): void {
    const agent = this.byQueue.get(queueUrl);
    if (!agent || this.stopped) return;
    agent.dirty = true;
    this.schedule(agent);
  }

  private schedule(agent: SimAgent): void {
    if (agent.scheduled) return;
    agent.scheduled = true;
    this.ready.push(agent);
    this.drain();
  }

  private drain(): void {
    const limit = this.options.receivers ?? 64;
    while (this.receiving < limit && this.ready.length > 0) {
      const agent = this.ready.shift() as SimAgent;
      this.receiving++;
      void this.readCommands(agent).finally(() => {
        this.receiving--;
        agent.scheduled = false;
        if (agent.dirty && !this.stopped) this.schedule(agent);
        this.drain();
      });
    }
  }

  private async readCommands(agent: SimAgent): Promise<void> {
    const url = agent.registration?.commandQueueUrl;
    if (!url) return;
    agent.dirty = false;
    agent.readAt = Date.now();
    try {
      const queues = this.lane(agent.index);
      const messages = await queues.receive(url, { waitSeconds: 0, max: 10 });
      this.counters.receives++;
      if (messages.length === 0) {
        this.counters.emptyReceives++;
        return;
      }
      for (const message of messages) this.handle(agent, message);
      await queues.delete(
        url,
        messages.map((message) => message.receiptHandle),
      );
      // More may be waiting behind a batch of 10.
      if (messages.length === 10) agent.dirty = true;
    } catch (error) {
      if (!this.stopped) this.fail('commands', error);
    }
  }

  private handle(agent: SimAgent, message: ReceivedMessage): void {
    const command = parseMessageBody(AgentCommandSchema, message.body);
    if (!command) {
      this.fail('commands', new Error(`malformed command ${message.messageId}`));
      return;
    }
    this.handleCommand(agent, command);
  }

  private handleCommand(agent: SimAgent, command: AgentCommand): void {
    switch (command.type) {
      case 'LAUNCH':
        this.launch(agent, command.framework_id.value, command.task.task_id.value);
        return;
      case 'LAUNCH_GROUP':
        for (const task of command.task_group.tasks ?? [])
          this.launch(agent, command.framework_id.value, task.task_id.value);
        return;
      case 'ACKNOWLEDGE':
        this.acknowledge(agent, command.framework_id.value, command.task_id.value, command.uuid);
        return;
      case 'KILL':
        this.end(agent.tasks.get(taskKey(command.framework_id.value, command.task_id.value)), agent, 'TASK_KILLED');
        return;
      case 'SHUTDOWN_FRAMEWORK':
        for (const task of agent.tasks.values()) {
          if (task.frameworkId === command.framework_id.value) this.end(task, agent, 'TASK_KILLED');
        }
        return;
      case 'RECONCILE':
        for (const task of command.tasks) this.reconcile(agent, task.framework_id.value, task.task_id.value);
        return;
      case 'REREGISTER':
        void this.registerOne(agent, true).catch((error: unknown) => this.fail('re-registration', error));
        return;
      default:
        this.counters.ignoredCommands++;
    }
  }

  private launch(agent: SimAgent, frameworkId: string, taskId: string): void {
    const key = taskKey(frameworkId, taskId);
    // A redelivered LAUNCH (same task) is the one already running; a refused one never runs.
    if (agent.tasks.has(key) || agent.refused.has(key)) return;
    this.counters.launches++;
    const task = this.track(agent, frameworkId, taskId);
    this.update(agent, task, 'TASK_STARTING');
    this.update(agent, task, 'TASK_RUNNING');
    const taskMs = this.options.taskMs ?? 0;
    if (taskMs <= 0) this.update(agent, task, 'TASK_FINISHED', 'Command exited with status 0');
    else
      task.timer = setTimeout(() => this.update(agent, task, 'TASK_FINISHED', 'Command exited with status 0'), taskMs);
  }

  private track(agent: SimAgent, frameworkId: string, taskId: string): SimTask {
    const task: SimTask = {
      frameworkId,
      taskId,
      containerId: crypto.randomUUID(),
      stream: new StatusUpdateStream(),
      attempt: 0,
      sending: false,
      intervalMs: this.firstRetryMs(agent),
    };
    agent.tasks.set(taskKey(frameworkId, taskId), task);
    return task;
  }

  /** As the agent answers a RECONCILE: nothing for a task it has (its updates speak), TASK_DROPPED otherwise. */
  private reconcile(agent: SimAgent, frameworkId: string, taskId: string): void {
    const key = taskKey(frameworkId, taskId);
    if (agent.tasks.has(key)) return;
    this.counters.reconcileDrops++;
    agent.refused.add(key);
    const why = 'Reconciliation: task unknown to the agent';
    const status = agentStatus(taskId, 'TASK_DROPPED', 'REASON_RECONCILIATION', why);
    this.queue(agent, this.track(agent, frameworkId, taskId), status);
  }

  private end(task: SimTask | undefined, agent: SimAgent, state: TaskState): void {
    if (!task || task.stream.terminated) return;
    clearTimeout(task.timer);
    this.update(agent, task, state, 'Killed by the simulation');
  }

  /** Queues an update on the task's stream; a new head goes at once. */
  private update(agent: SimAgent, task: SimTask, state: TaskState, message?: string): void {
    const status = taskStatus({
      taskId: task.taskId,
      state,
      executorId: task.taskId,
      containerId: task.containerId,
      ...(message !== undefined ? { message } : {}),
    });
    this.queue(agent, task, status);
  }

  private queue(agent: SimAgent, task: SimTask, status: TaskStatus): void {
    if (task.stream.update(status) !== 'queued') return;
    if (task.stream.head?.uuid === status.uuid) this.flush(agent, task);
  }

  private acknowledge(agent: SimAgent, frameworkId: string, taskId: string, uuid: string): void {
    const key = taskKey(frameworkId, taskId);
    const task = agent.tasks.get(key);
    if (!task || task.stream.acknowledge(uuid) !== 'acknowledged') return;
    this.counters.acknowledgements++;
    if (task.headSentAt !== undefined) agent.roundTrip.sample(Date.now() - task.headSentAt);
    task.headSentAt = undefined;
    task.retryAt = undefined;
    task.intervalMs = this.firstRetryMs(agent);
    task.attempt = 0;
    if (task.stream.closed) {
      agent.tasks.delete(key);
      this.counters.tasksClosed++;
      return;
    }
    this.flush(agent, task);
  }

  private flush(agent: SimAgent, task: SimTask): void {
    const head = task.stream.head;
    const registration = agent.registration;
    if (!head || !registration || task.sending || this.stopped || !this.statusQueueUrl) return;
    task.sending = true;
    const agentId = registration.agentId;
    const latest = task.stream.latestState;
    const message: AgentMessage = {
      type: 'STATUS_UPDATE',
      agent_id: { value: agentId },
      framework_id: { value: task.frameworkId },
      status: { ...head, agent_id: { value: agentId } },
      ...(latest ? { latest_state: latest } : {}),
    };
    const attempt = task.attempt++;
    if (attempt > 0) this.counters.statusResends++;
    task.headSentAt ??= Date.now();
    task.retryAt = Date.now() + task.intervalMs;
    task.intervalMs = Math.min(task.intervalMs * 2, this.options.retryMaxMs ?? 600_000);
    const uuid = head.uuid as string;
    this.lane(agent.index)
      .send(this.statusQueueUrl, [
        {
          body: message,
          groupId: taskKey(task.frameworkId, task.taskId),
          deduplicationId: `${uuidHex(uuid)}-${attempt}`,
          context: { agent_id: agentId, framework_id: task.frameworkId, task_id: task.taskId },
        },
      ])
      .then(
        () => this.counters.statusUpdatesSent++,
        (error: unknown) => this.fail('status', error),
      )
      .finally(() => {
        task.sending = false;
        // Acknowledged while it was being sent: the next head goes now.
        if (task.stream.head && task.stream.head.uuid !== uuid) this.flush(agent, task);
      });
  }

  /** The wait before a head's first resend, as the agent's status update manager computes it. */
  private firstRetryMs(agent: SimAgent): number {
    return agent.roundTrip.firstRetryMs(this.options.retryMinMs ?? 10_000, this.options.retryMaxMs ?? 600_000);
  }

  /** Resends heads whose retry is due; reads those agents' queues, and any not read lately with tasks open. */
  private sweep(): void {
    const now = Date.now();
    for (const agent of this.agents) {
      let due = agent.tasks.size > 0 && now - agent.readAt >= OPEN_TASKS_READ_MS;
      for (const task of agent.tasks.values()) {
        if (task.retryAt === undefined || now < task.retryAt) continue;
        due = true;
        this.flush(agent, task);
      }
      if (due) {
        this.counters.sweeps++;
        agent.dirty = true;
        this.schedule(agent);
      }
    }
  }

  private lane(index: number): Queues {
    return this.lanes[index % LANES] as Queues;
  }

  private fail(where: string, error: unknown): void {
    this.counters.errors++;
    if (this.errorSamples.length < 10) this.errorSamples.push(`${where}: ${String(error)}`);
  }

  /** Tasks started and not yet closed (their terminal update acknowledged). */
  get openTasks(): number {
    let open = 0;
    for (const agent of this.agents) open += agent.tasks.size;
    return open;
  }

  stop(): void {
    this.stopped = true;
    for (const timer of this.timers) clearInterval(timer);
    for (const agent of this.agents) for (const task of agent.tasks.values()) clearTimeout(task.timer);
  }
}
