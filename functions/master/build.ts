/** Assembles a Master from AWS clients and configuration: the same in Lambda, locally and in tests. */
import { AllocationTriggers } from '../allocation/triggers.js';
import type { AwsClients } from '#shared/aws/clients.js';
import { SqsEventPublisher } from './event-publisher.js';
import { createLogger } from '#shared/log.js';
import { Metrics } from '#shared/metrics.js';
import { Queues } from '#shared/queues/queues.js';
import { Registrar, type TableNames } from '../registrar/index.js';
import type { MasterConfig } from './config.js';
import type { FleetHooks } from '../fleet/hooks.js';
import type { AllocationRequester, Master } from './master.js';
import { StsIdentityVerifier } from './sts-identity.js';
import { CloudWatchTaskLogReader, createLogsClient } from '#shared/task-logs/cloudwatch.js';

export interface MasterParts {
  readonly clients: AwsClients;
  readonly config: MasterConfig;
  readonly tables: TableNames;
  readonly statusQueueUrl: string;
  readonly heartbeatQueueUrl: string;
  readonly allocationQueueUrl: string;
  readonly metrics?: Metrics;
  /** Replaces the allocation queue (tests that drive allocation themselves). */
  readonly allocation?: AllocationRequester;
  readonly fleet?: FleetHooks;
  readonly now?: () => number;
}

export function buildMaster(parts: MasterParts): Master {
  const now = parts.now ?? Date.now;
  const metrics = parts.metrics ?? new Metrics();
  const queues = new Queues(parts.clients.sqs);
  const registrar = new Registrar({
    documents: parts.clients.documents,
    tables: parts.tables,
    clusterId: parts.config.clusterId,
    metrics,
    now,
    // One process runs every handler: its status updates' rows serve the ACKNOWLEDGEs that follow them.
    recentTasks: parts.config.soleWriter,
  });
  return {
    config: parts.config,
    registrar,
    queues,
    events: new SqsEventPublisher(queues),
    allocation: parts.allocation ?? new AllocationTriggers(queues, parts.allocationQueueUrl, now),
    statusQueueUrl: parts.statusQueueUrl,
    heartbeatQueueUrl: parts.heartbeatQueueUrl,
    metrics,
    logger: createLogger('mantle-master'),
    ...(parts.fleet ? { fleet: parts.fleet } : {}),
    ...(parts.config.taskLogGroup
      ? {
          taskLogs: new CloudWatchTaskLogReader(
            createLogsClient({
              region: parts.clients.region,
              ...(parts.config.taskLogsEndpoint ? { endpoint: parts.config.taskLogsEndpoint } : {}),
            }),
            parts.config.taskLogGroup,
          ),
        }
      : {}),
    ...(parts.config.agentIdentity.mode === 'aws-sts'
      ? {
          agentIdentity: new StsIdentityVerifier(
            parts.config.agentIdentity,
            parts.config.cluster,
            parts.config.agentRoleId,
            now,
          ),
        }
      : {}),
    now,
  };
}
