/**
 * A queue-delivered framework's own state in its table: its subscription (framework id, stream id, the roles
 * it suppressed), written conditionally so two handlers never both subscribe, and the SQS messages it has
 * handled (a message the queue delivers again is skipped). Mantle Jobs and Mantle Services both keep them.
 */
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import {
  BatchWriteCommand,
  GetCommand,
  PutCommand,
  QueryCommand,
  type DynamoDBDocumentClient,
  type QueryCommandInput,
} from '@aws-sdk/lib-dynamodb';
import type { Metrics } from '#shared/metrics.js';

export interface FrameworkSubscription {
  readonly frameworkId: string;
  readonly streamId: string;
  /** Roles the framework told the master to stop offering (SUPPRESS). */
  readonly suppressed: readonly string[];
  readonly version: number;
}

export type Item = Record<string, unknown>;

const SUBSCRIPTION_KEY = { pk: 'framework', sk: 'subscription' };

/** The condition of a write made on the version read, or on the item being absent. */
export function condition(expected: number | 'absent') {
  return expected === 'absent'
    ? { ConditionExpression: 'attribute_not_exists(pk)' }
    : {
        ConditionExpression: '#version = :expected',
        ExpressionAttributeNames: { '#version': 'version' },
        ExpressionAttributeValues: { ':expected': expected },
      };
}

export class FrameworkState {
  constructor(
    private readonly documents: DynamoDBDocumentClient,
    private readonly table: string,
    private readonly metrics: Metrics,
    /** The metrics' prefix: `jobs`, `services`. */
    private readonly prefix: string,
  ) {}

  conflict(): false {
    this.metrics.increment(`${this.prefix}/store_conflicts`);
    return false;
  }

  async subscription(): Promise<FrameworkSubscription | undefined> {
    const result = await this.documents.send(
      new GetCommand({ TableName: this.table, Key: SUBSCRIPTION_KEY, ConsistentRead: true }),
    );
    const item = result.Item;
    if (!item) return undefined;
    return {
      frameworkId: item.framework_id as string,
      streamId: item.stream_id as string,
      suppressed: (item.suppressed ?? []) as string[],
      version: item.version as number,
    };
  }

  /** Writes the subscription conditional on the version read (`absent` for the first); false if it moved. */
  async putSubscription(
    subscription: Omit<FrameworkSubscription, 'version'>,
    expected: number | 'absent',
  ): Promise<boolean> {
    try {
      await this.documents.send(
        new PutCommand({
          TableName: this.table,
          Item: {
            ...SUBSCRIPTION_KEY,
            framework_id: subscription.frameworkId,
            stream_id: subscription.streamId,
            suppressed: [...subscription.suppressed],
            version: expected === 'absent' ? 1 : expected + 1,
          },
          ...condition(expected),
        }),
      );
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return this.conflict();
      throw error;
    }
  }

  /** Writes (puts and deletes) 25 to a request, retrying what DynamoDB leaves unprocessed. */
  async batch(requests: readonly Item[]): Promise<void> {
    for (let start = 0; start < requests.length; start += 25) {
      let pending = requests.slice(start, start + 25);
      for (let round = 0; pending.length > 0; round++) {
        if (round >= 8) throw new Error(`DynamoDB left ${pending.length} writes unprocessed`);
        if (round > 0) await new Promise((resolve) => setTimeout(resolve, 20 * 2 ** round));
        const result = await this.documents.send(
          new BatchWriteCommand({ RequestItems: { [this.table]: pending as never } }),
        );
        pending = (result.UnprocessedItems?.[this.table] ?? []) as Item[];
      }
    }
  }

  /** Which of these SQS message ids were handled already. */
  async handled(messageIds: readonly string[]): Promise<Set<string>> {
    const found = await Promise.all(
      messageIds.map(async (id) => {
        const result = await this.documents.send(
          new GetCommand({ TableName: this.table, Key: { pk: `event#${id}`, sk: 'handled' }, ConsistentRead: true }),
        );
        return result.Item ? id : undefined;
      }),
    );
    return new Set(found.filter((id): id is string => id !== undefined));
  }

  /** Marks SQS messages as handled, for a day (longer than any queue keeps redelivering one). */
  async markHandled(messageIds: readonly string[], now: number): Promise<void> {
    const expires = Math.floor(now / 1000) + 24 * 3600;
    await this.batch(
      messageIds.map((id) => ({ PutRequest: { Item: { pk: `event#${id}`, sk: 'handled', expires_at: expires } } })),
    );
  }

  /** Every item a query finds, page after page. */
  async queryAll(input: Omit<QueryCommandInput, 'TableName' | 'ExclusiveStartKey'>): Promise<Item[]> {
    const items: Item[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const result = await this.documents.send(
        new QueryCommand({ ...input, TableName: this.table, ...(start ? { ExclusiveStartKey: start } : {}) }),
      );
      items.push(...(result.Items ?? []));
      start = result.LastEvaluatedKey;
    } while (start);
    return items;
  }
}
