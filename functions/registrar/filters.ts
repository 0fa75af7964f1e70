/**
 * Refused-offer filters (Mesos RefusedOfferFilter): after a DECLINE, or the unused part of an
 * ACCEPT, no offer from that agent to that role whose resources are a subset of what was refused, until
 * the filter expires. One item per (framework, role, agent), the latest decline's, in their own table: a
 * framework that declines thousands of agents would outgrow a single item (DynamoDB's 400 KB limit).
 *
 * Filters are soft state, as in Mesos (which keeps them in memory only): writes are plain batch puts and
 * deletes, last writer wins, and DynamoDB's TTL removes expired ones. REVIVE clears a role's filters.
 */
import { BatchWriteCommand } from '@aws-sdk/lib-dynamodb';
import { filterKey } from '#shared/ids.js';
import type { Resource } from '#shared/protocol/mesos.js';
import type { RegistrarContext } from './context.js';
import { epochSeconds, type Item } from './expression.js';

export interface OfferFilter {
  readonly role: string;
  readonly agentId: string;
  readonly resources: readonly Resource[];
  /** Milliseconds since the epoch. */
  readonly expiresAt: number;
}

function filterFromItem(item: Item): OfferFilter {
  return {
    role: item.role as string,
    agentId: item.agent_id as string,
    resources: JSON.parse(item.resources as string) as Resource[],
    expiresAt: item.expires_at_ms as number,
  };
}

const BATCH = 25;

export class FilterRegistry {
  constructor(private readonly context: RegistrarContext) {}

  private get table(): string {
    return this.context.tables.filters;
  }

  /** Installs filters, replacing any for the same framework, role and agent. */
  async put(frameworkId: string, filters: readonly OfferFilter[]): Promise<void> {
    const items = filters.map((filter) => ({
      PutRequest: {
        Item: {
          framework_id: frameworkId,
          filter_key: filterKey(filter.role, filter.agentId),
          role: filter.role,
          agent_id: filter.agentId,
          resources: JSON.stringify(filter.resources),
          expires_at_ms: filter.expiresAt,
          expires_at: epochSeconds(filter.expiresAt) + 1,
        },
      },
    }));
    await this.write(items);
  }

  /** The framework's filters in force at `now`, keyed by `filterKey(role, agentId)`. */
  async of(frameworkId: string, now = this.context.now()): Promise<Record<string, OfferFilter>> {
    const result: Record<string, OfferFilter> = {};
    for await (const item of this.query(frameworkId)) {
      const filter = filterFromItem(item);
      if (filter.expiresAt > now) result[item.filter_key as string] = filter;
    }
    return result;
  }

  /** Every filter in force at `now`, by framework: the allocator's snapshot. */
  async all(now = this.context.now()): Promise<Map<string, Record<string, OfferFilter>>> {
    const result = new Map<string, Record<string, OfferFilter>>();
    for await (const item of this.context.scan(this.table)) {
      const filter = filterFromItem(item);
      if (filter.expiresAt <= now) continue;
      const frameworkId = item.framework_id as string;
      const filters = result.get(frameworkId) ?? {};
      filters[item.filter_key as string] = filter;
      result.set(frameworkId, filters);
    }
    return result;
  }

  /** Removes the framework's filters for these roles (REVIVE), or all of them (no roles given). */
  async clear(frameworkId: string, roles?: readonly string[]): Promise<number> {
    const keys: Item[] = [];
    for await (const item of this.query(frameworkId)) {
      if (!roles || roles.includes(item.role as string)) {
        keys.push({ framework_id: frameworkId, filter_key: item.filter_key });
      }
    }
    await this.write(keys.map((Key) => ({ DeleteRequest: { Key } })));
    return keys.length;
  }

  private async *query(frameworkId: string): AsyncGenerator<Item> {
    if (frameworkId === '') return;
    yield* this.context.query(this.table, {
      KeyConditionExpression: 'framework_id = :f',
      ExpressionAttributeValues: { ':f': frameworkId },
    });
  }

  /** Batch writes, 25 at a time, retrying what DynamoDB leaves unprocessed. */
  private async write(requests: ReadonlyArray<Record<string, unknown>>): Promise<void> {
    for (let i = 0; i < requests.length; i += BATCH) {
      let pending: Record<string, unknown>[] = requests.slice(i, i + BATCH);
      for (let attempt = 0; pending.length > 0; attempt++) {
        if (attempt >= 8) throw new Error(`DynamoDB left ${pending.length} filter writes unprocessed`);
        const result = await this.context.documents.send(
          new BatchWriteCommand({ RequestItems: { [this.table]: pending as never } }),
        );
        pending = (result.UnprocessedItems?.[this.table] ?? []) as Record<string, unknown>[];
        if (pending.length > 0) await new Promise((resolve) => setTimeout(resolve, 20 * 2 ** attempt));
      }
    }
  }
}
