/**
 * The whole cluster on one machine (docs/local-cluster.md): the AWS stand-ins, the master's handlers —
 * the hono app on 127.0.0.1:5050, the status and allocation handlers fed by Lambda-style event sources,
 * the sweeper and the periodic allocation pass on timers — and N agents. The same handlers run in
 * Lambda; only their hosts differ.
 *
 * Unless asked to authenticate, the local cluster is one user's, on loopback: authentication off and
 * permissive ACLs (tasks may do anything, as on a workstation). With authentication, the master's safe
 * default ACLs apply unless others are given (docs/security.md).
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { startAgent, type RunningAgent } from '../agent/agent.js';
import { agentConfig, type AgentConfig, type ContainerizerKind } from '../agent/config.js';
import { Allocator } from '../functions/allocator/allocator.js';
import { allocatorConfig, type AllocatorConfig, type AllocatorConfigInput } from '../functions/allocator/config.js';
import { allocationHandler } from '../functions/handlers/allocation.js';
import { AllocationTriggers, startPeriodicTriggers } from '../functions/allocation/triggers.js';
import { newClusterId } from '#shared/ids.js';
import { taskLogGroup } from '#shared/task-logs/names.js';
import { PERMISSIVE_ACL, SAFE_ACL, type Acl } from '#shared/acl.js';
import type { MasterConfigInput } from '../functions/master/config.js';
import type { Master } from '../functions/master/master.js';
import { sweep } from '../functions/fleet/sweeper.js';
import { startLocalAws, type LocalAws } from './aws-standins.js';
import { startEventSource, type EventSource } from './event-source.js';
import { provisionAgentCredential } from './agent-credential.js';
import { startAgentProcess, type AgentProcess } from './agent-processes.js';
import { frameworkQueues, type FrameworkQueues } from './framework-queues.js';
import { startLocalJobs, type LocalJobs, type LocalJobsOptions } from './jobs.js';
import { localUiAssets } from './ui.js';
import type { JobsService } from '../frameworks/jobs/service.js';
import type { ServicesService } from '../frameworks/services/service.js';
import { startLocalServices, type LocalServices, type LocalServicesOptions } from './services.js';
import {
  bootstrapMaster,
  LOCAL_STATUS_POLLERS,
  serveMaster,
  startHeartbeatSource,
  startStatusSource,
  type HttpServer,
  type LocalMaster,
} from './master.js';

export interface LocalClusterOptions {
  readonly cluster: string;
  readonly port: number;
  readonly hostname: string;
  readonly agents: number;
  /** Agents' work directories live under here; the registrar's tables too, with `persist`. */
  readonly workDir: string;
  /** Keep the registrar (DynamoDB Local's files) and the cluster id across restarts. */
  readonly persist: boolean;
  /** Containerizer for the agents; auto = Docker when a daemon answers, else processes. */
  readonly containerizer: 'auto' | ContainerizerKind;
  readonly master: Partial<MasterConfigInput>;
  /** The allocator's settings (Mesos flag names: filterGpuResources is --filter_gpu_resources). */
  readonly allocator?: AllocatorConfigInput;
  /** Each agent's --resources without ports (each agent gets its own port range); default: a share of the machine. */
  readonly agentResources?: string;
  /** Other agent flags, the same for every agent. */
  readonly agent?: Partial<AgentConfig>;
  /**
   * Child processes to run the agents in (docs/local-cluster.md#processes), so that they use cores the master's
   * handlers do not; 0 (the default) runs them in this process, where `agents` holds them.
   */
  readonly agentProcesses?: number;
  /**
   * Run the SQS stand-in in a child process of its own (docs/local-cluster.md#processes), off the master's event
   * loop; by default it runs in this process.
   */
  readonly sqsProcess?: boolean;
  readonly allocationIntervalSeconds: number;
  readonly sweepIntervalSeconds: number;
  readonly log: (line: string) => void;
  /** Mantle Jobs (default on); `false` for tests that do not need it. */
  readonly jobs?: false | LocalJobsOptions;
  /** Mantle Services and its Marathon API (default on); `false` for tests that do not need it. */
  readonly services?: false | LocalServicesOptions;
}

export interface LocalCluster {
  readonly url: string;
  /** With authentication on: the principal this cluster's own agents authenticate as. */
  readonly agentPrincipal?: string;
  readonly master: Master;
  /** Runs queue-delivered frameworks' handlers on their named queues, as Lambda's event sources would. */
  readonly frameworkQueues: FrameworkQueues;
  /** Mantle Jobs: its service (what the REST API mounts), framework, timer and store; absent when turned off. */
  readonly jobs?: LocalJobs;
  /** Mantle Services: its service (what /v2 mounts), framework, timer and store; absent when turned off. */
  readonly services?: LocalServices;
  readonly aws: LocalAws;
  /** The agents run in this process (none when they run in child processes). */
  readonly agents: RunningAgent[];
  /** The child processes that run the agents, with `agentProcesses`. */
  readonly agentHosts: AgentProcess[];
  /** What the agents run tasks in: Docker (and processes) or processes only. */
  readonly containerizer: ContainerizerKind;
  stop(): Promise<void>;
}

/** A stable cluster id for a persistent cluster (ids it handed out stay meaningful after a restart). */
function clusterIdFor(workDir: string, persist: boolean): string {
  if (!persist) return newClusterId();
  const file = join(workDir, 'cluster-id');
  try {
    return readFileSync(file, 'utf8').trim();
  } catch {
    const id = newClusterId();
    writeFileSync(file, `${id}\n`);
    return id;
  }
}

async function dockerAnswers(): Promise<boolean> {
  const { default: Docker } = await import('dockerode');
  try {
    await new Docker().ping();
    return true;
  } catch {
    return false;
  }
}

/** By default each agent gets an equal share of the machine; always its own port range (they share one host). */
function agentResources(index: number, count: number, given: string | undefined): string {
  const cpus = Math.max(0.1, Math.floor((availableParallelism() / count) * 10) / 10);
  const mem = Math.max(256, Math.floor(totalmem() / 1024 / 1024 / count / 2));
  const span = Math.floor(1000 / count);
  const first = 31000 + index * span;
  return `${given ?? `cpus:${cpus};mem:${mem};disk:10240`};ports:[${first}-${first + span - 1}]`;
}

/**
 * `mantle local`'s and the benchmarks' layout: the agents spread over as many child processes as the machine
 * has cores (at most one per agent), beside the master's process. More processes than cores add their idle
 * polling and their own copies of the clients, and take no core the others would not.
 */
export function defaultAgentProcesses(agents: number): number {
  return Math.min(agents, availableParallelism());
}

export type Stops = Array<() => Promise<void> | void>;

async function startStandIns(options: LocalClusterOptions, workDir: string, stops: Stops): Promise<LocalAws> {
  const aws = await startLocalAws({
    dynamodb: {
      ...(options.persist ? { dataDir: join(workDir, 'registrar') } : {}),
      pidFile: join(workDir, 'dynamodb-local.pid'),
    },
    ...(options.sqsProcess ? { sqsProcess: true } : {}),
  });
  stops.push(() => aws.stop());
  if (aws.dynamodb.reaped) {
    options.log(`  (ended DynamoDB Local pid ${aws.dynamodb.reaped}, left running by a run that was killed)`);
  }
  options.log(
    `  DynamoDB Local   ${aws.dynamodb.endpoint} (pid ${aws.dynamodb.pid}${options.persist ? ', persistent' : ', in memory'})`,
  );
  options.log(`  SQS stand-in     ${aws.sqs.endpoint}${aws.sqs.pid ? ` (pid ${aws.sqs.pid})` : ''}`);
  options.log(`  Logs stand-in    ${aws.logs.endpoint} (task output, in memory)`);
  return aws;
}

/** The allocator as `options` configure it, logged. */
async function startAllocation(options: LocalClusterOptions, local: LocalMaster, stops: Stops): Promise<void> {
  const offerTimeout = options.master.offerTimeoutSeconds;
  const config = allocatorConfig({
    ...options.allocator,
    ...(offerTimeout !== undefined ? { offerTimeoutSeconds: Number(offerTimeout) } : {}),
  });
  const gpuAgents = config.filterGpuResources ? 'GPU_RESOURCES frameworks only' : 'every framework';
  options.log(`  allocator        ${config.policy}; agents with GPUs for ${gpuAgents} (--filter_gpu_resources)`);
  await startAllocator(local, config, options.allocationIntervalSeconds, stops);
}

/** The allocator fed by its queue (as Lambda's event source would) and the periodic pass's timer. */
export async function startAllocator(
  local: LocalMaster,
  config: AllocatorConfig,
  intervalSeconds: number,
  stops: Stops,
): Promise<void> {
  const { master } = local;
  const triggers = new AllocationTriggers(master.queues, local.allocationQueueUrl);
  const allocation = startEventSource({
    queues: master.queues,
    queueUrl: local.allocationQueueUrl,
    queueArn: await master.queues.arn(local.allocationQueueUrl),
    handler: allocationHandler({
      registrar: master.registrar,
      events: master.events,
      allocator: new Allocator(config),
      triggers,
      metrics: master.metrics,
      logger: master.logger,
    }),
    batchSize: 10,
    onError: (error) => master.logger.error('Allocation failed', { error: String(error) }),
  });
  stops.push(() => allocation.stop());
  const periodic = startPeriodicTriggers(triggers, intervalSeconds, (error) =>
    master.logger.error('Periodic allocation trigger failed', { error: String(error) }),
  );
  stops.push(() => periodic.stop());
}

export function startSweeper(master: Master, intervalSeconds: number, stops: Stops): void {
  let sweeping = false;
  const sweeper = setInterval(() => {
    if (sweeping) return;
    sweeping = true;
    sweep(master)
      .catch((error: unknown) => master.logger.error('Sweep failed', { error: String(error) }))
      .finally(() => (sweeping = false));
  }, intervalSeconds * 1000);
  stops.push(() => clearInterval(sweeper));
}

/** The local cluster's master settings: authentication off and permissive ACLs unless asked otherwise. */
export function localMasterConfig(master: Partial<MasterConfigInput>): Partial<MasterConfigInput> {
  const authenticate = master.authenticate ?? false;
  return { ...master, authenticate, acls: master.acls ?? (authenticate ? SAFE_ACL : 'permissive') };
}

/** How the cluster's ACLs read at start. */
export function describeAcls(acls: Acl): string {
  if (JSON.stringify(acls) === JSON.stringify(PERMISSIVE_ACL)) {
    return 'permissive: tasks may run as root, privileged, on any host path (a single-user cluster; --acls to change)';
  }
  if (JSON.stringify(acls) === JSON.stringify(SAFE_ACL)) {
    return 'safe defaults: no root, no privileged containers, no host paths (--acls to change)';
  }
  return JSON.stringify(acls);
}

/** The master's handlers on the stand-ins: the HTTP app, the SQS handlers, the allocator, the sweeper. */
async function startMaster(
  options: LocalClusterOptions,
  aws: LocalAws,
  workDir: string,
  stops: Stops,
  served: { jobs?: JobsService; services?: ServicesService },
): Promise<{ local: LocalMaster; server: HttpServer }> {
  const clients = aws.clients();
  stops.push(() => clients.destroy());
  const local = await bootstrapMaster({
    clients,
    cluster: options.cluster,
    clusterId: clusterIdFor(workDir, options.persist),
    config: {
      ...localMasterConfig(options.master),
      // Every handler of the local cluster runs in this process, on this one registrar.
      soleWriter: true,
      taskLogGroup: taskLogGroup(options.cluster),
      taskLogsEndpoint: aws.logs.endpoint,
    },
  });
  const { master } = local;
  const ui = localUiAssets();
  const server = await serveMaster(master, options.port, options.hostname, {
    jobs: () => served.jobs,
    services: () => served.services,
    ...(ui ? { ui } : {}),
  });
  stops.push(() => server.close());
  options.log(`  master           ${server.url} (cluster ${options.cluster}, id ${master.config.clusterId})`);
  options.log(`  acls             ${describeAcls(master.config.acls)}`);
  options.log(`  web ui           ${ui ? `${server.url}/` : 'not built (npm start builds it)'}`);
  const status: EventSource = await startStatusSource(local, LOCAL_STATUS_POLLERS);
  stops.push(() => status.stop());
  const heartbeats: EventSource = await startHeartbeatSource(master);
  stops.push(() => heartbeats.stop());
  await startAllocation(options, local, stops);
  startSweeper(master, options.sweepIntervalSeconds, stops);
  return { local, server };
}

interface AgentsSetup {
  readonly masterUrl: string;
  readonly sqsEndpoint: string;
  readonly workDir: string;
  readonly containerizer: ContainerizerKind;
  /** MANTLE_AGENT_PRINCIPAL and MANTLE_AGENT_SECRET, handed over in process; empty without authentication. */
  readonly credentialEnv: NodeJS.ProcessEnv;
}

function agentConfigs(options: LocalClusterOptions, setup: AgentsSetup): AgentConfig[] {
  return Array.from({ length: options.agents }, (_, i) =>
    agentConfig({
      ...options.agent,
      master: setup.masterUrl,
      workDir: join(setup.workDir, `agent-${i}`),
      resources: agentResources(i, options.agents, options.agentResources),
      containerizers: setup.containerizer === 'docker' ? ['docker', 'mesos'] : ['mesos'],
      hostname: `agent-${i}.local`,
      advertiseIp: '127.0.0.1',
      // No agent endpoint unless asked (agent: { port: 0 } serves each on a free port).
      port: options.agent?.port ?? -1,
      sqsEndpoint: setup.sqsEndpoint,
      ec2Metadata: 'off',
    }),
  );
}

function logAgent(options: LocalClusterOptions, setup: AgentsSetup, index: number, agentId: string): void {
  const runs = setup.containerizer === 'docker' ? 'Docker and processes' : 'processes';
  options.log(`  agent ${index}          ${agentId} (${runs})`);
}

async function startAgents(options: LocalClusterOptions, setup: AgentsSetup, stops: Stops): Promise<RunningAgent[]> {
  const agents: RunningAgent[] = [];
  for (const [i, config] of agentConfigs(options, setup).entries()) {
    const agent = await startAgent({ config, env: setup.credentialEnv });
    // A throwaway cluster takes its tasks with it; a persistent one leaves them for the next start to recover.
    // The stand-in's queues die with this process: nothing is gained by letting a command poll end.
    stops.push(() =>
      options.persist ? agent.stop({ waitForPoll: false }) : agent.shutdown(2000, { waitForPoll: false }),
    );
    agents.push(agent);
    logAgent(options, setup, i, await agent.registered);
  }
  return agents;
}

/** The agents spread over `agentProcesses` children (contiguous runs of agent indexes), started one after another. */
async function startAgentHosts(
  options: LocalClusterOptions,
  setup: AgentsSetup,
  count: number,
  stops: Stops,
): Promise<AgentProcess[]> {
  const configs = agentConfigs(options, setup);
  const perHost = Math.ceil(configs.length / count);
  const hosts: AgentProcess[] = [];
  for (let first = 0; first < configs.length; first += perHost) {
    const host = await startAgentProcess({
      configs: configs.slice(first, first + perHost),
      env: setup.credentialEnv,
      persist: options.persist,
      onRegistered: (index, agentId) => logAgent(options, setup, first + index, agentId),
    });
    stops.push(() => host.stop());
    hosts.push(host);
  }
  return hosts;
}

/**
 * Starts a built-in framework (Jobs, Services) beside the master with AWS clients of its own, and logs what it runs;
 * both are stopped with the cluster.
 */
async function startBuiltIn<T extends { stop(): Promise<void> }>(
  aws: LocalAws,
  stops: Stops,
  start: (clients: ReturnType<LocalAws['clients']>) => Promise<T>,
  log: () => void,
): Promise<T> {
  const clients = aws.clients();
  stops.push(() => clients.destroy());
  const started = await start(clients);
  stops.push(() => started.stop());
  log();
  return started;
}

export async function startLocalCluster(options: LocalClusterOptions): Promise<LocalCluster> {
  const workDir = resolve(options.workDir);
  mkdirSync(workDir, { recursive: true });
  const stops: Stops = [];
  const stop = async () => {
    for (const step of stops.splice(0).reverse()) {
      try {
        await step();
      } catch (error) {
        options.log(`mantle: while stopping: ${String(error)}`);
      }
    }
  };
  try {
    const aws = await startStandIns(options, workDir, stops);
    // The REST API serves Jobs once it has started (503 until then).
    const served: { jobs?: JobsService; services?: ServicesService } = {};
    const { local, server } = await startMaster(options, aws, workDir, stops, served);
    const { master } = local;
    const hosted = frameworkQueues(master);
    stops.push(() => hosted.stop());
    // With authentication on, the master refuses agents without an agent principal's credentials.
    const credential = master.config.authenticate
      ? await provisionAgentCredential(master.registrar, options.persist ? workDir : undefined)
      : undefined;
    const containerizer =
      options.containerizer === 'auto' ? ((await dockerAnswers()) ? 'docker' : 'mesos') : options.containerizer;
    const setup: AgentsSetup = {
      masterUrl: server.url,
      sqsEndpoint: aws.sqs.endpoint,
      workDir,
      containerizer,
      credentialEnv: credential
        ? { MANTLE_AGENT_PRINCIPAL: credential.principal, MANTLE_AGENT_SECRET: credential.secret }
        : {},
    };
    const hostCount = Math.min(options.agentProcesses ?? 0, options.agents);
    const agents = hostCount > 0 ? [] : await startAgents(options, setup, stops);
    const agentHosts = hostCount > 0 ? await startAgentHosts(options, setup, hostCount, stops) : [];
    const jobOptions = options.jobs;
    const jobs =
      jobOptions === false
        ? undefined
        : await startBuiltIn(
            aws,
            stops,
            (clients) => startLocalJobs(master, hosted, clients, server.url, jobOptions ?? {}),
            () =>
              options.log(
                `  jobs             framework 'jobs' on its queue, timer every ${jobOptions?.tickMs ?? 1000} ms`,
              ),
          );
    if (jobs) served.jobs = jobs.service;
    const serviceOptions = options.services;
    const services =
      serviceOptions === false
        ? undefined
        : await startBuiltIn(
            aws,
            stops,
            (clients) => startLocalServices(master, hosted, clients, server.url, serviceOptions ?? {}),
            () => options.log(`  services         framework 'services' on its queue, Marathon's API at /v2`),
          );
    if (services) served.services = services.service;
    return {
      url: server.url,
      ...(credential ? { agentPrincipal: credential.principal } : {}),
      master,
      frameworkQueues: hosted,
      ...(jobs ? { jobs } : {}),
      ...(services ? { services } : {}),
      aws,
      agents,
      agentHosts,
      containerizer,
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
