/**
 * Fault injection for what DynamoDB Local never does (docs/local-cluster.md): throttling, transaction
 * conflicts, and responses lost after the write was applied. Installed as SDK middleware.
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';

export type Fault =
  /** Fail before sending, as throttling or a conflict does: the request is not applied. */
  | {
      readonly kind: 'reject';
      readonly name: 'ThrottlingException' | 'TransactionConflictException' | 'ProvisionedThroughputExceededException';
    }
  /** Send, let DynamoDB apply it, then lose the response (a cut connection): the SDK retries. */
  | { readonly kind: 'lose-response' };

export interface FaultPlan {
  /** Which commands to hit, by name (e.g. 'UpdateItemCommand'). */
  readonly commands: readonly string[];
  /** How many of those calls to hit, from the first. */
  readonly times: number;
  readonly fault: Fault;
}

export function injectFaults(client: DynamoDBClient, plan: FaultPlan): { readonly hits: () => number; remove(): void } {
  let hits = 0;
  const name = `mantle-fault-${Math.random().toString(36).slice(2)}`;
  client.middlewareStack.add(
    (next, context) => async (args) => {
      if (!plan.commands.includes(context.commandName ?? '') || hits >= plan.times) return next(args);
      hits++;
      if (plan.fault.kind === 'reject') {
        throw Object.assign(new Error(`injected ${plan.fault.name}`), {
          name: plan.fault.name,
          $fault: 'client',
          $metadata: { httpStatusCode: 400 },
        });
      }
      await next(args);
      throw Object.assign(new Error('injected: connection reset after the request was applied'), {
        name: 'TimeoutError',
        code: 'ECONNRESET',
        $metadata: {},
      });
    },
    // Inside the retry loop (finalizeRequest), so the SDK's retry strategy sees the fault.
    { step: 'deserialize', name },
  );
  return { hits: () => hits, remove: () => client.middlewareStack.remove(name) };
}
