/**
 * Mantle Jobs' DynamoDB store (the table in `tables.ts`): jobs, their attempts, the edges to their dependents,
 * and the framework's own state. Every change of a job is a write conditional on the `version` read, so two
 * handlers (a redelivered event, the timer, a cancel) never both act on one state; an attempt is recorded in
 * the same transaction as the job's move to RUNNING, before the ACCEPT that launches it.
 *
 * Index attributes are derived from the job on every write (`indexAttributes`), so an item is always in the
 * indexes its state puts it in, and nowhere else.
 */
import { TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import {
  GetCommand,
  PutCommand,
  QueryCommand,
  TransactWriteCommand,
  type DynamoDBDocumentClient,
  type QueryCommandInput,
} from '@aws-sdk/lib-dynamodb';
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { Metrics } from '#shared/metrics.js';
import { FrameworkState, type FrameworkSubscription } from '../common/framework-state.js';
import type { Job, JobState } from './model.js';
import {
  attemptFromItem,
  attemptItem,
  attemptKey,
  condition,
  jobItem,
  jobKey,
  pendingOrder,
  storedFromItem,
  type AttemptRecord,
  type Item,
  type StoredJob,
  type WaitKind,
} from './items.js';

export type { FrameworkSubscription } from '../common/framework-state.js';
export {
  decodeCursor,
  encodeCursor,
  indexAttributes,
  isPlaceable,
  listOrder,
  pendingOrder,
  type AttemptRecord,
  type StoredJob,
  type Wait,
  type WaitKind,
} from './items.js';
import type { Offer as PlacementOffer } from './placement.js';
import { JOBS_INDEX } from './tables.js';

/** An offer a gang holds for a short while (offers.ts), with when it was first held. */
export interface HeldOffer {
  readonly offer: PlacementOffer;
  readonly since: number;
}

/** One write of a transaction: a job (conditional on `expected`: its version, or absent) or an attempt. */
export type JobWrite =
  | { readonly kind: 'job'; readonly stored: StoredJob; readonly expected: number | 'absent' }
  | { readonly kind: 'attempt'; readonly record: AttemptRecord; readonly expected: number | 'absent' };

export interface JobsStoreOptions {
  readonly documents: DynamoDBDocumentClient;
  readonly table: string;
  readonly metrics?: Metrics;
}

export interface ListPartition {
  readonly index: string;
  readonly key: string;
  readonly value: string;
}

export class JobsStore {
  readonly metrics: Metrics;
  private readonly documents: DynamoDBDocumentClient;
  readonly table: string;
  readonly state: FrameworkState;

  constructor(options: JobsStoreOptions) {
    this.documents = options.documents;
    this.table = options.table;
    this.metrics = options.metrics ?? new Metrics();
    this.state = new FrameworkState(this.documents, this.table, this.metrics, 'jobs');
  }

  /** A job, consistently read; with its attempts (oldest first) when asked. */
  async get(id: string, options: { attempts?: boolean } = {}): Promise<StoredJob | undefined> {
    if (id === '' || Buffer.byteLength(id) > 1000) return undefined;
    const result = await this.documents.send(
      new GetCommand({ TableName: this.table, Key: jobKey(id), ConsistentRead: true }),
    );
    if (!result.Item) return undefined;
    if (!options.attempts) return storedFromItem(result.Item);
    const attempts = await this.attempts(id);
    return storedFromItem(
      result.Item,
      attempts.flatMap((record) => record.tasks),
    );
  }

  /** A job's attempt items, oldest first. */
  async attempts(id: string): Promise<AttemptRecord[]> {
    const items = await this.queryAll({
      KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
      ExpressionAttributeValues: { ':pk': `job#${id}`, ':prefix': 'attempt#' },
      ConsistentRead: true,
    });
    return items.map(attemptFromItem);
  }

  async attempt(id: string, n: number): Promise<AttemptRecord | undefined> {
    const result = await this.documents.send(
      new GetCommand({ TableName: this.table, Key: attemptKey(id, n), ConsistentRead: true }),
    );
    return result.Item ? attemptFromItem(result.Item) : undefined;
  }

  /**
   * Writes these items all or none (a DynamoDB transaction, at most 100): false when a condition failed — some
   * other handler changed one of them first — and nothing was written.
   */
  async transact(writes: readonly JobWrite[]): Promise<boolean> {
    const items = writes.map((write) => ({
      Put: {
        TableName: this.table,
        Item: write.kind === 'job' ? jobItem(write.stored) : attemptItem(write.record),
        ...condition(write.expected),
      },
    }));
    try {
      await this.metrics.time('jobs/store_write_ms', async () => {
        if (items.length === 1) await this.documents.send(new PutCommand(items[0]?.Put as never));
        else await this.documents.send(new TransactWriteCommand({ TransactItems: items }));
      });
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return this.conflict();
      if (error instanceof TransactionCanceledException) {
        const reasons = error.CancellationReasons ?? [];
        if (reasons.some((reason) => reason.Code === 'ConditionalCheckFailed')) return this.conflict();
      }
      throw error;
    }
  }

  private conflict(): false {
    return this.state.conflict();
  }

  /** A job changed from the version read (`expected`); false when another write came first. */
  put(stored: StoredJob, expected: number | 'absent'): Promise<boolean> {
    return this.transact([{ kind: 'job', stored, expected }]);
  }

  /** New jobs nobody else can know yet (fresh ids), 25 to a request. */
  async createFresh(jobs: readonly StoredJob[]): Promise<void> {
    await this.batch(jobs.map((stored) => ({ PutRequest: { Item: jobItem(stored) } })));
  }

  /** Records that `dependent` waits for each of `dependencies` (edges kept beside each dependency). */
  async addDependents(dependent: string, dependencies: readonly string[]): Promise<void> {
    await this.batch(
      dependencies.map((id) => ({ PutRequest: { Item: { pk: `job#${id}`, sk: `dependent#${dependent}` } } })),
    );
  }

  /** The jobs waiting for `id`. */
  async dependents(id: string): Promise<string[]> {
    const items = await this.queryAll({
      KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
      ExpressionAttributeValues: { ':pk': `job#${id}`, ':prefix': 'dependent#' },
      ConsistentRead: true,
    });
    return items.map((item) => (item.sk as string).slice('dependent#'.length));
  }

  /** Up to `limit` placeable jobs of a queue, in placement order. */
  async pending(queue: string, limit: number): Promise<StoredJob[]> {
    const items = await this.queryPage({
      IndexName: JOBS_INDEX.pending,
      KeyConditionExpression: 'pending_queue = :queue',
      ExpressionAttributeValues: { ':queue': queue },
      Limit: limit,
    });
    return items.items.map((item) => storedFromItem(item));
  }

  /**
   * Where each of `jobs` stands in its queue: how many placeable jobs come before it in placement order, of
   * higher priority and of its priority submitted earlier. One pass over each queue's pending index, reading
   * back only the order keys.
   */
  async places(jobs: readonly Job[]): Promise<Map<string, { higher: number; earlier: number }>> {
    const places = new Map<string, { higher: number; earlier: number }>();
    const queues = [...new Set(jobs.map((job) => job.queue))];
    const orders = await Promise.all(
      queues.map(async (queue) => {
        const items = await this.queryAll({
          IndexName: JOBS_INDEX.pending,
          KeyConditionExpression: 'pending_queue = :queue',
          ExpressionAttributeValues: { ':queue': queue },
          ProjectionExpression: 'pending_order',
        });
        return [queue, items.map((item) => item.pending_order as string)] as const;
      }),
    );
    const byQueue = new Map(orders);
    for (const job of jobs) {
      const keys = byQueue.get(job.queue) ?? [];
      const own = pendingOrder(job);
      const priority = own.slice(0, own.indexOf('#') + 1);
      const higher = keys.filter((key) => key < priority).length;
      places.set(job.id, { higher, earlier: keys.filter((key) => key < own).length - higher });
    }
    return places;
  }

  /** Up to `limit` jobs waiting for `kind` whose time has come (`until` ≤ now), earliest first. */
  async waiting(kind: WaitKind, now: number, limit: number): Promise<StoredJob[]> {
    const items = await this.queryPage({
      IndexName: JOBS_INDEX.waits,
      KeyConditionExpression: '#wait = :kind AND wait_until <= :now',
      ExpressionAttributeNames: { '#wait': 'wait' },
      ExpressionAttributeValues: { ':kind': kind, ':now': new Date(now).toISOString() },
      Limit: limit,
    });
    return items.items.map((item) => storedFromItem(item));
  }

  /** A parent's children, by index (array) or tick (runs), after `after` (an order key). */
  async children(parent: string, limit: number, after?: string): Promise<{ jobs: StoredJob[]; more: boolean }> {
    const page = await this.queryPage({
      IndexName: JOBS_INDEX.children,
      KeyConditionExpression: after === undefined ? '#parent = :parent' : '#parent = :parent AND #order > :after',
      ExpressionAttributeNames: { '#parent': 'parent', ...(after === undefined ? {} : { '#order': 'order' }) },
      ExpressionAttributeValues: { ':parent': parent, ...(after === undefined ? {} : { ':after': after }) },
      Limit: limit,
    });
    return { jobs: page.items.map((item) => storedFromItem(item)), more: page.more };
  }

  /** Up to `limit` top-level jobs of a listing partition, newest first, before `before` (an order key). */
  async listPartition(
    partition: ListPartition,
    limit: number,
    before?: string,
  ): Promise<{ jobs: StoredJob[]; more: boolean }> {
    const page = await this.queryPage({
      IndexName: partition.index,
      KeyConditionExpression: before === undefined ? '#key = :value' : '#key = :value AND #order < :before',
      ExpressionAttributeNames: { '#key': partition.key, ...(before === undefined ? {} : { '#order': 'order' }) },
      ExpressionAttributeValues: { ':value': partition.value, ...(before === undefined ? {} : { ':before': before }) },
      ScanIndexForward: false,
      Limit: limit,
    });
    return { jobs: page.items.map((item) => storedFromItem(item)), more: page.more };
  }

  /** How many top-level jobs of a queue are in a state (a count query: no items read back). */
  async count(queue: string, state: JobState): Promise<number> {
    let total = 0;
    let start: Record<string, unknown> | undefined;
    do {
      const page = await this.documents.send(
        new QueryCommand({
          TableName: this.table,
          IndexName: JOBS_INDEX.byQueueState,
          KeyConditionExpression: 'list_queue_state = :value',
          ExpressionAttributeValues: { ':value': `${queue}#${state}` },
          Select: 'COUNT',
          ...(start ? { ExclusiveStartKey: start } : {}),
        }),
      );
      total += page.Count ?? 0;
      start = page.LastEvaluatedKey;
    } while (start);
    return total;
  }

  subscription(): Promise<FrameworkSubscription | undefined> {
    return this.state.subscription();
  }

  /** Writes the subscription conditional on the version read (`absent` for the first); false if it moved. */
  putSubscription(subscription: Omit<FrameworkSubscription, 'version'>, expected: number | 'absent'): Promise<boolean> {
    return this.state.putSubscription(subscription, expected);
  }

  /** Marks a queue as in use (the framework's roles); true the first time. */
  async markQueue(queue: string): Promise<boolean> {
    try {
      await this.documents.send(
        new PutCommand({
          TableName: this.table,
          Item: { pk: 'framework', sk: `queue#${queue}`, queue },
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      );
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  }

  /** The offers held for gangs. */
  async held(): Promise<HeldOffer[]> {
    const items = await this.queryAll({
      KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
      ExpressionAttributeValues: { ':pk': 'framework', ':prefix': 'held#' },
      ConsistentRead: true,
    });
    return items.map((item) => ({ offer: item.offer as PlacementOffer, since: item.since as number }));
  }

  async hold(offers: readonly HeldOffer[]): Promise<void> {
    await this.batch(
      offers.map((held) => ({
        PutRequest: { Item: { pk: 'framework', sk: `held#${held.offer.id}`, offer: held.offer, since: held.since } },
      })),
    );
  }

  async releaseHeld(offerIds: readonly string[]): Promise<void> {
    await this.batch(offerIds.map((id) => ({ DeleteRequest: { Key: { pk: 'framework', sk: `held#${id}` } } })));
  }

  private batch(requests: readonly Item[]): Promise<void> {
    return this.state.batch(requests);
  }

  /** The queues jobs were submitted to. */
  async queues(): Promise<string[]> {
    const items = await this.queryAll({
      KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
      ExpressionAttributeValues: { ':pk': 'framework', ':prefix': 'queue#' },
      ConsistentRead: true,
    });
    return items.map((item) => item.queue as string).sort();
  }

  private async queryPage(input: Omit<QueryCommandInput, 'TableName'>): Promise<{ items: Item[]; more: boolean }> {
    const result = await this.metrics.time('jobs/store_read_ms', () =>
      this.documents.send(new QueryCommand({ ...input, TableName: this.table })),
    );
    return { items: result.Items ?? [], more: result.LastEvaluatedKey !== undefined };
  }

  private queryAll(input: Omit<QueryCommandInput, 'TableName' | 'ExclusiveStartKey'>): Promise<Item[]> {
    return this.state.queryAll(input);
  }
}
