/**
 * What every registrar store shares: the DynamoDB document client, table names, clock, metrics, and the
 * helpers that turn DynamoDB's conditional-write failures into values.
 */
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import {
  BatchExecuteStatementCommand,
  BatchGetCommand,
  BatchWriteCommand,
  GetCommand,
  PutCommand,
  QueryCommand,
  ScanCommand,
  UpdateCommand,
  type QueryCommandInput,
  type DynamoDBDocumentClient,
  type PutCommandInput,
  type UpdateCommandInput,
} from '@aws-sdk/lib-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { Metrics } from '#shared/metrics.js';
import type { Item, WriteOutcome } from './expression.js';
import type { TableNames } from './tables.js';

/** DynamoDB's limits on one BatchGetItem and one BatchWriteItem request. */
export const BATCH_GET_LIMIT = 100;
export const BATCH_WRITE_LIMIT = 25;
/** DynamoDB's limit on the statements of one BatchExecuteStatement request. */
export const BATCH_STATEMENT_LIMIT = 25;
/** BatchWriteItem requests one batchWrite keeps in flight. */
const BATCH_WRITES_IN_FLIGHT = 8;
/** Rounds of retrying what DynamoDB left unprocessed (throttling) before giving up. */
const UNPROCESSED_ROUNDS = 8;

/** One conditional PartiQL write of a batch, on the item with `key` in `table`. */
export interface BatchStatement {
  readonly table: string;
  readonly key: Item;
  readonly statement: string;
  readonly parameters: readonly unknown[];
}

/**
 * What became of one statement of a batch: written; its condition failed (`old`: the item as it was, absent
 * when there is none); or it failed otherwise (`error`: DynamoDB's code, e.g. a throttled or too large write).
 */
export type StatementOutcome =
  | { readonly written: true }
  | { readonly written: false; readonly old?: Item }
  | { readonly written: false; readonly error: string };

/** One write of a batch: a put of `item` (whose key is `key`), or a delete of `key`. */
export interface BatchWrite {
  readonly key: Item;
  readonly item?: Item;
}

export interface RegistrarOptions {
  readonly documents: DynamoDBDocumentClient;
  readonly tables: TableNames;
  /** Prefix of the ids this cluster assigns (Mesos's master id). */
  readonly clusterId: string;
  readonly metrics?: Metrics;
  /** Milliseconds since the epoch; injectable so that tests control time. */
  readonly now?: () => number;
  /**
   * Keep the task rows this process's status updates write, for the ACKNOWLEDGEs of those updates (recent-tasks.ts):
   * only where one process runs both the status handler and the scheduler API (the local cluster), as elsewhere
   * nothing would read them.
   */
  readonly recentTasks?: boolean;
}

export class RegistrarContext {
  readonly documents: DynamoDBDocumentClient;
  readonly tables: TableNames;
  readonly clusterId: string;
  readonly metrics: Metrics;
  readonly now: () => number;
  /** Told of every conditional write this process made (its table, and its key or item), written or not. */
  private readonly writeListeners: Array<(table: string, key: Item) => void> = [];

  constructor(options: RegistrarOptions) {
    this.documents = options.documents;
    this.tables = options.tables;
    this.clusterId = options.clusterId;
    this.metrics = options.metrics ?? new Metrics();
    this.now = options.now ?? Date.now;
  }

  /** Calls `listener` after each conditional write (update, put) this context makes, whatever its outcome. */
  onWrite(listener: (table: string, key: Item) => void): void {
    this.writeListeners.push(listener);
  }

  private writing(table: string | undefined, key: Item | undefined): void {
    if (table === undefined || key === undefined) return;
    for (const listener of this.writeListeners) listener(table, key);
  }

  /**
   * A strongly consistent read: the registrar decides on current state, never on a stale copy. `consistent: false`
   * (half the read units) is for a caller that checks what it read is recent enough and reads again if not.
   */
  async get(table: string, key: Item, attributes?: readonly string[], consistent = true): Promise<Item | undefined> {
    // DynamoDB refuses empty key strings; no item can have one.
    if (hasEmptyKey(key)) return undefined;
    const projection = attributes ? projectionOf(attributes) : {};
    const result = await this.metrics.time('registrar/state_fetch_ms', () =>
      withConflictRetries(() =>
        this.documents.send(new GetCommand({ TableName: table, Key: key, ConsistentRead: consistent, ...projection })),
      ),
    );
    return result.Item;
  }

  /**
   * The items with these keys (those that exist, in no particular order), however many keys: DynamoDB
   * refuses a request naming a key twice or more than 100 keys, so keys are deduplicated and sent 100
   * at a time, and what DynamoDB leaves unprocessed is asked again with backoff.
   */
  async batchGet(
    table: string,
    keys: readonly Item[],
    options: { attributes?: readonly string[]; consistent?: boolean } = {},
  ): Promise<Item[]> {
    const unique = uniqueByKey(keys.filter((key) => !hasEmptyKey(key)).map((key) => ({ key })));
    const projection = options.attributes ? projectionOf(options.attributes) : {};
    const found: Item[] = [];
    for (let start = 0; start < unique.length; start += BATCH_GET_LIMIT) {
      let pending: Item[] = unique.slice(start, start + BATCH_GET_LIMIT).map((entry) => entry.key);
      await untilProcessed(`${pending.length} reads of ${table}`, async () => {
        const result = await this.metrics.time('registrar/state_fetch_ms', () =>
          this.documents.send(
            new BatchGetCommand({
              RequestItems: {
                [table]: { Keys: pending, ...projection, ...(options.consistent ? { ConsistentRead: true } : {}) },
              },
            }),
          ),
        );
        found.push(...(result.Responses?.[table] ?? []));
        pending = (result.UnprocessedKeys?.[table]?.Keys ?? []) as Item[];
        return pending.length;
      });
    }
    return found;
  }

  /**
   * Unconditional puts and deletes, however many: a key written twice keeps its last write (DynamoDB
   * refuses a request naming a key twice), 25 a request and BATCH_WRITES_IN_FLIGHT requests at once (no
   * key is in two), unprocessed writes retried with backoff.
   */
  async batchWrite(table: string, writes: readonly BatchWrite[]): Promise<void> {
    const unique = uniqueByKey(writes).filter((write) => !hasEmptyKey(write.key));
    const starts = Array.from(
      { length: Math.ceil(unique.length / BATCH_WRITE_LIMIT) },
      (_, i) => i * BATCH_WRITE_LIMIT,
    );
    let next = 0;
    let failed = false;
    const worker = async (): Promise<void> => {
      for (let start = starts[next++]; start !== undefined && !failed; start = starts[next++]) {
        await this.writeBatch(table, unique.slice(start, start + BATCH_WRITE_LIMIT)).catch((error: unknown) => {
          failed = true;
          throw error;
        });
      }
    };
    // Every request ends before the failure is reported: none is left running behind the caller.
    const ended = await Promise.allSettled(
      Array.from({ length: Math.min(BATCH_WRITES_IN_FLIGHT, starts.length) }, worker),
    );
    const failure = ended.find((result) => result.status === 'rejected');
    if (failure) throw failure.reason;
  }

  /** One BatchWriteItem of at most BATCH_WRITE_LIMIT writes, what DynamoDB leaves unprocessed sent again. */
  private async writeBatch(table: string, writes: readonly BatchWrite[]): Promise<void> {
    let pending: Record<string, unknown>[] = writes.map((write) =>
      write.item ? { PutRequest: { Item: write.item } } : { DeleteRequest: { Key: write.key } },
    );
    await untilProcessed(`${pending.length} writes to ${table}`, async () => {
      const result = await this.metrics.time('registrar/state_store_ms', () =>
        this.documents.send(new BatchWriteCommand({ RequestItems: { [table]: pending as never } })),
      );
      pending = (result.UnprocessedItems?.[table] ?? []) as Record<string, unknown>[];
      return pending.length;
    });
  }

  /**
   * All items of a table (only `attributes` when given), consistently read, page by page; or, with
   * `part`, those of one segment of a parallel scan (`scanInParallel`).
   */
  async *scan(
    table: string,
    attributes?: readonly string[],
    part?: { readonly segment: number; readonly segments: number },
  ): AsyncGenerator<Item> {
    const projection = attributes ? projectionOf(attributes) : {};
    let start: Record<string, unknown> | undefined;
    do {
      const page = await this.metrics.time('registrar/state_fetch_ms', () =>
        this.documents.send(
          new ScanCommand({
            TableName: table,
            ConsistentRead: true,
            ...projection,
            ...(part && part.segments > 1 ? { Segment: part.segment, TotalSegments: part.segments } : {}),
            ...(start ? { ExclusiveStartKey: start } : {}),
          }),
        ),
      );
      for (const item of page.Items ?? []) yield item;
      start = page.LastEvaluatedKey;
    } while (start);
  }

  /**
   * All items of a table, read by `segments` scans at once (DynamoDB's parallel scan: each reads its
   * share of the partitions), for a large table read whole; one segment is a plain scan.
   */
  async scanInParallel(table: string, segments: number): Promise<Item[]> {
    const count = Math.max(1, Math.floor(segments));
    const parts = await Promise.all(
      Array.from({ length: count }, async (_, segment) => {
        const items: Item[] = [];
        for await (const item of this.scan(table, undefined, { segment, segments: count })) items.push(item);
        return items;
      }),
    );
    return parts.flat();
  }

  /**
   * One page of a consistent Scan (or, with `query`, a Query): at most `limit` items from after
   * `start`, and the key to continue from (absent at the end).
   */
  async onePage(
    table: string,
    options: {
      /** At most this many items (DynamoDB's 1 MB page when absent). */
      readonly limit?: number;
      readonly start?: Record<string, unknown>;
      readonly attributes?: readonly string[];
      readonly query?: Pick<QueryCommandInput, 'KeyConditionExpression' | 'ExpressionAttributeValues'>;
    },
  ): Promise<{ items: Item[]; next?: Record<string, unknown> }> {
    const input = {
      TableName: table,
      ConsistentRead: true,
      ...(options.limit !== undefined ? { Limit: options.limit } : {}),
      ...(options.attributes ? projectionOf(options.attributes) : {}),
      ...(options.start ? { ExclusiveStartKey: options.start } : {}),
    };
    const page = await this.metrics.time('registrar/state_fetch_ms', () =>
      this.documents.send(options.query ? new QueryCommand({ ...input, ...options.query }) : new ScanCommand(input)),
    );
    return { items: page.Items ?? [], ...(page.LastEvaluatedKey ? { next: page.LastEvaluatedKey } : {}) };
  }

  /** A consistent query, page by page (`input` without the table, the consistency or the paging). */
  async *query(
    table: string,
    input: Omit<QueryCommandInput, 'TableName' | 'ConsistentRead' | 'ExclusiveStartKey'>,
  ): AsyncGenerator<Item> {
    // A key condition on a value no key can have (see hasEmptyKey) matches nothing.
    if (hasEmptyKey(input.ExpressionAttributeValues ?? {})) return;
    let start: Record<string, unknown> | undefined;
    do {
      const page = await this.metrics.time('registrar/state_fetch_ms', () =>
        this.documents.send(
          new QueryCommand({
            ...input,
            TableName: table,
            ConsistentRead: true,
            ...(start ? { ExclusiveStartKey: start } : {}),
          }),
        ),
      );
      for (const item of page.Items ?? []) yield item;
      start = page.LastEvaluatedKey;
    } while (start);
  }

  /**
   * A conditional UpdateItem. On success `item` is what `returnValues` asks for (the new image by
   * default); when the condition failed, `old` is the item as it was.
   */
  async update(
    input: UpdateCommandInput,
    returnValues: 'ALL_NEW' | 'ALL_OLD' | 'UPDATED_OLD' | 'NONE' = 'ALL_NEW',
  ): Promise<WriteOutcome> {
    if (hasEmptyKey(input.Key ?? {})) return { written: false };
    try {
      const result = await this.metrics.time('registrar/state_store_ms', () =>
        withConflictRetries(() =>
          this.documents.send(
            new UpdateCommand({ ...input, ReturnValues: returnValues, ReturnValuesOnConditionCheckFailure: 'ALL_OLD' }),
          ),
        ),
      );
      return { written: true, item: result.Attributes ?? {} };
    } catch (error) {
      return this.conditionFailed(error);
    } finally {
      this.writing(input.TableName, input.Key);
    }
  }

  /**
   * At most BATCH_STATEMENT_LIMIT conditional writes, each on its own item, in ONE request
   * (BatchExecuteStatement): each is decided alone, as a single write would be, and costs what it would.
   */
  async executeBatch(statements: readonly BatchStatement[]): Promise<StatementOutcome[]> {
    if (statements.length === 0) return [];
    if (statements.length > BATCH_STATEMENT_LIMIT) throw new Error(`At most ${BATCH_STATEMENT_LIMIT} statements`);
    try {
      const result = await this.metrics.time('registrar/state_store_ms', () =>
        this.documents.send(
          new BatchExecuteStatementCommand({
            Statements: statements.map((entry) => ({
              Statement: entry.statement,
              Parameters: [...entry.parameters],
              ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
            })),
          }),
        ),
      );
      return statements.map((_, i): StatementOutcome => {
        const error = result.Responses?.[i]?.Error;
        if (!error) return { written: true };
        if (error.Code !== 'ConditionalCheckFailed') return { written: false, error: error.Code ?? 'UNKNOWN' };
        this.metrics.increment('registrar/conditional_check_failures');
        return error.Item ? { written: false, old: error.Item } : { written: false };
      });
    } finally {
      for (const entry of statements) this.writing(entry.table, entry.key);
    }
  }

  /** A conditional PutItem; the old item when the condition failed. */
  async put(input: PutCommandInput): Promise<WriteOutcome> {
    try {
      await this.metrics.time('registrar/state_store_ms', () =>
        withConflictRetries(() =>
          this.documents.send(new PutCommand({ ...input, ReturnValuesOnConditionCheckFailure: 'ALL_OLD' })),
        ),
      );
      return { written: true, item: input.Item ?? {} };
    } catch (error) {
      return this.conditionFailed(error);
    } finally {
      this.writing(input.TableName, input.Item);
    }
  }

  private conditionFailed(error: unknown): WriteOutcome {
    if (!(error instanceof ConditionalCheckFailedException)) throw error;
    this.metrics.increment('registrar/conditional_check_failures');
    return error.Item ? { written: false, old: unmarshall(error.Item) } : { written: false };
  }
}

/** The entries with distinct keys, the last of each key kept (in the place of its first). */
function uniqueByKey<T extends { readonly key: Item }>(entries: readonly T[]): T[] {
  const byKey = new Map<string, T>();
  for (const entry of entries) {
    const id = JSON.stringify(Object.entries(entry.key).sort(([a], [b]) => (a < b ? -1 : 1)));
    byKey.set(id, entry);
  }
  return [...byKey.values()];
}

/** Runs `round` (which returns how much is still unprocessed) until nothing is, backing off between rounds. */
async function untilProcessed(what: string, round: () => Promise<number>): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    const left = await round();
    if (left === 0) return;
    if (attempt + 1 >= UNPROCESSED_ROUNDS) throw new Error(`DynamoDB left ${left} of ${what} unprocessed`);
    await new Promise((resolve) => setTimeout(resolve, Math.min(1000, 20 * 2 ** attempt) * (0.5 + Math.random())));
  }
}

/** DynamoDB's least limit on a key attribute (a sort key's; a partition key may have 2048 bytes). */
const MAX_KEY_BYTES = 1024;

/**
 * A key no item can have: empty, or longer than DynamoDB allows (it would refuse the request). Such
 * keys come only from callers naming ids that cannot exist, so they read as "no such item".
 */
function hasEmptyKey(key: Item): boolean {
  return Object.values(key).some(
    (value) => value === '' || (typeof value === 'string' && Buffer.byteLength(value) > MAX_KEY_BYTES),
  );
}

function projectionOf(attributes: readonly string[]) {
  return {
    ProjectionExpression: attributes.map((_, i) => `#p${i}`).join(', '),
    ExpressionAttributeNames: Object.fromEntries(attributes.map((name, i) => [`#p${i}`, name])),
  };
}

/**
 * A single-item write can meet TransactionConflictException while the item takes part in a running
 * TransactWriteItems. The SDK does not retry it (it is not a throttling error); it is transient, so
 * the registrar does, a few times with jitter, before letting it surface.
 */
async function withConflictRetries<T>(send: () => Promise<T>, attempts = 5): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await send();
    } catch (error) {
      if ((error as Error).name !== 'TransactionConflictException' || attempt >= attempts) throw error;
      await new Promise((resolve) => setTimeout(resolve, Math.random() * 25 * attempt));
    }
  }
}

export const RETRY: unique symbol = Symbol('retry');

/** Bounded retries for read-modify-write loops that lose a race; jittered so racers spread out. */
export async function retrying<T>(
  attempts: number,
  work: (attempt: number) => Promise<T | typeof RETRY>,
): Promise<T | typeof RETRY> {
  for (let attempt = 0; attempt < attempts; attempt++) {
    const result = await work(attempt);
    if (result !== RETRY) return result;
    await new Promise((resolve) => setTimeout(resolve, Math.random() * Math.min(50, 2 ** attempt)));
  }
  return RETRY;
}
