/**
 * The allocator Lambda (middy, SQS batch): one allocation pass per batch of triggers, over the union of
 * the agents they name. Runs unchanged in AWS, in the local cluster (through the SQS event source
 * emulation) and in the tests. The Allocator instance lives as long as the Lambda container, so a warm
 * container re-derives only what changed; a cold one starts from the snapshot.
 *
 * Invalid trigger messages are dropped (and counted): retrying cannot fix them, and the periodic pass
 * covers whatever they meant. A pass that fails (DynamoDB unreachable) fails the batch, which SQS
 * redelivers.
 */
import { Logger } from '@aws-lambda-powertools/logger';
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
import { parseMessageBody } from '#shared/protocol/internal.js';
import { AllocationTriggers, coalesce, TriggerMessageSchema, type TriggerMessage } from '../allocation/triggers.js';

export interface AllocationHandlerDeps extends AllocationPassDeps {
  readonly triggers: Pick<AllocationTriggers, 'request' | 'resend'>;
  /** Called after every pass (the local cluster keeps the latest pending reasons from it). */
  readonly onPass?: (report: AllocationPassReport) => void;
}

/** A timer arriving up to this early is run (SQS delays are whole seconds). */
const EARLY_MS = 1000;

export function allocationHandler(deps: AllocationHandlerDeps) {
  return middy<SQSEvent, SQSBatchResponse>().handler(async (event): Promise<SQSBatchResponse> => {
    const now = (deps.now ?? Date.now)();
    const due: TriggerMessage[] = [];
    for (const record of event.Records) {
      const message = parseMessageBody(TriggerMessageSchema, record.body);
      if (!message) {
        deps.logger?.warn('Dropping an invalid allocation trigger', { messageId: record.messageId });
        deps.metrics?.increment('allocator/invalid_triggers');
      } else if (message.not_before !== undefined && message.not_before > now + EARLY_MS) {
        await deps.triggers.resend(message);
      } else {
        due.push(message);
      }
    }
    const request = coalesce(due);
    if (request) {
      const report = await runAllocationPass(deps, {
        ...(request.agentIds ? { agentIds: request.agentIds } : {}),
        ...(request.requestedAt !== undefined ? { requestedAt: request.requestedAt } : {}),
      });
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
export function allocationHandlerFromEnvironment(env: NodeJS.ProcessEnv = process.env) {
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
    logger: new Logger({ serviceName: 'allocator' }),
  });
}
