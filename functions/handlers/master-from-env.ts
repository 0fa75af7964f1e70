/**
 * The master a Lambda function runs: built once per container (cold start) from its environment — MANTLE_CLUSTER,
 * MANTLE_CLUSTER_ID, the table names (MANTLE_TABLE_*), the queue URLs (MANTLE_STATUS_QUEUE_URL,
 * MANTLE_HEARTBEAT_QUEUE_URL, MANTLE_ALLOCATION_QUEUE_URL) and the optional MANTLE_* settings.
 */
import { agentQueueTaggerFromEnvironment } from '../fleet/agent-queues.js';
import { agentGroupFromEnvironment } from '../fleet/autoscaling.js';
import { createAwsClients } from '#shared/aws/clients.js';
import { buildMaster } from '../master/build.js';
import { masterConfigFromEnvironment } from '../master/config.js';
import type { Master } from '../master/master.js';
import { tableNamesFromEnvironment } from '../registrar/index.js';

let master: Master | undefined;

export function masterFromEnvironment(env: NodeJS.ProcessEnv = process.env): Master {
  if (master) return master;
  const required = (name: string): string => {
    const value = env[name];
    if (!value) throw new Error(`${name} is not set`);
    return value;
  };
  const clients = createAwsClients();
  // In AWS the stack names the agents' Auto Scaling group and role; elsewhere there is no fleet.
  const tagAgentQueue = agentQueueTaggerFromEnvironment(clients.sqs, env);
  const lifecycle = env.MANTLE_AGENT_ASG_NAME ? agentGroupFromEnvironment(env) : undefined;
  master = buildMaster({
    clients,
    config: masterConfigFromEnvironment(env),
    tables: tableNamesFromEnvironment(env),
    statusQueueUrl: required('MANTLE_STATUS_QUEUE_URL'),
    heartbeatQueueUrl: required('MANTLE_HEARTBEAT_QUEUE_URL'),
    allocationQueueUrl: required('MANTLE_ALLOCATION_QUEUE_URL'),
    fleet: { ...(lifecycle ? { lifecycle } : {}), ...(tagAgentQueue ? { tagAgentQueue } : {}) },
  });
  return master;
}
