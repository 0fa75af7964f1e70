/**
 * A master on the local stand-ins: the registrar's tables and the master's queues created, the handlers
 * assembled, the hono app served on loopback, and the SQS handlers fed by Lambda-style event sources.
 * Used by the local cluster and by the tests.
 */
import { serve, type ServerType } from '@hono/node-server';
import type { AddressInfo } from 'node:net';
import { createApp, type AppOptions } from '../functions/handlers/app.js';
import { ensureAllocationQueue } from '../functions/allocation/triggers.js';
import { createHeartbeatHandler } from '../functions/handlers/heartbeats.js';
import { createStatusHandler } from '../functions/handlers/status.js';
import type { AwsClients } from '#shared/aws/clients.js';
import { newClusterId } from '#shared/ids.js';
import { buildMaster } from '../functions/master/build.js';
import { ensureHeartbeatQueue } from '../functions/fleet/heartbeats.js';
import { masterConfig, type MasterConfigInput } from '../functions/master/config.js';
import type { AllocationRequester, Master } from '../functions/master/master.js';
import type { FleetHooks } from '../functions/fleet/hooks.js';
import { Metrics } from '#shared/metrics.js';
import { queueNames, Queues } from '#shared/queues/queues.js';
import { createTables, tableNames } from '../functions/registrar/index.js';
import { startEventSource, type EventSource } from './event-source.js';
import { CreateLogGroupCommand } from '@aws-sdk/client-cloudwatch-logs';
import { createLogsClient } from '#shared/task-logs/cloudwatch.js';

export interface LocalMasterOptions {
  readonly clients: AwsClients;
  readonly cluster: string;
  readonly clusterId?: string;
  readonly config?: Partial<MasterConfigInput>;
  readonly allocation?: AllocationRequester;
  /** The fleet's hooks (tests stand in for AWS's; the local cluster has no fleet). */
  readonly fleet?: FleetHooks;
  readonly now?: () => number;
}

export interface LocalMaster {
  readonly master: Master;
  readonly statusQueueUrl: string;
  readonly allocationQueueUrl: string;
}

export async function bootstrapMaster(options: LocalMasterOptions): Promise<LocalMaster> {
  const { clients, cluster } = options;
  const tables = tableNames(cluster);
  await createTables(clients.dynamodb, tables);
  const queues = new Queues(clients.sqs);
  const statusQueueUrl = await queues.ensure(queueNames.status(cluster), {
    visibilityTimeoutSeconds: 30,
    maxReceiveCount: 10,
  });
  const allocationQueueUrl = await ensureAllocationQueue(queues, cluster);
  const heartbeatQueueUrl = await ensureHeartbeatQueue(queues, cluster);
  const config = masterConfig({ cluster, clusterId: options.clusterId ?? newClusterId(), ...options.config });
  if (config.taskLogGroup && config.taskLogsEndpoint) {
    await ensureLogGroup(config.taskLogsEndpoint, config.taskLogGroup, clients.region);
  }
  const master = buildMaster({
    clients,
    config,
    tables,
    statusQueueUrl,
    heartbeatQueueUrl,
    allocationQueueUrl,
    metrics: new Metrics(),
    ...(options.allocation ? { allocation: options.allocation } : {}),
    ...(options.fleet ? { fleet: options.fleet } : {}),
    ...(options.now ? { now: options.now } : {}),
  });
  return { master, statusQueueUrl, allocationQueueUrl };
}

/** The task log group on the stand-in (in AWS the stack owns it, with its retention). */
async function ensureLogGroup(endpoint: string, group: string, region: string): Promise<void> {
  const logs = createLogsClient({ endpoint, region });
  try {
    await logs.send(new CreateLogGroupCommand({ logGroupName: group }));
  } catch (error) {
    if ((error as Error).name !== 'ResourceAlreadyExistsException') throw error;
  } finally {
    logs.destroy();
  }
}

/**
 * Feeds the heartbeat queue to the heartbeat handler, as Lambda's event source would: by default in batches of 10
 * at once, one batch at a time; `batching` gathers them as the stack's event source does (infra/settings.ts: up to
 * 1,000 in a 20 s window, `pollers` batches at once up to the function's concurrency).
 */
export async function startHeartbeatSource(
  master: Master,
  batching: { readonly batchSize: number; readonly windowSeconds: number; readonly pollers?: number } = {
    batchSize: 10,
    windowSeconds: 0,
  },
): Promise<EventSource> {
  return startEventSource({
    queues: master.queues,
    queueUrl: master.heartbeatQueueUrl,
    queueArn: await master.queues.arn(master.heartbeatQueueUrl),
    handler: createHeartbeatHandler(master),
    batchSize: batching.batchSize,
    batchingWindowSeconds: batching.windowSeconds,
    ...(batching.pollers !== undefined ? { pollers: batching.pollers } : {}),
    onError: (error) => master.logger.error('Heartbeat event source failed', { error: String(error) }),
  });
}

/**
 * Feeds the status queue to the status handler, as Lambda's event source would, with `pollers` batches in flight at
 * once (Lambda runs concurrent invocations for a backlog). The tests' masters keep two, on which the cost model's
 * batches were measured (test/contract/infra-cost.test.ts); the local cluster runs more (LOCAL_STATUS_POLLERS).
 */
export async function startStatusSource(local: LocalMaster, pollers = 2): Promise<EventSource> {
  const { master } = local;
  return startEventSource({
    queues: master.queues,
    queueUrl: local.statusQueueUrl,
    queueArn: await master.queues.arn(local.statusQueueUrl),
    handler: createStatusHandler(master),
    batchSize: 10,
    pollers,
    onError: (error) => master.logger.error('Status event source failed', { error: String(error) }),
  });
}

/**
 * The local cluster's status pollers. A batch spends most of its time waiting on the registrar and the queues (about
 * ten round trips); with two in flight, 300 tasks at once kept the status queue 12 s deep on two busy cores, the
 * agents resent their updates behind it, and no task finished for the first 36 s. Six took the same run from 70 s
 * to 35 s (docs/local-cluster.md). (Eight did not visibly speed bench:jobs' 10,000-job backlog.)
 */
export const LOCAL_STATUS_POLLERS = 6;

export interface HttpServer {
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

/** Serves the master's app on loopback (port 0 = any free port); `app` names the Jobs service it serves. */
export async function serveMaster(
  master: Master,
  port = 0,
  hostname = '127.0.0.1',
  app: AppOptions = {},
): Promise<HttpServer> {
  const served = createApp(master, app);
  const server: ServerType = await new Promise((resolve, reject) => {
    const started = serve({ fetch: served.fetch, port, hostname }, () => resolve(started));
    started.once('error', reject);
  });
  const address = server.address() as AddressInfo;
  return {
    url: `http://${hostname}:${address.port}`,
    port: address.port,
    close: () =>
      new Promise<void>((resolve) => {
        if ('closeAllConnections' in server) server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
