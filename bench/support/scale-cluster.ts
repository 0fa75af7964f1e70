/**
 * bench:scale's master: the local cluster's parts (DynamoDB Local, the SQS stand-in, the master's hono app, the
 * status, heartbeat and allocation handlers behind Lambda-style event sources, the periodic pass and the sweeper)
 * without its agents, Jobs or Services, on AWS clients the bench can watch: `instrument` sees them before any
 * handler uses them (the partition-write meter, the simulated agents' doorbell).
 */
import { allocatorConfig } from '../../functions/allocator/config.js';
import { clusterSettings, HEARTBEAT_BATCH_SIZE, HEARTBEAT_BATCHING_WINDOW_SECONDS } from '../../infra/settings.js';
import type { Master } from '../../functions/master/master.js';
import { tableNames, type TableNames } from '../../functions/registrar/tables.js';
import { createAwsClients, type AwsClients, type AwsEndpoints } from '#shared/aws/clients.js';
import { startLocalAws } from '../../local/aws-standins.js';
import { localMasterConfig, startAllocator, startSweeper } from '../../local/cluster.js';
import { bootstrapMaster, serveMaster, startHeartbeatSource, startStatusSource } from '../../local/master.js';

export interface ScaleClusterOptions {
  readonly cluster: string;
  readonly allocationIntervalSeconds: number;
  readonly sweepIntervalSeconds: number;
  /** The master's agent_ping_timeout: the interval the agents heartbeat at (default Mesos's 15 s). */
  readonly agentPingTimeoutSeconds?: number;
  /** Stand-ins already running (a test's); absent: DynamoDB Local (with this heap) and the SQS stand-in are started. */
  readonly endpoints?: AwsEndpoints;
  readonly dynamoDbHeapMb?: number;
  /** Called with the master's clients before the master is built. */
  readonly instrument: (clients: AwsClients, tables: TableNames) => void;
}

export interface ScaleCluster {
  readonly url: string;
  readonly master: Master;
  /** DynamoDB Local's process and the SQS stand-in's, when this cluster started them. */
  readonly dynamoDbPid?: number;
  readonly sqsPid?: number;
  /** New clients of the same stand-ins (the simulated agents' own); the caller destroys them. */
  clients(): AwsClients;
  stop(): Promise<void>;
}

export async function startScaleCluster(options: ScaleClusterOptions): Promise<ScaleCluster> {
  const stops: Array<() => Promise<void> | void> = [];
  const stop = async () => {
    for (const step of stops.splice(0).reverse()) {
      try {
        await step();
      } catch (error) {
        console.error(`while stopping: ${String(error)}`);
      }
    }
  };
  try {
    let endpoints = options.endpoints;
    let dynamoDbPid: number | undefined;
    let sqsPid: number | undefined;
    if (!endpoints) {
      // The SQS stand-in in a process of its own, as the local cluster runs it: on the 2-core machine the master's
      // handlers, the fleet and the stand-in otherwise share one core while the other is DynamoDB Local's.
      const aws = await startLocalAws({ dynamodb: { heapMb: options.dynamoDbHeapMb ?? 512 }, sqsProcess: true });
      stops.push(() => aws.stop());
      endpoints = aws.endpoints;
      dynamoDbPid = aws.dynamodb.pid;
      sqsPid = aws.sqs.pid;
    }
    const standIns = endpoints;
    const clients = createAwsClients({ endpoints: standIns });
    stops.push(() => clients.destroy());
    options.instrument(clients, tableNames(options.cluster));
    const local = await bootstrapMaster({
      clients,
      cluster: options.cluster,
      config: {
        ...localMasterConfig({}),
        soleWriter: true,
        ...(options.agentPingTimeoutSeconds !== undefined
          ? { agentPingTimeoutSeconds: options.agentPingTimeoutSeconds }
          : {}),
      },
    });
    const { master } = local;
    const server = await serveMaster(master);
    stops.push(() => server.close());
    // Both event sources as the stack's (its default settings): the status handler up to statusConcurrency batches
    // at once, the heartbeats gathered in windows, up to heartbeatsConcurrency batches at once. With one heartbeat
    // batch at a time 10,000 agents' 667 heartbeats a second outran it (about 170 a second handled here, 80,000
    // waiting after three minutes); with two status batches, their updates waited until the agents resent them.
    const stack = clusterSettings(() => undefined);
    const status = await startStatusSource(local, stack.statusConcurrency);
    stops.push(() => status.stop());
    const heartbeats = await startHeartbeatSource(master, {
      batchSize: HEARTBEAT_BATCH_SIZE,
      windowSeconds: HEARTBEAT_BATCHING_WINDOW_SECONDS,
      pollers: stack.heartbeatsConcurrency,
    });
    stops.push(() => heartbeats.stop());
    await startAllocator(local, allocatorConfig({}), options.allocationIntervalSeconds, stops);
    startSweeper(master, options.sweepIntervalSeconds, stops);
    return {
      url: server.url,
      master,
      ...(dynamoDbPid !== undefined ? { dynamoDbPid } : {}),
      ...(sqsPid !== undefined ? { sqsPid } : {}),
      clients: () => createAwsClients({ endpoints: standIns }),
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
