/**
 * The control plane's cost model (docs/cost.md): AWS's public list prices and what an idle agent and a
 * task use. The usage figures are measured (test/contract/infra-cost.test.ts counts the DynamoDB
 * capacity units, SQS requests and HTTP calls of real work against the stand-ins); the prices and the
 * Lambda durations are assumptions, stated here once.
 */

import { HEARTBEAT_BATCH_SIZE, HEARTBEAT_BATCHING_WINDOW_SECONDS } from './settings.js';

/** us-east-1 list prices, USD, as AWS published them in 2025 (pricing pages; no free tier counted). */
export const PRICES = {
  /** API Gateway REST API, per request (first 333 million a month). */
  restApiRequest: 3.5 / 1e6,
  /** Lambda, per request. */
  lambdaRequest: 0.2 / 1e6,
  /** Lambda on arm64, per GB-second (first 6 billion a month). */
  lambdaGbSecond: 0.0000133334,
  /** DynamoDB on demand, per write and read request unit. */
  dynamoWriteUnit: 0.625 / 1e6,
  dynamoReadUnit: 0.125 / 1e6,
  /** SQS, per request (each 64 KiB of a payload is one). */
  sqsStandardRequest: 0.4 / 1e6,
  sqsFifoRequest: 0.5 / 1e6,
  /** CloudWatch: a custom metric, a standard alarm, a dashboard (first three free), per month. */
  metricMonth: 0.3,
  alarmMonth: 0.1,
  dashboardMonth: 3,
  /** CloudWatch Logs ingestion, per GB. */
  logsGb: 0.5,
  /** A public IPv4 address, per hour (an agent's, on the EC2 side of the bill). */
  publicIpv4Hour: 0.005,
} as const;

export const MONTH_SECONDS = 30 * 24 * 3600;

/** Assumed billed durations (Lambda bills per millisecond) and the memory each function has. */
export const DURATIONS = {
  /** A buffered API call (ACCEPT, ACKNOWLEDGE, a registration): two or three DynamoDB round trips. */
  apiCall: { seconds: 0.03, gb: 0.5 },
  /** One status-handler invocation. */
  statusBatch: { seconds: 0.03, gb: 0.25 },
  /** One heartbeat handler invocation: a batch read of the agents, one write. */
  heartbeatBatch: { seconds: 0.05, gb: 0.25 },
  /** One allocation pass over a cluster of up to a hundred agents. */
  allocationPass: { seconds: 0.15, gb: 1 },
} as const;

export interface LambdaWork {
  readonly invocations: number;
  readonly seconds: number;
  readonly gb: number;
}

/** An API Gateway access log line (the stage's JSON format with the standard fields), in bytes. */
export const ACCESS_LOG_BYTES = 400;

/** What some work used: counted requests and capacity units. */
export interface Usage {
  readonly restApiRequests: number;
  /** Log lines ingested by CloudWatch Logs (API Gateway access logs; Lambda's platform lines are off). */
  readonly logBytes: number;
  readonly lambda: readonly LambdaWork[];
  readonly dynamoReadUnits: number;
  readonly dynamoWriteUnits: number;
  readonly sqsStandardRequests: number;
  readonly sqsFifoRequests: number;
}

export function lambdaCost(work: readonly LambdaWork[]): number {
  return work.reduce(
    (sum, w) => sum + w.invocations * (PRICES.lambdaRequest + w.seconds * w.gb * PRICES.lambdaGbSecond),
    0,
  );
}

export function cost(usage: Usage): number {
  return (
    usage.restApiRequests * PRICES.restApiRequest +
    (usage.logBytes / 1e9) * PRICES.logsGb +
    lambdaCost(usage.lambda) +
    usage.dynamoReadUnits * PRICES.dynamoReadUnit +
    usage.dynamoWriteUnits * PRICES.dynamoWriteUnit +
    usage.sqsStandardRequests * PRICES.sqsStandardRequest +
    usage.sqsFifoRequests * PRICES.sqsFifoRequest
  );
}

export function scale(usage: Usage, by: number): Usage {
  return {
    restApiRequests: usage.restApiRequests * by,
    logBytes: usage.logBytes * by,
    lambda: usage.lambda.map((w) => ({ ...w, invocations: w.invocations * by })),
    dynamoReadUnits: usage.dynamoReadUnits * by,
    dynamoWriteUnits: usage.dynamoWriteUnits * by,
    sqsStandardRequests: usage.sqsStandardRequests * by,
    sqsFifoRequests: usage.sqsFifoRequests * by,
  };
}

export interface IdleAgentInputs {
  /** The agents' heartbeat interval (Mesos's agent_ping_timeout; Mantle's default 15 s). */
  readonly heartbeatSeconds: number;
  /** Agents in the cluster: with the batching window, how many heartbeats one handler invocation takes. */
  readonly clusterAgents: number;
  /** Measured: read units per heartbeat (the handler reads each agent's status, eventually consistent). */
  readonly heartbeatReadUnits: number;
  /** Measured: bytes one agent adds to the heartbeat log item of a batch. */
  readonly heartbeatLogBytesPerAgent: number;
  /** Measured: read units one full scan of the agents table costs per idle agent. */
  readonly scanReadUnitsPerAgent: number;
}

/** The scans that run every minute whatever happens: the sweeper, the fleet tick, the periodic pass. */
export const SCANS_PER_MINUTE = 3;
/** The agent long-polls its FIFO command queue 20 s at a time. */
export const COMMAND_POLLS_PER_MINUTE = 3;
/** Lambda's pollers receive up to 10 messages a request, and delete up to 10 a request. */
const SQS_REQUESTS_PER_HANDLED_MESSAGE = 0.2;
/** A heartbeat log item besides its agents (keys, TTL), in bytes. */
const HEARTBEAT_ITEM_OVERHEAD_BYTES = 100;

/** Heartbeats one handler invocation takes, on average. */
export function heartbeatBatch(inputs: Pick<IdleAgentInputs, 'heartbeatSeconds' | 'clusterAgents'>): number {
  const arriving = (inputs.clusterAgents * HEARTBEAT_BATCHING_WINDOW_SECONDS) / inputs.heartbeatSeconds;
  return Math.max(1, Math.min(HEARTBEAT_BATCH_SIZE, arriving));
}

/** Per idle agent and month, by item (USD). */
export function idleAgentMonth(inputs: IdleAgentInputs): Record<string, number> {
  const heartbeats = MONTH_SECONDS / inputs.heartbeatSeconds;
  const minutes = MONTH_SECONDS / 60;
  const batch = heartbeatBatch(inputs);
  const itemUnits = Math.ceil((HEARTBEAT_ITEM_OVERHEAD_BYTES + batch * inputs.heartbeatLogBytesPerAgent) / 1024);
  return {
    heartbeatMessages: heartbeats * PRICES.sqsStandardRequest,
    heartbeatReceives: heartbeats * SQS_REQUESTS_PER_HANDLED_MESSAGE * PRICES.sqsStandardRequest,
    heartbeatLambda: lambdaCost([{ invocations: heartbeats / batch, ...DURATIONS.heartbeatBatch }]),
    heartbeatReads: heartbeats * inputs.heartbeatReadUnits * PRICES.dynamoReadUnit,
    heartbeatWrites: (heartbeats / batch) * itemUnits * PRICES.dynamoWriteUnit,
    commandQueuePolling: minutes * COMMAND_POLLS_PER_MINUTE * PRICES.sqsFifoRequest,
    periodicScans: minutes * SCANS_PER_MINUTE * inputs.scanReadUnitsPerAgent * PRICES.dynamoReadUnit,
  };
}

export function total(items: Record<string, number>): number {
  return Object.values(items).reduce((sum, value) => sum + value, 0);
}

/** The control plane's cost budgets (docs/cost.md). */
export const BUDGET = { idleAgentMonth: 0.1, per100kTasks: 1 } as const;

/**
 * What infra-cost.test.ts measured: four g6.12xlarge-like agents (4 GPUs each) and one framework
 * running 48 one-GPU Docker tasks to completion, with authentication on. The test fails when a change
 * moves any of these by more than 15%; docs/cost.md is computed from them.
 */
export const MEASURED = {
  heartbeatReadUnits: 0.51,
  heartbeatLogBytesPerAgent: 68,
  scanReadUnitsPerAgent: 0.25,
  idleAgentMonth15s: 0.17,
  idleAgentMonth30s: 0.12,
  idleAgentMonth60s: 0.095,
  apiCallsPerTask: 3.15,
  statusMessagesPerTask: 3,
  allocationTriggersPerTask: 0.625,
  readUnitsPerTask: 9.2,
  writeUnitsPerTask: 8.3,
  fifoRequestsPerTask: 10.6,
  per100kTasksApiGateway: 2.78,
  per100kTasksFunctionUrl: 1.57,
  /** A scrape of the cluster-wide metrics, beyond the agents' scan (scanReadUnitsPerAgent each). */
  scrapeReadUnitsBesideAgents: 5,
} as const;
