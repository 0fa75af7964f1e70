/**
 * Refused-offer filters (Mesos RefusedOfferFilter): after a DECLINE, or the unused part of an
 * ACCEPT, no offer from that agent to that role whose resources are a subset of what was refused, until
 * the filter expires. One item per (framework, role, agent), the latest decline's, in their own table: a
 * framework that declines thousands of agents would outgrow a single item (DynamoDB's 400 KB limit).
 *
 * Filters are soft state, as in Mesos (which keeps them in memory only): writes are plain batch puts and
 * deletes, last writer wins, and DynamoDB's TTL removes expired ones. REVIVE clears a role's filters.
 *
 * A DECLINE writes a filter per agent declined, thousands at once: they are spread over the framework's write
 * shards by agent (shards.ts), and a read of the framework's filters queries every shard.
 */
import { filterKey } from '#shared/ids.js';
import type { Resource } from '#shared/protocol/mesos.js';
import type { RegistrarContext } from './context.js';
import { epochSeconds, type Item } from './expression.js';
import { SHARD_ATTRIBUTE, shardKey, shardKeys, shardOf } from './shards.js';

export interface OfferFilter {
  readonly role: string;
  readonly agentId: string;
  readonly resources: readonly Resource[];
  /** Milliseconds since the epoch. */
  readonly expiresAt: number;
}

function itemKey(frameworkId: string, role: string, agentId: string): Item {
  return { [SHARD_ATTRIBUTE]: shardKey(frameworkId, shardOf(agentId)), filter_key: filterKey(role, agentId) };
}

function filterFromItem(item: Item): OfferFilter {
  return {
    role: item.role as string,
    agentId: item.agent_id as string,
    resources: JSON.parse(item.resources as string) as Resource[],
    expiresAt: item.expires_at_ms as number,
  };
}

export class FilterRegistry {
  constructor(private readonly context: RegistrarContext) {}

  private get table(): string {
    return this.context.tables.filters;
  }

  /**
   * Installs filters, replacing any for the same framework, role and agent (of several for one role and
   * agent in `filters`, the last; callers merge what one call refused: functions/allocator/filters.ts).
   */
  async put(frameworkId: string, filters: readonly OfferFilter[]): Promise<void> {
    await this.context.batchWrite(
      this.table,
      filters.map((filter) => {
        const key = itemKey(frameworkId, filter.role, filter.agentId);
        return {
          key,
          item: {
            ...key,
            framework_id: frameworkId,
            role: filter.role,
            agent_id: filter.agentId,
            resources: JSON.stringify(filter.resources),
            expires_at_ms: filter.expiresAt,
            expires_at: epochSeconds(filter.expiresAt) + 1,
          },
        };
      }),
    );
  }

  /** The framework's filters in force at `now`, keyed by `filterKey(role, agentId)`, in key order. */
  async of(frameworkId: string, now = this.context.now()): Promise<Record<string, OfferFilter>> {
    const items = (await this.query(frameworkId)).filter((item) => (item.expires_at_ms as number) > now);
    const keys = (item: Item) => item.filter_key as string;
    items.sort((a, b) => (keys(a) < keys(b) ? -1 : keys(a) > keys(b) ? 1 : 0));
    return Object.fromEntries(items.map((item) => [keys(item), filterFromItem(item)]));
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

  /**
   * The filters in force at `now` among those of these frameworks' roles on these agents, read
   * consistently by key (a BatchGetItem per 100), by framework: what a partial allocation pass checks
   * before it writes an offer, instead of scanning every filter.
   */
  async get(
    wanted: ReadonlyArray<{ frameworkId: string; role: string; agentId: string }>,
    now = this.context.now(),
  ): Promise<Map<string, Record<string, OfferFilter>>> {
    const items = await this.context.batchGet(
      this.table,
      wanted.map((entry) => itemKey(entry.frameworkId, entry.role, entry.agentId)),
      { consistent: true },
    );
    const result = new Map<string, Record<string, OfferFilter>>();
    for (const item of items) {
      const filter = filterFromItem(item);
      if (filter.expiresAt <= now) continue;
      const frameworkId = item.framework_id as string;
      result.set(frameworkId, { ...result.get(frameworkId), [item.filter_key as string]: filter });
    }
    return result;
  }

  /** Removes the framework's filters for these roles (REVIVE), or all of them (no roles given). */
  async clear(frameworkId: string, roles?: readonly string[]): Promise<number> {
    const keys = (await this.query(frameworkId))
      .filter((item) => !roles || roles.includes(item.role as string))
      .map((item) => ({ [SHARD_ATTRIBUTE]: item[SHARD_ATTRIBUTE], filter_key: item.filter_key }));
    await this.context.batchWrite(
      this.table,
      keys.map((key) => ({ key })),
    );
    return keys.length;
  }

  /** Every filter item of the framework: a query of each shard, all at once. */
  private async query(frameworkId: string): Promise<Item[]> {
    if (frameworkId === '') return [];
    const shards = await Promise.all(
      shardKeys(frameworkId).map(async (key) => {
        const items: Item[] = [];
        const query = this.context.query(this.table, {
          KeyConditionExpression: `${SHARD_ATTRIBUTE} = :p`,
          ExpressionAttributeValues: { ':p': key },
        });
        for await (const item of query) items.push(item);
        return items;
      }),
    );
    return shards.flat();
  }
}
