/**
 * Fault injection for what DynamoDB Local never does (docs/local-cluster.md): throttling, transaction
 * conflicts, responses lost after the write was applied, and a request held up (a handler stalled in
 * the middle of its writes). Installed as SDK middleware.
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { statementTable } from '../../bench/support/partiql.js';

export type Fault =
  /** Fail before sending, as throttling or a conflict does: the request is not applied. */
  | {
      readonly kind: 'reject';
      readonly name: 'ThrottlingException' | 'TransactionConflictException' | 'ProvisionedThroughputExceededException';
    }
  /** Send, let DynamoDB apply it, then lose the response (a cut connection): the SDK retries. */
  | { readonly kind: 'lose-response' }
  /** Send only once `until` resolves, as a handler stalled mid-request would (a hit for each request held). */
  | { readonly kind: 'hold'; readonly until: Promise<void> };

export interface FaultPlan {
  /** Which commands to hit, by name (e.g. 'UpdateItemCommand'). */
  readonly commands: readonly string[];
  /**
   * Only requests to this table (e.g. the master's `registrar.context.tables.tasks`), a BatchExecuteStatement's
   * when one of its statements names it; any table if absent.
   */
  readonly table?: string;
  /** How many of those calls to hit, from the first (after `skip`). */
  readonly times: number;
  /** How many of those calls to let through before the first hit (none if absent). */
  readonly skip?: number;
  readonly fault: Fault;
}

/** Whether a request's input is for `table`: its TableName, or a statement that names the table. */
function names(input: unknown, table: string): boolean {
  const request = input as { TableName?: string; Statements?: ReadonlyArray<{ Statement?: string }> };
  if (request.TableName !== undefined) return request.TableName === table;
  return (request.Statements ?? []).some((statement) => statementTable(statement.Statement ?? '') === table);
}

export function injectFaults(client: DynamoDBClient, plan: FaultPlan): { readonly hits: () => number; remove(): void } {
  let hits = 0;
  let skipped = 0;
  const name = `mantle-fault-${Math.random().toString(36).slice(2)}`;
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const named = plan.table === undefined || names(args.input, plan.table);
      if (!plan.commands.includes(context.commandName ?? '') || !named || hits >= plan.times) return next(args);
      if (skipped < (plan.skip ?? 0)) {
        skipped++;
        return next(args);
      }
      hits++;
      if (plan.fault.kind === 'hold') {
        await plan.fault.until;
        return next(args);
      }
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

/**
 * Makes DynamoDB leave part of the next `times` batch requests unprocessed, as it does under throttling:
 * only the first half of the request's keys (or writes) is sent, the rest (a single one: all of it) comes
 * back as UnprocessedKeys / UnprocessedItems for the caller to retry.
 */
export function leaveUnprocessed(
  client: DynamoDBClient,
  times: number,
): { readonly hits: () => number; remove(): void } {
  let hits = 0;
  const name = `mantle-unprocessed-${Math.random().toString(36).slice(2)}`;
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const command = context.commandName ?? '';
      if ((command !== 'BatchGetItemCommand' && command !== 'BatchWriteItemCommand') || hits >= times) {
        return next(args);
      }
      const input = args.input as { RequestItems: Record<string, { Keys?: unknown[] } | unknown[]> };
      const [table, request] = Object.entries(input.RequestItems)[0] as [string, { Keys?: unknown[] } | unknown[]];
      const entries = Array.isArray(request) ? request : (request.Keys ?? []);
      if (entries.length === 0) return next(args);
      hits++;
      const field = Array.isArray(request) ? 'UnprocessedItems' : 'UnprocessedKeys';
      // A single entry is left whole: DynamoDB answers with nothing done.
      if (entries.length === 1) {
        return { response: {}, output: { $metadata: {}, Responses: {}, [field]: { [table]: request } } } as never;
      }
      const half = Math.ceil(entries.length / 2);
      const sent = Array.isArray(request) ? entries.slice(0, half) : { ...request, Keys: entries.slice(0, half) };
      const rest = Array.isArray(request) ? entries.slice(half) : { ...request, Keys: entries.slice(half) };
      const result = await next({ ...args, input: { ...input, RequestItems: { [table]: sent } } });
      Object.assign(result.output as object, { [field]: { [table]: rest } });
      return result;
    },
    { step: 'initialize', name },
  );
  return { hits: () => hits, remove: () => client.middlewareStack.remove(name) };
}
