/**
 * Write sharding of a framework's items, as AWS advises for a hot partition key: DynamoDB takes at most 1,000 write
 * units a second per partition key, and every task row, TaskInfo and refused-offer filter of a framework would share
 * its id (bench:scale measured 9 units a task on the tasks table alone: 9,000 a second at 1,000 tasks/s). Each of
 * these items is keyed by `<framework id>#<shard>` instead, the shard a stable hash of the item's own id (the task
 * id; a filter's agent id), so the key of any one item follows from what its caller knows, and a read of a whole
 * framework queries every shard at once (ShardMerge).
 *
 * The shard count is part of the tables' layout: a different count would look for items under other keys.
 */
import type { Item } from './expression.js';
import type { RegistrarContext } from './context.js';

/** The partition key attribute of the sharded tables (tasks, taskinfos, filters). */
export const SHARD_ATTRIBUTE = 'framework_shard';

/**
 * 32 shards: 1,000 tasks/s at some 9 units a task is 9,000 units a second, nine partitions' worth; 32 leave room
 * for the hash's unevenness and for bursts, at 32 queries (a read unit each) for a read of a whole framework.
 */
export const SHARDS = 32;

/** FNV-1a of the id's UTF-16 code units: stable across processes and releases, and even enough over ids. */
export function shardOf(id: string, shards = SHARDS): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < id.length; i++) {
    hash ^= id.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return (hash >>> 0) % shards;
}

/** The partition key of a framework's shard (the shard is a number, so the key names one framework and shard). */
export function shardKey(frameworkId: string, shard: number): string {
  return `${frameworkId}#${shard}`;
}

/** Every partition key of a framework's items. */
export function shardKeys(frameworkId: string, shards = SHARDS): string[] {
  return Array.from({ length: shards }, (_, shard) => shardKey(frameworkId, shard));
}

interface ShardCursor {
  readonly key: string;
  buffer: Item[];
  start?: Record<string, unknown>;
  done: boolean;
}

/**
 * A framework's items over all its shards, merged in sort-key order (the order one partition's query gave before
 * the items were sharded): each shard is queried page by page (consistently) as the merge reaches its end, the
 * shards whose next items are needed at once.
 */
export class ShardMerge {
  private readonly shards: ShardCursor[];

  constructor(
    private readonly context: RegistrarContext,
    private readonly table: string,
    frameworkId: string,
    private readonly options: {
      /** The sort key attribute: the merge's order. */
      readonly sortKey: string;
      /** Only items whose sort key comes after this one. */
      readonly after?: string;
      /** Items a shard's query reads at most (DynamoDB's 1 MB page when absent). */
      readonly pageSize?: number;
      readonly attributes?: readonly string[];
    },
  ) {
    this.shards = shardKeys(frameworkId).map((key) => ({ key, buffer: [], done: false }));
  }

  /** The next `count` items in order (fewer at the end). */
  async take(count: number): Promise<Item[]> {
    const taken: Item[] = [];
    while (taken.length < count) {
      // A shard with nothing read that may hold more must be read before the least item is known.
      await Promise.all(
        this.shards.filter((shard) => shard.buffer.length === 0 && !shard.done).map((s) => this.read(s)),
      );
      let least: ShardCursor | undefined;
      for (const shard of this.shards) {
        const head = shard.buffer[0];
        if (head && (!least || this.compare(head, least.buffer[0] as Item) < 0)) least = shard;
      }
      if (!least) break;
      taken.push(least.buffer.shift() as Item);
    }
    return taken;
  }

  /** Whether every shard has been read to its end and every item taken. */
  get finished(): boolean {
    return this.shards.every((shard) => shard.done && shard.buffer.length === 0);
  }

  /** DynamoDB's order of string keys: by their UTF-8 bytes (JavaScript's `<` compares UTF-16 code units). */
  private compare(a: Item, b: Item): number {
    const { sortKey } = this.options;
    return Buffer.compare(Buffer.from(a[sortKey] as string), Buffer.from(b[sortKey] as string));
  }

  private async read(shard: ShardCursor): Promise<void> {
    const { sortKey, after, pageSize, attributes } = this.options;
    const page = await this.context.onePage(this.table, {
      ...(pageSize !== undefined ? { limit: pageSize } : {}),
      ...(attributes ? { attributes } : {}),
      ...(shard.start ? { start: shard.start } : {}),
      query: {
        KeyConditionExpression: `${SHARD_ATTRIBUTE} = :p${after !== undefined ? ` AND ${sortKey} > :after` : ''}`,
        ExpressionAttributeValues: { ':p': shard.key, ...(after !== undefined ? { ':after': after } : {}) },
      },
    });
    shard.buffer = page.items;
    if (page.next) shard.start = page.next;
    else shard.done = true;
  }
}
