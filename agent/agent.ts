/**
 * The agent daemon (Mesos `Slave`, src/slave/slave.cpp; how it works: docs/agent.md): it takes stock
 * of the host and the isolation it can enforce (inventory.ts, containerizers.ts), recovers its
 * checkpoint and reattaches to its containers (recovery.ts), registers with the master (re-registering
 * as itself with the tasks it still runs), heartbeats, and long-polls its command queue, handing each
 * command to the command handler (command-handler.ts, launcher.ts). This file is the wiring and the
 * loops; it holds what those parts share (context.ts).
 */
import { randomUUID } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { hostname as osHostname } from 'node:os';
import type Docker from 'dockerode';
import { QueueDoesNotExist } from '@aws-sdk/client-sqs';
import { createAwsClients, type AwsClients } from '#shared/aws/clients.js';
import { createLogger, type Logger } from '#shared/log.js';
import { Metrics } from '#shared/metrics.js';
import type { Isolation } from '#shared/protocol/internal.js';
import type { RegisterAgentRequest, RegisterAgentResponse } from '#shared/protocol/internal.js';
import type { Attribute, DomainInfo, Resource } from '#shared/protocol/mesos.js';
import { Queues, standInEndpoint, type ReceivedMessage } from '#shared/queues/queues.js';
import { Checkpoint } from './checkpoint.js';
import { CommandHandler } from './command-handler.js';
import type { AgentConfig, ContainerizerKind } from './config.js';
import type { Containerizer } from './containerizer/containerizer.js';
import { createContainerizers } from './containerizers.js';
import type { EcrClientLike } from './containerizer/registry-auth.js';
import type { AgentContext } from './context.js';
import type { ExecutorContext, TaskExecutor } from './executor.js';
import type { Fetcher } from './fetcher/fetcher.js';
import { GpuAllocator } from './gpu/allocator.js';
import type { Gpu } from './gpu/nvidia.js';
import { serveAgent, type AgentEndpoint, type StateTask } from './http.js';
import { takeInventory, type InventorySources } from './inventory.js';
import { installMetadataFirewall, type MetadataFirewall } from './isolation/firewall.js';
import { isStopped, Lifecycle } from './lifecycle.js';
import { agentAuthorization, type AuthorizationSources } from './identity.js';
import { MasterClient } from './master-client.js';
import { registerAgentGauges } from './metrics.js';
import { abandonTasks, readSavedAgent, recoverTasks } from './recovery.js';
import { killEveryTask } from './shutdown.js';
import { agentRegistration, registrationRequest, type AgentRegistration } from './registration.js';
import { emptyAgentState, prunedState, type AgentState } from './state.js';
import { StatusUpdateManager, type StatusTransport } from './status-update-manager.js';
import { drainedMessage } from './statuses.js';
import { DrainStatus } from './drain-status.js';
import { heartbeatLoop } from './heartbeats.js';
import type { CustomExecutors } from './executor-api/executors.js';
import { customExecutors, executorRoute } from './executor-api/wiring.js';
import { Sandboxes } from './sandboxes.js';

const MAX_REGISTRATION_BACKOFF_MS = 60_000;

export interface AgentOptions extends InventorySources, Partial<AuthorizationSources> {
  readonly config: AgentConfig;
  /** Test seams: the Docker client, the ECR client of a region (the other seams are the inventory's). */
  readonly docker?: Docker;
  readonly ecrClient?: (region: string) => EcrClientLike;
  readonly logger?: Logger;
}

/** A task as the agent reports it (its endpoint shows the same, and nothing more). */
export type AgentTask = StateTask;

export interface RunningAgent {
  /** Resolves with the agent id on the first registration; rejects when the master refuses the agent. */
  readonly registered: Promise<string>;
  /** Resolves when the agent gives up (the master refused a registration or re-registration); it has stopped. */
  readonly failed: Promise<Error>;
  readonly agentId: string | undefined;
  readonly resources: readonly Resource[];
  readonly attributes: readonly Attribute[];
  readonly isolation: Isolation;
  readonly gpus: readonly Gpu[];
  readonly metrics: Metrics;
  /** The /health, /metrics/snapshot, /state endpoint, unless --port=-1. */
  readonly endpoint: AgentEndpoint | undefined;
  tasks(): AgentTask[];
  /**
   * Stops the agent; its tasks keep running. The command long-poll ends by itself first (a poll cut off
   * leaves its commands invisible until their visibility timeout), unless `waitForPoll: false`.
   */
  stop(options?: { waitForPoll?: boolean }): Promise<void>;
  /** Kills every task (with this grace), lets the command poll end as `stop` does, kills what it launched; stops. */
  shutdown(gracePeriodMs?: number, options?: { waitForPoll?: boolean }): Promise<void>;
  /** Ends at once, as `kill -9` would: nothing more is written, sent or cleaned up. */
  crash(): void;
}

class Agent implements RunningAgent, AgentContext {
  readonly metrics = new Metrics();
  readonly life = new Lifecycle();
  readonly checkpoint: Checkpoint;
  readonly logger: Logger;
  readonly registered: Promise<string>;
  readonly failed: Promise<Error>;
  private settleRegistered!: { resolve: (id: string) => void; reject: (error: Error) => void };
  private settleFailed!: (error: Error) => void;
  readonly updates: StatusUpdateManager;
  readonly executors = new Map<string, TaskExecutor>();
  readonly customExecutors: CustomExecutors;
  containerizers: ReadonlyMap<ContainerizerKind, Containerizer> = new Map();
  firewall: MetadataFirewall | undefined;
  fetcher: Fetcher | undefined;
  gpuAllocator = new GpuAllocator([]);
  state: AgentState = emptyAgentState();
  private readonly commandHandler: CommandHandler;
  private clients: AwsClients | undefined;
  private readonly sandboxes: Sandboxes;
  private queues: Queues | undefined;
  private sqsEndpoint: string | undefined;
  private master: MasterClient | undefined;
  private registration: AgentRegistration | undefined;
  private loops: Promise<unknown>[] = [];
  private commands: Promise<void> | undefined;
  /** A graceful stop lets the long-poll end: a poll cut off hides the commands it got until their visibility timeout. */
  private stopping = false;
  private stopped: Promise<void> | undefined;
  private readonly pollAbort = new AbortController();
  private reregistering: Promise<void> | undefined;
  private readonly drainStatus = new DrainStatus(this);
  private leaving: () => Promise<string | undefined> = () => Promise.resolve(undefined);
  endpoint: AgentEndpoint | undefined;
  resources: Resource[] = [];
  attributes: Attribute[] = [];
  domain: DomainInfo | undefined;
  advertiseIp: string | undefined;
  isolation: Isolation = { cgroups: 'none', gpus: 'none', notes: [] };
  gpus: Gpu[] = [];
  private readonly startedAt = Date.now();

  constructor(readonly options: AgentOptions) {
    this.logger = options.logger ?? createLogger('mantle-agent');
    this.checkpoint = new Checkpoint(options.config.workDir, this.life);
    this.registered = new Promise<string>((resolve, reject) => {
      this.settleRegistered = { resolve, reject };
    });
    // Nobody may be waiting (the CLI watches `failed`); an unobserved rejection must not crash the process.
    this.registered.catch(() => undefined);
    this.failed = new Promise<Error>((resolve) => (this.settleFailed = resolve));
    this.updates = new StatusUpdateManager({
      checkpoint: this.checkpoint,
      life: this.life,
      retryMinMs: options.config.statusUpdateRetryIntervalMinMs,
      retryMaxMs: options.config.statusUpdateRetryIntervalMaxMs,
      logger: this.logger,
      metrics: this.metrics,
      onClosed: (frameworkId, taskId) => void this.commandHandler.taskClosed(frameworkId, taskId),
    });
    this.sandboxes = new Sandboxes(this);
    this.customExecutors = customExecutors(this, (message, to) => this.transport().send(message, to, randomUUID()));
    this.commandHandler = new CommandHandler(this, {
      // Not awaited: registration retries with backoff, and commands keep flowing meanwhile.
      reregister: () => void this.reregister(),
      checkDrained: () => this.checkDrained(),
    });
  }

  get config(): AgentConfig {
    return this.options.config;
  }

  get agentId(): string | undefined {
    return this.registration?.agentId;
  }

  get hostname(): string {
    return this.config.hostname ?? osHostname();
  }

  // ------------------------------------------------------------------------------------ start

  async start(): Promise<void> {
    const { config } = this;
    await mkdir(config.workDir, { recursive: true });
    await this.detect();
    const saved = await readSavedAgent(this.checkpoint, this.logger);
    this.registration = saved.registration;
    this.state = saved.state;
    await recoverTasks(this);
    if (config.port >= 0) {
      this.endpoint = await serveAgent(config.ip, config.port, this, executorRoute(this.customExecutors, this));
    }
    const authorization = await agentAuthorization(config, { ...this.options, env: this.options.env ?? process.env });
    this.master = new MasterClient(config.master, authorization);
    this.connectQueues(config.sqsEndpoint);
    registerAgentGauges(this.metrics, {
      startedAt: this.startedAt,
      registered: () => this.registration !== undefined && !this.reregistering,
      tasks: () => this.tasks(),
      gpus: () => ({ total: this.gpus.length, free: this.gpuAllocator.free }),
      resources: () => this.resources,
    });
    this.loops.push(this.registerLoop(false), this.sandboxes.run());
  }

  private async detect(): Promise<void> {
    const { config } = this;
    const inventory = await takeInventory(config, this.options, this.logger);
    this.gpus = inventory.gpus;
    this.gpuAllocator = new GpuAllocator(this.gpus);
    this.resources = inventory.resources;
    this.attributes = inventory.attributes;
    this.domain = inventory.domain;
    this.advertiseIp = inventory.advertiseIp;
    this.leaving = inventory.leaving;
    const built = await createContainerizers(this, inventory);
    this.containerizers = built.containerizers;
    this.fetcher = built.fetcher;
    this.isolation = built.isolation;
    this.firewall = await installMetadataFirewall(config.blockMetadata, built, this.logger);
    this.logger.info('Agent starting', {
      workDir: config.workDir,
      containerizers: config.containerizers,
      cgroups: built.isolation.cgroups,
      gpus: this.gpus.map((gpu) => ({ index: gpu.index, uuid: gpu.uuid, model: gpu.model, memoryMiB: gpu.memoryMiB })),
      attributes: this.attributes.map((attribute) => attribute.name),
    });
    for (const note of built.isolation.notes) this.logger.warn(`Isolation: ${note}`);
  }

  /** SQS at this endpoint (a stand-in), or AWS's own when undefined. */
  private connectQueues(endpoint: string | undefined): void {
    this.clients?.destroy();
    this.clients = createAwsClients({
      ...(this.config.region ? { region: this.config.region } : {}),
      endpoints: endpoint ? { sqs: endpoint } : {},
    });
    this.queues = new Queues(this.clients.sqs, { gatherTurn: true }); // A turn's updates share one request.
    this.sqsEndpoint = endpoint;
  }

  executorContext(): ExecutorContext {
    return {
      agentId: () => this.registration?.agentId ?? '',
      updates: this.updates,
      checkpoint: this.checkpoint,
      life: this.life,
      logger: this.logger,
      metrics: this.metrics,
      allGpus: this.gpus,
      defaultKillGracePeriodMs: this.config.defaultKillGracePeriodMs,
      onTerminal: (executor, state, reason) => this.commandHandler.taskEnded(executor, state, reason),
      output: this.sandboxes.shipper,
      ...(this.fetcher ? { fetcher: this.fetcher } : {}),
    };
  }

  saveState(): Promise<void> {
    const { checkpoint } = this;
    return checkpoint.writeLatest(checkpoint.stateFile, () => (this.state = prunedState(this.state, Date.now())));
  }

  // ----------------------------------------------------------------------------- registration
  private registrationRequest(): RegisterAgentRequest {
    return registrationRequest({
      agentId: this.agentId,
      hostname: this.hostname,
      advertiseIp: this.advertiseIp,
      port: this.endpoint?.port,
      resources: this.resources,
      attributes: this.attributes,
      domain: this.domain,
      containerizers: this.config.containerizers,
      isolation: this.isolation,
      gpus: this.gpus,
      tasks: this.tasks(),
      executors: this.customExecutors.all(),
    });
  }

  /** Registers (retrying with Mesos's backoff), then runs the heartbeat and command loops. */
  private async registerLoop(again: boolean): Promise<void> {
    const master = this.master as MasterClient;
    let backoff = this.config.registrationBackoffFactorMs;
    for (;;) {
      if (!this.life.alive) return;
      // A new agent on an instance on its way out (say, registering anew as EC2 shuts it down) would be a phantom.
      const leaving = this.registration ? undefined : await this.leaving();
      if (leaving) return this.giveUp(`No new agent registers: ${leaving}`);
      try {
        const outcome = await master.register(this.registrationRequest(), this.life.signal);
        if (outcome.kind === 'registered') {
          await this.registeredAs(outcome.response, again);
          return;
        }
        if (outcome.kind === 'gone') {
          this.logger.warn('The master does not know this agent id any more: starting afresh as a new agent', {
            agentId: this.registration?.agentId,
            why: outcome.message,
          });
          await this.forgetEverything();
          continue;
        }
        const refusal = `The master refused the registration (${outcome.status}): ${outcome.message}`;
        return this.giveUp(refusal, { status: outcome.status });
      } catch (error) {
        if (isStopped(error) || !this.life.alive) return;
        this.logger.warn('Registration failed; retrying', { error: String(error), retryInMs: backoff });
      }
      await this.life.sleep(Math.random() * backoff);
      backoff = Math.min(backoff * 2, MAX_REGISTRATION_BACKOFF_MS);
    }
  }

  private async registeredAs(response: RegisterAgentResponse, again: boolean): Promise<void> {
    const previous = this.registration?.agentId;
    this.registration = agentRegistration(response);
    if (this.config.sqsEndpoint === undefined) {
      // Queue URLs of a local cluster's stand-in: `mantle agent --master=<local>` needs no --sqs_endpoint.
      const local = standInEndpoint(response.status_queue_url);
      if (local !== this.sqsEndpoint) this.connectQueues(local);
    }
    await this.checkpoint.writeJson(this.checkpoint.agentFile, this.registration);
    this.sandboxes.registered(response);
    this.logger.info(previous ? 'Agent re-registered' : 'Agent registered', { agentId: response.agent_id.value });
    this.metrics.increment(previous ? 'slave/reregistrations' : 'slave/registrations');
    this.updates.start(response.agent_id.value, this.transport());
    this.settleRegistered.resolve(response.agent_id.value);
    if (!again) {
      this.commands = this.commandLoop();
      const { life, metrics, logger } = this;
      const current = () => {
        const { registration, queues } = this;
        return registration && queues && !this.reregistering ? { registration, queues } : undefined;
      };
      this.loops.push(heartbeatLoop({ life, metrics, logger, current }, response.heartbeat_interval_seconds * 1000));
      this.loops.push(this.commands);
    }
    await this.checkDrained();
  }

  /** The agent stops for good: `registered` rejects and `failed` resolves (`mantle agent` exits 1). */
  private giveUp(why: string, fields: Record<string, unknown> = {}): void {
    this.logger.error('The agent stops', { why, ...fields });
    const error = new Error(why);
    this.settleRegistered.reject(error);
    this.settleFailed(error);
    void this.stop();
  }

  private reregister(): Promise<void> {
    this.reregistering ??= (async () => {
      this.updates.pause();
      await this.registerLoop(true);
    })().finally(() => {
      this.reregistering = undefined;
    });
    return this.reregistering;
  }

  /** The master says this agent is gone: its tasks were written off; kill them and start as a new agent. */
  private async forgetEverything(): Promise<void> {
    await abandonTasks(this);
    this.gpuAllocator = new GpuAllocator(this.gpus);
    this.registration = undefined;
    this.state = emptyAgentState();
    await this.checkpoint.wipe();
  }

  private transport(): StatusTransport {
    return {
      send: async (message, groupId, deduplicationId) => {
        this.life.check();
        const url = this.registration?.statusQueueUrl;
        if (!url || !this.queues) throw new Error('Not registered');
        await this.queues.send(url, [{ body: message, groupId, deduplicationId }]);
      },
    };
  }

  // ---------------------------------------------------------------------------------- commands

  private async commandLoop(): Promise<void> {
    while (this.life.alive && !this.stopping) {
      // Read each time: a re-registration can move the agent to another SQS endpoint.
      const queues = this.queues as Queues;
      const url = this.registration?.commandQueueUrl;
      if (!url || this.reregistering) {
        await this.life.sleep(100);
        continue;
      }
      let messages: ReceivedMessage[];
      try {
        messages = await queues.receive(url, {
          waitSeconds: this.config.commandPollSeconds,
          max: 10,
          abortSignal: this.pollAbort.signal,
        });
      } catch (error) {
        if (isStopped(error) || !this.life.alive) return;
        this.logger.warn('Receiving commands failed', { error: String(error) });
        if (error instanceof QueueDoesNotExist) await this.reregister();
        else await this.life.sleep(1000);
        continue;
      }
      const left = await this.commandHandler.handleBatch(messages);
      if (left === 'stopped') return;
      const done = messages.filter((message) => !left.has(message)).map((message) => message.receiptHandle);
      try {
        if (done.length > 0) await queues.delete(url, done);
      } catch (error) {
        if (isStopped(error) || !this.life.alive) return;
        this.logger.warn('Deleting handled commands failed; they will be redelivered and ignored', {
          error: String(error),
        });
      }
    }
  }

  private checkDrained(): Promise<void> {
    const { registration, queues } = this;
    const send =
      registration && queues
        ? () => queues.send(registration.statusQueueUrl, [drainedMessage(registration.agentId)])
        : undefined;
    return this.drainStatus.check(send);
  }

  // ------------------------------------------------------------------------------------ status

  tasks(): AgentTask[] {
    const own = [...this.executors.values()].map((executor) => ({
      frameworkId: executor.frameworkId,
      taskId: executor.taskId,
      containerId: executor.containerId,
      state: this.updates.stream(executor.frameworkId, executor.taskId)?.latestState,
      phase: executor.state,
      resources: executor.resources,
    }));
    return [...own, ...this.customExecutors.tasks()];
  }

  // ---------------------------------------------------------------------------------- stopping

  /** Stops every loop and timer; tasks and executors keep running, unwatched. */
  private halt(): void {
    this.pollAbort.abort();
    this.life.end();
    for (const executor of [...this.executors.values(), this.customExecutors]) executor.detach();
  }

  private async end(): Promise<void> {
    this.halt();
    await Promise.allSettled(this.loops);
    await this.endpoint?.close();
    this.clients?.destroy();
    this.sandboxes.close();
    await this.firewall?.removeUnlessTasksRun(this.tasks().some((task) => task.phase !== 'terminated'));
  }

  stop({ waitForPoll = true }: { waitForPoll?: boolean } = {}): Promise<void> {
    this.stopped ??= (async () => {
      if (!this.life.alive) return;
      await this.endCommandPoll(waitForPoll, 'Agent stopping; tasks keep running');
      await this.end();
    })();
    return this.stopped;
  }

  /** No more polls; unless `wait` is false, the one in flight ends by itself and its commands are handled. */
  private async endCommandPoll(wait: boolean, what: string): Promise<void> {
    this.stopping = true;
    const waits = wait && this.commands !== undefined;
    this.logger.info(waits ? `${what}. Letting the command poll end first` : what, {
      agentId: this.agentId,
      ...(waits ? { atMostSeconds: this.config.commandPollSeconds } : {}),
    });
    if (waits) await this.commands;
  }

  async shutdown(gracePeriodMs = 0, { waitForPoll = true }: { waitForPoll?: boolean } = {}): Promise<void> {
    if (!this.life.alive) return;
    // Kill while the poll goes on (acknowledgements come through it); let it end as `stop` does; kill what it launched.
    await killEveryTask(this, gracePeriodMs);
    await this.endCommandPoll(waitForPoll, 'Agent shutting down');
    await killEveryTask(this, gracePeriodMs);
    await this.end();
  }

  crash(): void {
    this.halt();
    void this.endpoint?.close();
    this.clients?.destroy();
    this.sandboxes.close();
  }
}

/** Starts an agent: detection, recovery, then registration in the background (see `registered`). */
export async function startAgent(options: AgentOptions): Promise<RunningAgent> {
  const agent = new Agent(options);
  try {
    await agent.start();
  } catch (error) {
    agent.crash();
    throw error;
  }
  return agent;
}
