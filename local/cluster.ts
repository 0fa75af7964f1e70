/**
 * The whole cluster on one machine (ARCHITECTURE §5, "local cluster"): the AWS stand-ins, the master's
 * handlers — the hono app on 127.0.0.1:5050, the status and allocation handlers fed by Lambda-style event
 * sources, the sweeper and the periodic allocation pass on timers — and N agents. The same handlers run
 * in Lambda; only their hosts differ.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { startAgent, type RunningAgent } from '../agent/agent.js';
import { agentConfig, type AgentConfig, type ContainerizerKind } from '../agent/config.js';
import { Allocator } from '../functions/allocator/allocator.js';
import { allocatorConfig } from '../functions/allocator/config.js';
import { allocationHandler } from '../functions/handlers/allocation.js';
import { AllocationTriggers, startPeriodicTriggers } from '../functions/allocation/triggers.js';
import { newClusterId } from '../shared/ids.js';
import type { MasterConfigInput } from '../functions/master/config.js';
import type { Master } from '../functions/master/master.js';
import { sweep } from '../functions/fleet/sweeper.js';
import { startLocalAws, type LocalAws } from './aws-standins.js';
import { startEventSource, type EventSource } from './event-source.js';
import { bootstrapMaster, serveMaster, startHeartbeatSource, startStatusSource, type HttpServer } from './master.js';

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
  /** Each agent's --resources without ports (each agent gets its own port range); default: a share of the machine. */
  readonly agentResources?: string;
  /** Other agent flags, the same for every agent. */
  readonly agent?: Partial<AgentConfig>;
  readonly allocationIntervalSeconds: number;
  readonly sweepIntervalSeconds: number;
  readonly log: (line: string) => void;
}

export interface LocalCluster {
  readonly url: string;
  readonly master: Master;
  readonly aws: LocalAws;
  readonly agents: RunningAgent[];
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

export async function startLocalCluster(options: LocalClusterOptions): Promise<LocalCluster> {
  const workDir = resolve(options.workDir);
  mkdirSync(workDir, { recursive: true });
  const stops: Array<() => Promise<void> | void> = [];
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
    const aws = await startLocalAws({
      dynamodb: {
        ...(options.persist ? { dataDir: join(workDir, 'registrar') } : {}),
        pidFile: join(workDir, 'dynamodb-local.pid'),
      },
    });
    stops.push(() => aws.stop());
    if (aws.dynamodb.reaped) {
      options.log(`  (ended DynamoDB Local pid ${aws.dynamodb.reaped}, left running by a run that was killed)`);
    }
    options.log(
      `  DynamoDB Local   ${aws.dynamodb.endpoint} (pid ${aws.dynamodb.pid}${options.persist ? ', persistent' : ', in memory'})`,
    );
    options.log(`  SQS stand-in     ${aws.sqs.endpoint}`);

    const clients = aws.clients();
    stops.push(() => clients.destroy());
    const local = await bootstrapMaster({
      clients,
      cluster: options.cluster,
      clusterId: clusterIdFor(workDir, options.persist),
      config: options.master,
    });
    const { master } = local;

    const server: HttpServer = await serveMaster(master, options.port, options.hostname);
    stops.push(() => server.close());
    options.log(`  master           ${server.url} (cluster ${options.cluster}, id ${master.config.clusterId})`);

    const status: EventSource = await startStatusSource(local);
    stops.push(() => status.stop());
    const heartbeats: EventSource = await startHeartbeatSource(master);
    stops.push(() => heartbeats.stop());
    const triggers = new AllocationTriggers(master.queues, local.allocationQueueUrl);
    const allocation = startEventSource({
      queues: master.queues,
      queueUrl: local.allocationQueueUrl,
      queueArn: await master.queues.arn(local.allocationQueueUrl),
      handler: allocationHandler({
        registrar: master.registrar,
        events: master.events,
        allocator: new Allocator(
          allocatorConfig({
            ...(options.master.offerTimeoutSeconds !== undefined
              ? { offerTimeoutSeconds: Number(options.master.offerTimeoutSeconds) }
              : {}),
          }),
        ),
        triggers,
        metrics: master.metrics,
        logger: master.logger,
      }),
      batchSize: 10,
      onError: (error) => master.logger.error('Allocation failed', { error: String(error) }),
    });
    stops.push(() => allocation.stop());
    const periodic = startPeriodicTriggers(triggers, options.allocationIntervalSeconds, (error) =>
      master.logger.error('Periodic allocation trigger failed', { error: String(error) }),
    );
    stops.push(() => periodic.stop());
    let sweeping = false;
    const sweeper = setInterval(() => {
      if (sweeping) return;
      sweeping = true;
      sweep(master)
        .catch((error: unknown) => master.logger.error('Sweep failed', { error: String(error) }))
        .finally(() => (sweeping = false));
    }, options.sweepIntervalSeconds * 1000);
    stops.push(() => clearInterval(sweeper));

    const containerizer =
      options.containerizer === 'auto' ? ((await dockerAnswers()) ? 'docker' : 'mesos') : options.containerizer;
    const agents: RunningAgent[] = [];
    for (let i = 0; i < options.agents; i++) {
      const agent = await startAgent({
        config: agentConfig({
          ...options.agent,
          master: server.url,
          workDir: join(workDir, `agent-${i}`),
          resources: agentResources(i, options.agents, options.agentResources),
          containerizers: containerizer === 'docker' ? ['docker', 'mesos'] : ['mesos'],
          hostname: `agent-${i}.local`,
          advertiseIp: '127.0.0.1',
          port: -1,
          sqsEndpoint: aws.sqs.endpoint,
          ec2Metadata: 'off',
        }),
      });
      // A throwaway cluster takes its tasks with it; a persistent one leaves them for the next start to recover.
      // The stand-in's queues die with this process: nothing is gained by letting a command poll end.
      stops.push(() => (options.persist ? agent.stop({ waitForPoll: false }) : agent.shutdown(2000)));
      agents.push(agent);
      const agentId = await agent.registered;
      options.log(
        `  agent ${i}          ${agentId} (${containerizer === 'docker' ? 'Docker and processes' : 'processes'})`,
      );
    }
    return { url: server.url, master, aws, agents, containerizer, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
