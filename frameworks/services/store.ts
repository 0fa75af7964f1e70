/**
 * Mantle Services' DynamoDB store (the table in `tables.ts`). Every change of an app is a write conditional
 * on the `revision` read, in the same transaction as the task items it records or removes, so two handlers
 * (a redelivered update, the timer, a client's PUT) never both act on one state: a task is recorded before the
 * ACCEPT that launches it, and the app's count can never pass what its plan allowed.
 */
import { ConditionalCheckFailedException, TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import {
  GetCommand,
  QueryCommand,
  TransactWriteCommand,
  type DynamoDBDocumentClient,
  type QueryCommandInput,
} from '@aws-sdk/lib-dynamodb';
import { randomUUID } from 'node:crypto';
import { Metrics } from '#shared/metrics.js';
import { FrameworkState, type FrameworkSubscription, type Item } from '../common/framework-state.js';
import type { AppRecord, TaskRecord } from './plan.js';
import { SERVICES_INDEX } from './tables.js';

export type { FrameworkSubscription };

/** One write of a transaction. */
export type ServicesWrite =
  | { readonly kind: 'app'; readonly record: AppRecord; readonly expected: number | 'absent' }
  | { readonly kind: 'delete-app'; readonly id: string; readonly expected: number }
  | { readonly kind: 'task'; readonly task: TaskRecord; readonly expected: 'absent' | 'any' }
  | { readonly kind: 'delete-task'; readonly appId: string; readonly taskId: string };

/** An event of the bus (`/v2/events`): Marathon's event JSON, with its `eventType`. */
export interface BusEvent {
  readonly eventType: string;
  readonly timestamp: string;
  readonly [field: string]: unknown;
}

/** An event as the bus keeps it: with the role of its app. */
export interface PublishedEvent {
  readonly event: BusEvent;
  readonly role: string;
}

const appKey = (id: string) => ({ pk: `app#${id}`, sk: 'app' });
const taskKey = (appId: string, taskId: string) => ({ pk: `app#${appId}`, sk: `task#${taskId}` });
/** How long the bus keeps an event. */
const BUS_SECONDS = 3600;

function appItem(record: AppRecord): Item {
  return {
    ...appKey(record.app.id),
    version: record.revision,
    record: JSON.parse(JSON.stringify(record)) as Item,
    list_all: 'app',
    app_id: record.app.id,
  };
}

function revisionCondition(expected: number | 'absent') {
  return expected === 'absent'
    ? { ConditionExpression: 'attribute_not_exists(pk)' }
    : {
        ConditionExpression: '#version = :expected',
        ExpressionAttributeNames: { '#version': 'version' },
        ExpressionAttributeValues: { ':expected': expected },
      };
}

function transactItem(table: string, write: ServicesWrite): Item {
  switch (write.kind) {
    case 'app':
      return { Put: { TableName: table, Item: appItem(write.record), ...revisionCondition(write.expected) } };
    case 'delete-app':
      return { Delete: { TableName: table, Key: appKey(write.id), ...revisionCondition(write.expected) } };
    case 'task':
      return {
        Put: {
          TableName: table,
          Item: { ...taskKey(write.task.appId, write.task.id), task: JSON.parse(JSON.stringify(write.task)) as Item },
          ...(write.expected === 'absent' ? { ConditionExpression: 'attribute_not_exists(pk)' } : {}),
        },
      };
    case 'delete-task':
      return { Delete: { TableName: table, Key: taskKey(write.appId, write.taskId) } };
  }
}

export interface ServicesStoreOptions {
  readonly documents: DynamoDBDocumentClient;
  readonly table: string;
  readonly metrics?: Metrics;
}

export class ServicesStore {
  readonly metrics: Metrics;
  readonly table: string;
  readonly state: FrameworkState;
  private readonly documents: DynamoDBDocumentClient;

  constructor(options: ServicesStoreOptions) {
    this.documents = options.documents;
    this.table = options.table;
    this.metrics = options.metrics ?? new Metrics();
    this.state = new FrameworkState(this.documents, this.table, this.metrics, 'services');
  }

  async app(id: string): Promise<AppRecord | undefined> {
    if (id === '' || Buffer.byteLength(id) > 1000) return undefined;
    const result = await this.documents.send(
      new GetCommand({ TableName: this.table, Key: appKey(id), ConsistentRead: true }),
    );
    return result.Item ? (result.Item.record as AppRecord) : undefined;
  }

  /** Every app, by id (the index is eventually consistent: a moment-old list). */
  async apps(): Promise<AppRecord[]> {
    const items = await this.queryAll({
      IndexName: SERVICES_INDEX.apps,
      KeyConditionExpression: 'list_all = :all',
      ExpressionAttributeValues: { ':all': 'app' },
    });
    return items.map((item) => item.record as AppRecord);
  }

  /** An app's tasks, consistently read. */
  async tasks(appId: string): Promise<TaskRecord[]> {
    const items = await this.queryAll({
      KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
      ExpressionAttributeValues: { ':pk': `app#${appId}`, ':prefix': 'task#' },
      ConsistentRead: true,
    });
    return items.map((item) => item.task as TaskRecord);
  }

  async task(appId: string, taskId: string): Promise<TaskRecord | undefined> {
    const result = await this.documents.send(
      new GetCommand({ TableName: this.table, Key: taskKey(appId, taskId), ConsistentRead: true }),
    );
    return result.Item ? (result.Item.task as TaskRecord) : undefined;
  }

  /** Writes all or none (at most 100): false when a condition failed and nothing was written. */
  async transact(writes: readonly ServicesWrite[]): Promise<boolean> {
    if (writes.length === 0) return true;
    try {
      await this.metrics.time('services/store_write_ms', () =>
        this.documents.send(
          new TransactWriteCommand({ TransactItems: writes.map((w) => transactItem(this.table, w)) as never }),
        ),
      );
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return this.state.conflict();
      if (error instanceof TransactionCanceledException) {
        const reasons = error.CancellationReasons ?? [];
        if (reasons.some((reason) => reason.Code === 'ConditionalCheckFailed')) return this.state.conflict();
      }
      throw error;
    }
  }

  /** Puts an event on the bus, for an hour, with the role of the app it is about (who may see it). */
  async publish(event: BusEvent, now: number, role: string): Promise<void> {
    const expires = Math.floor(now / 1000) + BUS_SECONDS;
    const sk = `${event.timestamp}#${randomUUID()}`;
    await this.state.batch([{ PutRequest: { Item: { pk: 'bus', sk, event, role, expires_at: expires } } }]);
  }

  /** The bus's events after `after` (a key this returned), oldest first, at most `limit`. */
  async events(after: string, limit: number): Promise<{ events: PublishedEvent[]; last: string }> {
    const result = await this.documents.send(
      new QueryCommand({
        TableName: this.table,
        KeyConditionExpression: 'pk = :pk AND sk > :after',
        ExpressionAttributeValues: { ':pk': 'bus', ':after': after },
        ConsistentRead: true,
        Limit: limit,
      }),
    );
    const items = result.Items ?? [];
    return {
      events: items.map((item) => ({ event: item.event as BusEvent, role: item.role as string })),
      last: (items.at(-1)?.sk as string) ?? after,
    };
  }

  private queryAll(input: Omit<QueryCommandInput, 'TableName' | 'ExclusiveStartKey'>): Promise<Item[]> {
    return this.state.queryAll(input);
  }
}
