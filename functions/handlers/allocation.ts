/**
 * The allocator Lambda (middy, SQS batch): one allocation pass per batch of triggers, over the union of
 * the agents they name. Runs unchanged in AWS, in the local cluster (through the SQS event source
 * emulation) and in the tests. The Allocator instance and the snapshot (allocation/warm-snapshot.ts)
 * live as long as the Lambda container: a warm container reads only the agents its triggers name (and,
 * for a pass over all agents, the frameworks, filters and roles) and re-derives only what changed; a cold
 * one, and a snapshot whose last full read is old, reads everything.
 *
 * Invalid trigger messages are dropped (and counted): retrying cannot fix them, and the periodic pass
 * covers whatever they meant. A pass that fails (DynamoDB unreachable) fails the batch, which SQS
 * redelivers.
 */
import { createLogger, type Logger } from '#shared/log.js';
import middy from '@middy/core';
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { createAwsClients } from '#shared/aws/clients.js';
import { SqsEventPublisher } from '../master/event-publisher.js';
import { Metrics } from '#shared/metrics.js';
import { Queues } from '#shared/queues/queues.js';
import { Registrar, tableNamesFromEnvironment } from '../registrar/index.js';
import { Allocator } from '../allocator/allocator.js';
import { allocatorConfigFromEnvironment } from '../allocator/config.js';
import { runAllocationPass, type AllocationPassDeps, type AllocationPassReport } from '../allocation/run-pass.js';
import { WarmSnapshot } from '../allocation/warm-snapshot.js';
import { parseMessageBody } from '#shared/protocol/internal.js';
import {
  AllocationTriggers,
  changesNoAgent,
  coalesce,
  TriggerMessageSchema,
  type TriggerMessage,
} from '../allocation/triggers.js';

export interface AllocationHandlerDeps extends AllocationPassDeps {
  readonly triggers: Pick<AllocationTriggers, 'request'>;
  /** Called after every pass (the local cluster keeps the latest pending reasons from it). */
  readonly onPass?: (report: AllocationPassReport) => void;
}

/** Clocks of the senders and of the allocator may differ by this much. */
const CLOCK_SKEW_MS = 1000;

/**
 * Whether a pass over all agents that started at `passStart` already covers the trigger: its change was
 * written before it was sent (or its timer was due), so that pass read it. A REVIVE flood thus costs
 * one pass for what came before it started, and one more for what came during it.
 */
function covered(message: TriggerMessage, passStart: number): boolean {
  const at = message.due_at ?? message.sent_at;
  return at !== undefined && at < passStart - CLOCK_SKEW_MS;
}

export function allocationHandler(deps: AllocationHandlerDeps) {
  // The last pass over all agents that read every agent; and the last that read the frameworks and the
  // agents its triggers named (a warm read), which covers only triggers that name no changed agent.
  let fullPassStart = -Infinity;
  let warmPassStart = -Infinity;
  const passDeps: AllocationPassDeps = { ...deps, snapshot: deps.snapshot ?? new WarmSnapshot() };
  return middy<SQSEvent, SQSBatchResponse>().handler(async (event): Promise<SQSBatchResponse> => {
    const now = (deps.now ?? Date.now)();
    const due: TriggerMessage[] = [];
    for (const record of event.Records) {
      const message = parseMessageBody(TriggerMessageSchema, record.body);
      if (!message) {
        deps.logger?.warn('Dropping an invalid allocation trigger', { messageId: record.messageId });
        deps.metrics?.increment('allocator/invalid_triggers');
      } else if (
        message.not_before !== undefined ||
        covered(message, fullPassStart) ||
        (changesNoAgent(message) && covered(message, warmPassStart))
      ) {
        deps.metrics?.increment('allocator/triggers_coalesced');
      } else {
        due.push(message);
      }
    }
    const request = coalesce(due);
    if (request) {
      const report = await runAllocationPass(passDeps, {
        ...(request.agentIds ? { agentIds: request.agentIds } : {}),
        ...(request.changedAgents ? { changedAgents: request.changedAgents } : {}),
        ...(request.requestedAt !== undefined ? { requestedAt: request.requestedAt } : {}),
      });
      if (!request.agentIds && report.fullRead) fullPassStart = Math.max(fullPassStart, now);
      if (!request.agentIds) warmPassStart = Math.max(warmPassStart, now);
      deps.onPass?.(report);
    }
    return { batchItemFailures: [] };
  });
}

function required(env: NodeJS.ProcessEnv, name: string): string {
  const value = env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
}

/**
 * The handler as deployed: configuration from the environment (see `allocatorConfigFromEnvironment`,
 * the registrar's table variables, MANTLE_CLUSTER_ID and MANTLE_ALLOCATION_QUEUE_URL).
 */
export function allocationHandlerFromEnvironment(
  env: NodeJS.ProcessEnv = process.env,
  logger: Logger = createLogger('allocator'),
) {
  const clients = createAwsClients();
  const metrics = new Metrics();
  const queues = new Queues(clients.sqs);
  const registrar = new Registrar({
    documents: clients.documents,
    tables: tableNamesFromEnvironment(env),
    clusterId: required(env, 'MANTLE_CLUSTER_ID'),
    metrics,
  });
  return allocationHandler({
    registrar,
    events: new SqsEventPublisher(queues),
    allocator: new Allocator(allocatorConfigFromEnvironment(env)),
    triggers: new AllocationTriggers(queues, required(env, 'MANTLE_ALLOCATION_QUEUE_URL')),
    metrics,
    logger,
  });
}
