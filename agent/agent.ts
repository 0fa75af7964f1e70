/**
 * The agent daemon (Mesos `Slave`, ARCHITECTURE flows 1, 5 and 6): it finds what the host offers and
 * what isolation it can enforce, recovers its checkpoint (id, tasks, status update streams) and
 * reattaches to its containers, registers with the master (re-registering as itself with the tasks it
 * still runs), heartbeats, long-polls its command queue, and runs tasks through the containerizers.
 *
 * Commands are idempotent: a redelivered LAUNCH (same launch id and task) starts nothing; a KILL for a
 * task not launched yet is remembered so that its LAUNCH never runs (TASK_KILLED,
 * REASON_TASK_KILLED_DURING_LAUNCH); a RECONCILE answers the tasks the agent does not know with
 * TASK_DROPPED (TASK_LOST for frameworks without PARTITION_AWARE), and remembers them likewise.
 */
import { randomUUID } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { hostname as osHostname } from 'node:os';
import { join } from 'node:path';
import Docker from 'dockerode';
import { QueueDoesNotExist } from '@aws-sdk/client-sqs';
import packageJson from '../package.json' with { type: 'json' };
import { createAwsClients, type AwsClients } from '../shared/aws/clients.js';
import { taskKey } from '../shared/ids.js';
import { createLogger, type Logger } from '../shared/log.js';
import { Metrics } from '../shared/metrics.js';
import { hasCapability } from '../shared/protocol/capabilities.js';
import {
  AgentCommandSchema,
  parseMessageBody,
  type AgentCommand,
  type HeartbeatMessage,
  type Isolation,
  type RegisterAgentRequest,
  type ReportedTask,
} from '../shared/protocol/internal.js';
import type { Attribute, DomainInfo, ExecutorInfo, Resource, TaskInfo, TaskState } from '../shared/protocol/mesos.js';
import { inGroups } from '../shared/queues/batch.js';
import { Queues, standInEndpoint, type ReceivedMessage } from '../shared/queues/queues.js';
import { scalarTotal } from '../shared/resources/resources.js';
import { isTerminal } from '../shared/tasks/state-machine.js';
import { Checkpoint, pathComponent } from './checkpoint.js';
import type { AgentConfig, ContainerizerKind } from './config.js';
import { LaunchError, type Containerizer } from './containerizer/containerizer.js';
import { DockerContainerizer } from './containerizer/docker.js';
import { bootId, taskLauncher } from './containerizer/host.js';
import { ProcessContainerizer } from './containerizer/process.js';
import {
  agentResources,
  detectedResources,
  ec2Attributes,
  ec2Placement,
  firstExternalIpv4,
  hostFacts,
  mergeAttributes,
  parseAttributes,
  requestedGpus,
  type HostFacts,
} from './detect.js';
import { TaskExecutor, type ExecutorContext, type KillRequest, type TaskRecord } from './executor.js';
import { GpuAllocator } from './gpu/allocator.js';
import { detectGpus, selectGpus, type Gpu, type GpuInventory } from './gpu/nvidia.js';
import { serveAgent, type AgentEndpoint } from './http.js';
import { detectCgroups, type CgroupSupport } from './isolation/cgroups.js';
import { isStopped, Lifecycle } from './lifecycle.js';
import { loadCredentials, MasterClient } from './master-client.js';
import {
  COMPLETED_LAUNCH_MS,
  emptyAgentState,
  launchKey,
  prunedState,
  REFUSAL_MS,
  upgradedState,
  type AgentState,
} from './state.js';
import { droppedState, taskStatus, type AgentFrameworkInfo } from './statuses.js';
import { StatusUpdateManager, type StatusTransport } from './status-update-manager.js';

export const AGENT_CAPABILITIES = [
  'MULTI_ROLE',
  'HIERARCHICAL_ROLE',
  'RESERVATION_REFINEMENT',
  'AGENT_DRAINING',
  'TASK_RESOURCE_LIMITS',
] as const;

const MAX_REGISTRATION_BACKOFF_MS = 60_000;

export interface AgentOptions {
  readonly config: AgentConfig;
  /** Where credentials (MANTLE_AGENT_PRINCIPAL / _SECRET) are read from; default process.env. */
  readonly env?: NodeJS.ProcessEnv;
  /** Test seams: the host facts, GPU discovery, EC2 metadata fetch, the Docker client. */
  readonly hostFacts?: HostFacts;
  readonly detectGpus?: () => Promise<GpuInventory>;
  readonly fetchMetadata?: typeof fetch;
  readonly docker?: Docker;
  readonly logger?: Logger;
}

export interface AgentTask {
  readonly frameworkId: string;
  readonly taskId: string;
  readonly containerId: string;
  readonly state: TaskState | undefined;
  readonly phase: string;
}

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
   * Stops the agent; its tasks keep running and a restarted agent recovers them. By default the
   * command long-poll ends by itself first (up to `command_poll_wait`): a poll cut off mid-way would
   * leave the commands it took invisible until their visibility timeout. `waitForPoll: false` cuts it
   * (for queues that die with the process, as the local cluster's do).
   */
  stop(options?: { waitForPoll?: boolean }): Promise<void>;
  /** Kills every task (with this grace), waits for them to end, then stops. */
  shutdown(gracePeriodMs?: number): Promise<void>;
  /** Ends at once, as `kill -9` would: nothing more is written, sent or cleaned up. */
  crash(): void;
}

interface AgentCheckpoint {
  agentId: string;
  commandQueueUrl: string;
  statusQueueUrl: string;
  heartbeatQueueUrl: string;
}

/** A command that must wait: it comes back after its visibility timeout, with those of its task behind it. */
class CommandDeferred extends Error {}

class Agent implements RunningAgent {
  readonly metrics = new Metrics();
  readonly life = new Lifecycle();
  readonly checkpoint: Checkpoint;
  readonly logger: Logger;
  readonly registered: Promise<string>;
  readonly failed: Promise<Error>;
  private settleRegistered!: { resolve: (id: string) => void; reject: (error: Error) => void };
  private settleFailed!: (error: Error) => void;
  private readonly updates: StatusUpdateManager;
  private readonly executors = new Map<string, TaskExecutor>();
  private readonly containerizers = new Map<ContainerizerKind, Containerizer>();
  private allocator: GpuAllocator = new GpuAllocator([]);
  private clients: AwsClients | undefined;
  private queues: Queues | undefined;
  private sqsEndpoint: string | undefined;
  private master: MasterClient | undefined;
  private registration: AgentCheckpoint | undefined;
  private state: AgentState = emptyAgentState();
  private loops: Promise<unknown>[] = [];
  private commands: Promise<void> | undefined;
  /** A graceful stop lets the command long-poll end by itself: a poll cut off mid-way would leave the
   * commands it received invisible in the queue until their visibility timeout. */
  private stopping = false;
  private stopped: Promise<void> | undefined;
  private readonly pollAbort = new AbortController();
  private reregistering: Promise<void> | undefined;
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
    this.failed = new Promise<Error>((resolve) => {
      this.settleFailed = resolve;
    });
    this.updates = new StatusUpdateManager({
      checkpoint: this.checkpoint,
      life: this.life,
      retryMinMs: options.config.statusUpdateRetryIntervalMinMs,
      retryMaxMs: options.config.statusUpdateRetryIntervalMaxMs,
      logger: this.logger,
      metrics: this.metrics,
      onClosed: (frameworkId, taskId) => void this.streamClosed(frameworkId, taskId),
    });
  }

  get agentId(): string | undefined {
    return this.registration?.agentId;
  }

  // ------------------------------------------------------------------------------------ start

  async start(): Promise<void> {
    const { config } = this.options;
    await mkdir(config.workDir, { recursive: true });
    await this.detect();
    await this.recover();
    if (config.port >= 0) {
      this.endpoint = await serveAgent(config.ip, config.port, {
        metrics: () => this.snapshot(),
        state: () => ({ id: this.agentId, hostname: this.hostname, tasks: this.tasks(), isolation: this.isolation }),
      });
    }
    const credentials = await loadCredentials(config.credential, this.options.env ?? process.env);
    this.master = new MasterClient(config.master, credentials);
    this.connectQueues(config.sqsEndpoint);
    this.registerGauges();
    this.loops.push(this.registerLoop(false));
  }

  /** SQS at this endpoint (a stand-in), or AWS's own when undefined. */
  private connectQueues(endpoint: string | undefined): void {
    this.clients?.destroy();
    this.clients = createAwsClients({
      ...(this.options.config.region ? { region: this.options.config.region } : {}),
      endpoints: endpoint ? { sqs: endpoint } : {},
    });
    this.queues = new Queues(this.clients.sqs);
    this.sqsEndpoint = endpoint;
  }

  get hostname(): string {
    return this.options.config.hostname ?? osHostname();
  }

  private async detect(): Promise<void> {
    const { config } = this.options;
    const notes: string[] = [];

    const inventory = await (this.options.detectGpus ?? (() => detectGpus(config.nvidiaSmi)))();
    notes.push(...inventory.notes);
    const selected = selectGpus(
      inventory.gpus,
      config.nvidiaGpuDevices,
      requestedGpus(config.resources, config.defaultRole),
    );
    if (!selected.ok) throw new Error(selected.error);
    this.gpus = selected.gpus;
    this.allocator = new GpuAllocator(this.gpus);

    const facts = this.options.hostFacts ?? (await hostFacts(config.workDir));
    const resources = agentResources(config.resources, config.defaultRole, detectedResources(facts, this.gpus.length));
    if (!resources.ok) throw new Error(resources.error);
    this.resources = resources.value;

    let detectedAttributes: Attribute[] = [];
    if (config.ec2Metadata === 'auto') {
      const placement = await ec2Placement(
        config.ec2MetadataEndpoint,
        config.ec2MetadataTimeoutMs,
        this.options.fetchMetadata,
      );
      if (placement) {
        const ec2 = ec2Attributes(placement);
        detectedAttributes = ec2.attributes;
        this.domain = ec2.domain;
        this.advertiseIp = placement.privateIp;
      } else {
        this.logger.debug('No EC2 instance metadata: not on EC2, or IMDSv2 unreachable');
      }
    }
    this.advertiseIp = config.advertiseIp ?? this.advertiseIp ?? firstExternalIpv4();
    const given = parseAttributes(config.attributes ?? '');
    if (!given.ok) throw new Error(`--attributes: ${given.error}`);
    this.attributes = mergeAttributes(detectedAttributes, given.value);

    let cgroups: CgroupSupport = { version: 'none', bases: new Map(), notes: [] };
    if (config.containerizers.includes('mesos')) {
      cgroups = await detectCgroups(config.cgroupsHierarchy, config.cgroupsRoot);
      notes.push(...cgroups.notes);
      const { launcher, notes: launcherNotes } = await taskLauncher();
      notes.push(...launcherNotes);
      const root = process.getuid?.() === 0;
      if (config.switchUser && !root) notes.push("The agent is not root: process tasks run as the agent's user");
      this.containerizers.set(
        'mesos',
        new ProcessContainerizer({
          checkpoint: this.checkpoint,
          cgroups,
          limits: { enableCfs: config.cgroupsEnableCfs, pidsLimit: config.pidsLimit },
          launcher,
          // Not the agent's whole environment (Mesos passes it): it holds the agent's credentials.
          baseEnvironment: config.executorEnvironmentVariables ?? {
            PATH: process.env.PATH ?? '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
            ...(process.env.HOME ? { HOME: process.env.HOME } : {}),
          },
          switchUser: config.switchUser && root,
          life: this.life,
          logger: this.logger,
        }),
      );
    }
    if (config.containerizers.includes('docker')) {
      const docker = this.options.docker ?? new Docker({ socketPath: config.dockerSocket });
      try {
        await docker.ping();
      } catch (error) {
        throw new Error(
          `The docker containerizer is enabled but Docker does not answer at ${config.dockerSocket}: ${(error as Error).message}`,
          {
            cause: error,
          },
        );
      }
      this.containerizers.set(
        'docker',
        new DockerContainerizer({
          docker,
          workDir: config.workDir,
          sandboxDirectory: config.sandboxDirectory,
          limits: { enableCfs: config.cgroupsEnableCfs, pidsLimit: config.pidsLimit },
          volumeDir: (role, id) => this.checkpoint.volume(role, id),
          life: this.life,
          logger: this.logger,
        }),
      );
    }

    // Docker hands a container only the devices of its device request (through the devices cgroup);
    // process tasks get the devices cgroup where it is writable, and CUDA_VISIBLE_DEVICES otherwise.
    let gpuIsolation: Isolation['gpus'] = 'none';
    if (this.gpus.length > 0) {
      const processTasks = config.containerizers.includes('mesos');
      gpuIsolation = !processTasks || cgroups.devices ? 'devices-cgroup' : 'visibility';
      if (processTasks && !cgroups.devices) {
        notes.push(
          'No writable devices cgroup: process tasks see GPUs they were not given if they ignore CUDA_VISIBLE_DEVICES',
        );
      }
    }
    this.isolation = { cgroups: cgroups.version, gpus: gpuIsolation, notes };
    this.logger.info('Agent starting', {
      workDir: config.workDir,
      containerizers: config.containerizers,
      cgroups: cgroups.version,
      gpus: this.gpus.map((gpu) => ({ index: gpu.index, uuid: gpu.uuid, model: gpu.model, memoryMiB: gpu.memoryMiB })),
      attributes: this.attributes.map((attribute) => attribute.name),
    });
    for (const note of notes) this.logger.warn(`Isolation: ${note}`);
  }

  private executorContext(): ExecutorContext {
    return {
      agentId: () => this.registration?.agentId ?? '',
      updates: this.updates,
      checkpoint: this.checkpoint,
      life: this.life,
      logger: this.logger,
      metrics: this.metrics,
      allGpus: this.gpus,
      defaultKillGracePeriodMs: this.options.config.defaultKillGracePeriodMs,
      onTerminal: (executor, state) => this.taskTerminated(executor, state),
    };
  }

  // --------------------------------------------------------------------------------- recovery

  private async recover(): Promise<void> {
    const boot = await bootId();
    const previousBoot = (await this.checkpoint.readJson<{ bootId?: string }>(this.checkpoint.bootIdFile))?.bootId;
    if (previousBoot !== undefined && boot !== undefined && previousBoot !== boot) {
      this.logger.warn('The host rebooted since the last checkpoint: its tasks are gone');
    }
    if (boot !== undefined) await this.checkpoint.writeJson(this.checkpoint.bootIdFile, { bootId: boot });

    this.registration = await this.checkpoint.readJson<AgentCheckpoint>(this.checkpoint.agentFile);
    const saved = await this.checkpoint.readJson<AgentState>(this.checkpoint.stateFile);
    if (saved) this.state = upgradedState(saved);

    const known = new Set<string>();
    for (const [frameworkId, taskId] of await this.checkpoint.tasks()) {
      try {
        const stream = await this.updates.recover(frameworkId, taskId);
        const record = await this.checkpoint.readJson<TaskRecord>(this.checkpoint.taskFile(frameworkId, taskId));
        if (!record) {
          // A stream without a task record: an answer of the agent's (resent as it is), or a launch that
          // died before its record was written, whose TASK_STARTING still needs an end.
          if (!stream.terminated && stream.latestState !== undefined) {
            await this.updates.update(
              frameworkId,
              taskStatus({
                taskId,
                state: droppedState(undefined),
                source: 'SOURCE_AGENT',
                reason: 'REASON_AGENT_RESTARTED',
                message: 'The agent restarted before the task was launched',
              }),
            );
          }
          continue;
        }
        known.add(record.containerId);
        const containerizer = this.containerizers.get(record.containerizer);
        if (!containerizer) {
          this.logger.error('A recovered task needs a containerizer this agent no longer runs', {
            taskId,
            containerizer: record.containerizer,
          });
          if (!stream.terminated) {
            await this.updates.update(
              frameworkId,
              taskStatus({
                taskId,
                state: 'TASK_FAILED',
                source: 'SOURCE_AGENT',
                reason: 'REASON_EXECUTOR_REREGISTRATION_TIMEOUT',
                message: `The ${record.containerizer} containerizer is not enabled on the restarted agent`,
              }),
            );
          }
          continue;
        }
        let gpus: Gpu[] = [];
        if (!stream.terminated) {
          const claim = this.allocator.claim(record.containerId, record.gpus);
          gpus = claim.gpus;
          if (claim.conflicts.length > 0) {
            this.logger.error('A recovered task holds GPUs it cannot have', { taskId, conflicts: claim.conflicts });
          }
        }
        const executor = new TaskExecutor(record, containerizer, this.executorContext(), gpus);
        this.executors.set(taskKey(frameworkId, taskId), executor);
        await executor.recover(stream.latestState);
        this.metrics.increment('slave/recovered_tasks');
      } catch (error) {
        if (isStopped(error)) throw error;
        this.metrics.increment('slave/recovery_errors');
        this.logger.error('Recovering a task failed', { frameworkId, taskId, error: String(error) });
      }
    }
    for (const containerizer of this.containerizers.values()) {
      if (containerizer.kind === 'docker' && !this.options.config.dockerKillOrphans) continue;
      const orphans = await containerizer.cleanupOrphans(known);
      if (orphans.length > 0) this.logger.warn('Killed orphan containers', { kind: containerizer.kind, orphans });
    }
  }

  // ----------------------------------------------------------------------------- registration

  private reportedTasks(): ReportedTask[] {
    return [...this.executors.values()].map((executor) => ({
      framework_id: { value: executor.frameworkId },
      task_id: { value: executor.taskId },
      state: this.updates.stream(executor.frameworkId, executor.taskId)?.latestState ?? 'TASK_STAGING',
    }));
  }

  private registrationRequest(): RegisterAgentRequest {
    const { config } = this.options;
    return {
      ...(this.registration ? { agent_id: { value: this.registration.agentId } } : {}),
      hostname: this.hostname,
      ...(this.advertiseIp ? { ip: this.advertiseIp } : {}),
      ...(this.endpoint ? { port: this.endpoint.port } : {}),
      resources: this.resources,
      attributes: this.attributes,
      ...(this.domain ? { domain: this.domain } : {}),
      capabilities: AGENT_CAPABILITIES.map((type) => ({ type })),
      containerizers: [...config.containerizers],
      isolation: this.isolation,
      tasks: this.reportedTasks(),
      version: packageJson.version,
    };
  }

  /** Registers (retrying with Mesos's backoff), then runs the heartbeat and command loops. */
  private async registerLoop(again: boolean): Promise<void> {
    const master = this.master as MasterClient;
    let backoff = this.options.config.registrationBackoffFactorMs;
    for (;;) {
      if (!this.life.alive) return;
      try {
        const outcome = await master.register(this.registrationRequest(), this.life.signal);
        if (outcome.kind === 'registered') {
          const { response } = outcome;
          const previous = this.registration?.agentId;
          this.registration = {
            agentId: response.agent_id.value,
            commandQueueUrl: response.command_queue_url,
            statusQueueUrl: response.status_queue_url,
            heartbeatQueueUrl: response.heartbeat_queue_url,
          };
          if (this.options.config.sqsEndpoint === undefined) {
            // Queue URLs of a local cluster's stand-in: `mantle agent --master=<local>` needs no --sqs_endpoint.
            const local = standInEndpoint(response.status_queue_url);
            if (local !== this.sqsEndpoint) this.connectQueues(local);
          }
          await this.checkpoint.writeJson(this.checkpoint.agentFile, this.registration);
          this.logger.info(previous ? 'Agent re-registered' : 'Agent registered', { agentId: response.agent_id.value });
          this.metrics.increment(previous ? 'slave/reregistrations' : 'slave/registrations');
          this.updates.start(response.agent_id.value, this.transport());
          this.settleRegistered.resolve(response.agent_id.value);
          if (!again) {
            this.commands = this.commandLoop();
            this.loops.push(this.heartbeatLoop(response.heartbeat_interval_seconds * 1000), this.commands);
          }
          await this.checkDrained();
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
        this.logger.error('Registration refused; the agent stops', { status: outcome.status, why: outcome.message });
        const error = new Error(`The master refused the registration (${outcome.status}): ${outcome.message}`);
        this.settleRegistered.reject(error);
        this.settleFailed(error);
        void this.stop();
        return;
      } catch (error) {
        if (isStopped(error) || !this.life.alive) return;
        this.logger.warn('Registration failed; retrying', { error: String(error), retryInMs: backoff });
      }
      await this.life.sleep(Math.random() * backoff);
      backoff = Math.min(backoff * 2, MAX_REGISTRATION_BACKOFF_MS);
    }
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
    this.updates.pause();
    for (const executor of this.executors.values()) executor.detach();
    for (const [frameworkId, taskId] of await this.checkpoint.tasks()) this.updates.forget(frameworkId, taskId);
    // Every container of this work dir is now an orphan: the master wrote the tasks off.
    for (const containerizer of this.containerizers.values()) await containerizer.cleanupOrphans(new Set());
    this.executors.clear();
    this.allocator = new GpuAllocator(this.gpus);
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

  /** Every interval, a message on the heartbeat queue; the master answers only if it wants a re-registration. */
  private async heartbeatLoop(intervalMs: number): Promise<void> {
    while (this.life.alive) {
      await this.life.sleep(intervalMs);
      const registration = this.registration;
      if (!this.life.alive || !registration || this.reregistering || !this.queues) continue;
      try {
        const beat: HeartbeatMessage = { agent_id: { value: registration.agentId }, sent_at: Date.now() };
        await this.queues.send(registration.heartbeatQueueUrl, [{ body: beat }]);
        this.metrics.increment('slave/heartbeats');
      } catch (error) {
        if (isStopped(error)) return;
        this.metrics.increment('slave/heartbeat_failures');
        this.logger.warn('Heartbeat failed', { error: String(error) });
      }
    }
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
          waitSeconds: this.options.config.commandPollSeconds,
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
      // Commands of different tasks are handled concurrently; a task's own stay in order (the FIFO
      // group is the task), and stop at the first that fails or must wait.
      let stopped = false;
      const left = await inGroups(
        messages,
        (message) => message.groupId,
        async (message) => {
          if (!(await this.handleMessage(message))) throw new CommandDeferred();
        },
        (_message, error) => {
          if (isStopped(error)) stopped = true;
          else if (!(error instanceof CommandDeferred))
            this.logger.error('A command failed; it will be redelivered', {
              error: String(error),
              stack: (error as Error).stack,
            });
        },
      );
      if (stopped) return;
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

  /** Handles one command; false leaves it in the queue to come back later. */
  private async handleMessage(message: ReceivedMessage): Promise<boolean> {
    const command = parseMessageBody(AgentCommandSchema, message.body);
    if (!command) {
      this.metrics.increment('slave/invalid_commands');
      this.logger.error('Dropping a malformed command', { messageId: message.messageId });
      return true;
    }
    return this.handle(command);
  }

  private async handle(command: AgentCommand): Promise<boolean> {
    switch (command.type) {
      case 'LAUNCH':
        return this.launch(command.framework_id.value, command.framework_info, command.launch_id, [command.task]);
      case 'LAUNCH_GROUP':
        return this.launch(
          command.framework_id.value,
          command.framework_info,
          command.launch_id,
          command.task_group.tasks ?? [],
          command.executor,
        );
      case 'KILL':
        await this.killCommand(
          command.framework_id.value,
          command.task_id.value,
          command.kill_policy?.grace_period?.nanoseconds,
        );
        return true;
      case 'ACKNOWLEDGE':
        await this.updates.acknowledge(command.framework_id.value, command.task_id.value, command.uuid);
        return true;
      case 'SHUTDOWN_FRAMEWORK':
        await this.killWhere(
          (executor) => executor.frameworkId === command.framework_id.value,
          'The framework was shut down',
        );
        return true;
      case 'SHUTDOWN_EXECUTOR':
        await this.killWhere(
          (executor) =>
            executor.frameworkId === command.framework_id.value && executor.executorId === command.executor_id.value,
          'The executor was shut down',
        );
        return true;
      case 'FRAMEWORK_MESSAGE':
        // Only custom executors receive framework messages, and this agent runs none (Mesos drops them too).
        this.metrics.increment('slave/invalid_framework_messages');
        this.logger.warn('Dropping a framework message: no custom executor runs here', {
          frameworkId: command.framework_id.value,
          executorId: command.executor_id.value,
        });
        return true;
      case 'DRAIN':
        await this.drain(command.max_grace_period_seconds, command.mark_gone ?? false);
        return true;
      case 'RECONCILE':
        for (const task of command.tasks) await this.reconcile(task.framework_id.value, task.task_id.value);
        return true;
      case 'REREGISTER':
        this.logger.warn('The master asks the agent to re-register', { why: command.reason });
        // Not awaited: registration retries with backoff, and commands keep flowing meanwhile.
        void this.reregister();
        return true;
    }
  }

  private async saveState(): Promise<void> {
    this.state = prunedState(this.state, Date.now());
    await this.checkpoint.writeJson(this.checkpoint.stateFile, this.state);
  }

  private frameworkInfoOf(frameworkId: string): AgentFrameworkInfo | undefined {
    for (const executor of this.executors.values()) {
      if (executor.frameworkId === frameworkId) return executor.info;
    }
    return undefined;
  }

  /** A status the agent decides for a task it does not run (SOURCE_AGENT), through the task's stream. */
  private async answer(
    frameworkId: string,
    taskId: string,
    state: TaskState,
    reason: NonNullable<Parameters<typeof taskStatus>[0]['reason']>,
    message: string,
  ): Promise<void> {
    await this.updates.update(frameworkId, taskStatus({ taskId, state, source: 'SOURCE_AGENT', reason, message }));
  }

  private containerizerFor(task: TaskInfo, executor: ExecutorInfo | undefined): Containerizer {
    if (!executor && task.executor && task.executor.type !== 'DEFAULT') {
      throw new LaunchError('Custom executors are not supported by this agent: launch command tasks or task groups');
    }
    const container = task.container;
    const wantsDocker =
      container?.type === 'DOCKER' || (container?.type === 'MESOS' && container.mesos?.image !== undefined);
    const kind: ContainerizerKind = wantsDocker ? 'docker' : 'mesos';
    const containerizer = this.containerizers.get(kind);
    if (!containerizer) {
      throw new LaunchError(
        wantsDocker
          ? 'The task needs the docker containerizer, which this agent does not run (--containerizers)'
          : 'The task needs the mesos (process) containerizer, which this agent does not run (--containerizers)',
      );
    }
    return containerizer;
  }

  private async launch(
    frameworkId: string,
    frameworkInfo: AgentFrameworkInfo,
    launchId: string,
    tasks: readonly TaskInfo[],
    groupExecutor?: ExecutorInfo,
  ): Promise<boolean> {
    const receivedAt = performance.now();
    const now = Date.now();
    const fresh: TaskInfo[] = [];
    for (const task of tasks) {
      const key = taskKey(frameworkId, task.task_id.value);
      const existing = this.executors.get(key);
      if (
        existing?.launchId === launchId ||
        this.state.completedLaunches[launchKey(launchId, frameworkId, task.task_id.value)] !== undefined
      ) {
        this.metrics.increment('slave/duplicate_launches');
        continue;
      }
      if ((this.state.refused[key] ?? 0) > now) {
        this.logger.info('Not launching a task already answered for (killed before launch, or reconciled away)', {
          frameworkId,
          taskId: task.task_id.value,
        });
        continue;
      }
      if (existing || this.updates.stream(frameworkId, task.task_id.value)) {
        // The task id's previous incarnation is still being reported: try again once its stream closed.
        this.logger.info('Task id still in use by a previous launch; the launch is retried later', {
          frameworkId,
          taskId: task.task_id.value,
        });
        return false;
      }
      fresh.push(task);
    }
    if (fresh.length === 0) return true;

    if (this.state.draining) {
      for (const task of fresh) {
        await this.answer(
          frameworkId,
          task.task_id.value,
          droppedState(frameworkInfo),
          'REASON_AGENT_DRAINING',
          'The agent is draining',
        );
      }
      return true;
    }

    // All or nothing (a task group is launched atomically): every task must have a containerizer and GPUs.
    const planned: Array<{ task: TaskInfo; containerizer: Containerizer; containerId: string; gpus: Gpu[] }> = [];
    let failure: LaunchError | undefined;
    for (const task of fresh) {
      const containerId = randomUUID();
      try {
        const containerizer = this.containerizerFor(task, groupExecutor);
        const count = scalarTotal(task.resources ?? [], 'gpus');
        const gpus = this.allocator.allocate(containerId, count);
        if (!gpus)
          throw new LaunchError(
            `The task needs ${count} GPU(s) but only ${this.allocator.free} are free on this agent`,
          );
        planned.push({ task, containerizer, containerId, gpus });
      } catch (error) {
        failure = error instanceof LaunchError ? error : new LaunchError((error as Error).message);
        break;
      }
    }
    if (failure) {
      for (const plan of planned) this.allocator.release(plan.containerId);
      for (const task of fresh) {
        await this.answer(frameworkId, task.task_id.value, failure.state, failure.reason, failure.message);
      }
      return true;
    }

    const executorId = groupExecutor?.executor_id.value;
    const parentSandbox = executorId ? this.checkpoint.sandbox(frameworkId, executorId, launchId) : undefined;
    const recordings: Array<Promise<void>> = [];
    for (const plan of planned) {
      const taskId = plan.task.task_id.value;
      const ownExecutor = executorId ?? taskId;
      const sandbox = parentSandbox
        ? join(parentSandbox, 'tasks', pathComponent(taskId))
        : this.checkpoint.sandbox(frameworkId, ownExecutor, plan.containerId);
      await mkdir(sandbox, { recursive: true });
      const record: TaskRecord = {
        frameworkId,
        frameworkInfo,
        executorId: ownExecutor,
        task: plan.task,
        launchId,
        containerId: plan.containerId,
        containerizer: plan.containerizer.kind,
        sandbox,
        ...(parentSandbox ? { parentSandbox } : {}),
        gpus: plan.gpus.map((gpu) => gpu.index),
        group: groupExecutor !== undefined,
        createdAt: Date.now(),
      };
      // The container is prepared while the record is written; it starts only once the record is durable.
      const recorded = this.checkpoint.writeJson(this.checkpoint.taskFile(frameworkId, taskId), record);
      recorded.catch(() => undefined);
      recordings.push(recorded);
      const executor = new TaskExecutor(record, plan.containerizer, this.executorContext(), plan.gpus);
      this.executors.set(taskKey(frameworkId, taskId), executor);
      this.metrics.increment('slave/tasks_launched');
      void executor.launch(recorded, receivedAt).catch((error: unknown) => {
        if (!isStopped(error)) this.logger.error('Launching a task failed', { taskId, error: String(error) });
      });
    }
    // The LAUNCH leaves the queue only once every task's record is durable.
    await Promise.all(recordings);
    return true;
  }

  private capGrace(ms: number): number {
    const cap = this.state.draining?.maxGracePeriodMs;
    return cap === undefined ? ms : Math.min(ms, cap);
  }

  private async killCommand(frameworkId: string, taskId: string, graceNanoseconds: number | undefined): Promise<void> {
    const key = taskKey(frameworkId, taskId);
    const executor = this.executors.get(key);
    if (executor) {
      if (executor.terminated) return;
      await executor.kill({
        gracePeriodMs: this.capGrace(graceNanoseconds !== undefined ? graceNanoseconds / 1e6 : executor.gracePeriod()),
        message: 'Task killed by the framework',
      });
      return;
    }
    if (this.updates.stream(frameworkId, taskId)) return;
    // Not launched (yet): remember it, so that its LAUNCH, if it is still on its way, never runs.
    this.state.refused[key] = Date.now() + REFUSAL_MS;
    await this.saveState();
    await this.answer(
      frameworkId,
      taskId,
      'TASK_KILLED',
      'REASON_TASK_KILLED_DURING_LAUNCH',
      'Task killed before it was launched',
    );
  }

  private async killWhere(predicate: (executor: TaskExecutor) => boolean, message: string): Promise<void> {
    for (const executor of this.executors.values()) {
      if (executor.terminated || !predicate(executor)) continue;
      await executor.kill({ gracePeriodMs: this.capGrace(this.options.config.executorShutdownGracePeriodMs), message });
    }
  }

  private async reconcile(frameworkId: string, taskId: string): Promise<void> {
    if (this.executors.has(taskKey(frameworkId, taskId)) || this.updates.stream(frameworkId, taskId)) return;
    this.state.refused[taskKey(frameworkId, taskId)] = Date.now() + REFUSAL_MS;
    await this.saveState();
    await this.answer(
      frameworkId,
      taskId,
      droppedState(this.frameworkInfoOf(frameworkId)),
      'REASON_RECONCILIATION',
      'Reconciliation: task unknown to the agent',
    );
  }

  private async drain(maxGraceSeconds: number | undefined, markGone: boolean): Promise<void> {
    if (!this.state.draining) {
      this.state.draining = {
        ...(maxGraceSeconds !== undefined ? { maxGracePeriodMs: maxGraceSeconds * 1000 } : {}),
        markGone,
        drainedSent: false,
      };
      await this.saveState();
      this.logger.info('Draining', { maxGraceSeconds, markGone });
    }
    for (const executor of this.executors.values()) {
      if (executor.terminated) continue;
      const request: KillRequest = {
        gracePeriodMs: this.capGrace(executor.gracePeriod()),
        state:
          markGone && hasCapability(executor.info, 'PARTITION_AWARE')
            ? 'TASK_GONE_BY_OPERATOR'
            : markGone
              ? 'TASK_LOST'
              : 'TASK_KILLED',
        reason: 'REASON_AGENT_DRAINING',
        message: 'The agent is draining',
      };
      await executor.kill(request);
    }
    await this.checkDrained();
  }

  /** DRAINED once every task is terminal and its terminal update acknowledged (Mesos DrainInfo). */
  private async checkDrained(): Promise<void> {
    const draining = this.state.draining;
    if (!draining || draining.drainedSent || !this.registration || !this.queues) return;
    if (this.executors.size > 0 || this.updates.unacknowledged > 0) return;
    draining.drainedSent = true;
    await this.saveState();
    await this.queues.send(this.registration.statusQueueUrl, [
      {
        body: { type: 'DRAINED', agent_id: { value: this.registration.agentId } },
        groupId: `agent/${this.registration.agentId}`,
        deduplicationId: `drained-${randomUUID()}`,
      },
    ]);
    this.logger.info('Drained', { agentId: this.registration.agentId });
  }

  private taskTerminated(executor: TaskExecutor, state: TaskState): void {
    this.allocator.release(executor.containerId);
    const counter = state.replace('TASK_', '').toLowerCase();
    this.metrics.increment(`slave/tasks_${counter}`);
    // Mesos's default executor: one task of a group failing or killed takes the others down.
    if (executor.isGroupTask && state !== 'TASK_FINISHED') {
      void this.killWhere(
        (other) =>
          other !== executor && other.frameworkId === executor.frameworkId && other.executorId === executor.executorId,
        `Killed because task '${executor.taskId}' of its group ended in ${state}`,
      ).catch((error: unknown) => {
        if (!isStopped(error)) this.logger.error('Killing a task group failed', { error: String(error) });
      });
    }
  }

  private async streamClosed(frameworkId: string, taskId: string): Promise<void> {
    try {
      const key = taskKey(frameworkId, taskId);
      const executor = this.executors.get(key);
      if (executor) {
        this.executors.delete(key);
        this.state.completedLaunches[launchKey(executor.launchId, frameworkId, taskId)] =
          Date.now() + COMPLETED_LAUNCH_MS;
        await this.saveState();
      }
      await this.checkpoint.removeTask(frameworkId, taskId);
      await this.checkDrained();
    } catch (error) {
      if (!isStopped(error)) this.logger.error('Cleaning up a finished task failed', { taskId, error: String(error) });
    }
  }

  // ------------------------------------------------------------------------------------ status

  tasks(): AgentTask[] {
    return [...this.executors.values()].map((executor) => ({
      frameworkId: executor.frameworkId,
      taskId: executor.taskId,
      containerId: executor.containerId,
      state: this.updates.stream(executor.frameworkId, executor.taskId)?.latestState,
      phase: executor.state,
    }));
  }

  private registerGauges(): void {
    const count = (state: TaskState) => () =>
      this.tasks().filter((task) => task.state === state && !isTerminal(task.state)).length;
    this.metrics.gauge('slave/registered', () => (this.registration && !this.reregistering ? 1 : 0));
    this.metrics.gauge('slave/uptime_secs', () => (Date.now() - this.startedAt) / 1000);
    this.metrics.gauge('slave/tasks_staging', count('TASK_STAGING'));
    this.metrics.gauge('slave/tasks_starting', count('TASK_STARTING'));
    this.metrics.gauge('slave/tasks_running', count('TASK_RUNNING'));
    this.metrics.gauge('slave/tasks_killing', count('TASK_KILLING'));
    this.metrics.gauge(
      'slave/executors_running',
      () => this.tasks().filter((task) => task.phase !== 'terminated').length,
    );
    this.metrics.gauge('slave/gpus_total', () => this.gpus.length);
    this.metrics.gauge('slave/gpus_used', () => this.gpus.length - this.allocator.free);
    this.metrics.gauge('slave/cpus_total', () => scalarTotal(this.resources, 'cpus'));
    this.metrics.gauge('slave/mem_total', () => scalarTotal(this.resources, 'mem'));
    this.metrics.gauge('slave/disk_total', () => scalarTotal(this.resources, 'disk'));
  }

  private snapshot(): Record<string, number> {
    return this.metrics.snapshot();
  }

  // ---------------------------------------------------------------------------------- stopping

  private async end(): Promise<void> {
    this.pollAbort.abort();
    this.life.end();
    for (const executor of this.executors.values()) executor.detach();
    await Promise.allSettled(this.loops);
    await this.endpoint?.close();
    this.clients?.destroy();
  }

  stop({ waitForPoll = true }: { waitForPoll?: boolean } = {}): Promise<void> {
    this.stopped ??= (async () => {
      if (!this.life.alive) return;
      this.stopping = true;
      if (waitForPoll && this.commands) {
        this.logger.info('Agent stopping; tasks keep running. Letting the command poll end first', {
          agentId: this.agentId,
          atMostSeconds: this.options.config.commandPollSeconds,
        });
        await this.commands;
      } else {
        this.logger.info('Agent stopping; tasks keep running', { agentId: this.agentId });
      }
      await this.end();
    })();
    return this.stopped;
  }

  async shutdown(gracePeriodMs = 0): Promise<void> {
    if (!this.life.alive) return;
    const live = [...this.executors.values()].filter((executor) => !executor.terminated);
    await Promise.all(live.map((executor) => executor.kill({ gracePeriodMs, message: 'The agent is shutting down' })));
    const deadline = Date.now() + gracePeriodMs + 10_000;
    while (Date.now() < deadline && [...this.executors.values()].some((executor) => !executor.terminated)) {
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    await this.end();
  }

  crash(): void {
    this.pollAbort.abort();
    this.life.end();
    for (const executor of this.executors.values()) executor.detach();
    void this.endpoint?.close();
    this.clients?.destroy();
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
