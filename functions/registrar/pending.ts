/**
 * Why pending: the allocator's latest reason for each framework and role that a full pass offered nothing
 * (functions/allocator/reasons.ts), kept so that operators and frameworks can ask (docs/operator.md,
 * "Why pending"). One item per framework and role, in their own table: bounded by the frameworks' roles.
 *
 * Soft state, as the filters are: plain puts and deletes, last writer wins. Cheap by construction: the
 * allocator container remembers what it wrote and writes only a reason that changed, one older than
 * `PENDING_REFRESH_MS` (to show it still holds), or the removal of one that no longer does; DynamoDB's
 * TTL removes reasons an allocator stopped refreshing (`PENDING_TTL_MS`).
 */
import type { RegistrarContext } from './context.js';
import { epochSeconds, type Item } from './expression.js';

/** A reason as stored (the allocator's PendingReason, with when the pass that found it ran). */
export interface PendingRecord {
  readonly frameworkId: string;
  readonly role: string;
  readonly code: string;
  readonly message: string;
  /** How many of the agents the pass considered were blocked for each cause. */
  readonly agents: Readonly<Record<string, number>>;
  readonly filteredUntil?: number;
  readonly quota?: { readonly role: string; readonly resources: readonly string[] };
  /** When the allocation pass that found it started (ms since the epoch). */
  readonly at: number;
  /** Since when the reason has been the same (ms since the epoch). */
  readonly since: number;
}

/** A reason still holding is written again after this long (and only then), to show it is current. */
export const PENDING_REFRESH_MS = 5 * 60_000;
/** A reason no pass has confirmed for this long is gone (the allocator stopped, the framework left). */
export const PENDING_TTL_MS = 15 * 60_000;

const keyOf = (frameworkId: string, role: string) => `${frameworkId}\u0000${role}`;

function recordFromItem(item: Item): PendingRecord {
  return {
    frameworkId: item.framework_id as string,
    role: item.role as string,
    code: item.code as string,
    message: item.message as string,
    agents: JSON.parse((item.agents as string | undefined) ?? '{}') as Record<string, number>,
    ...(typeof item.filtered_until === 'number' ? { filteredUntil: item.filtered_until } : {}),
    ...(item.quota ? { quota: JSON.parse(item.quota as string) as PendingRecord['quota'] } : {}),
    at: item.at as number,
    since: item.since as number,
  };
}

function itemFromRecord(record: PendingRecord): Item {
  return {
    framework_id: record.frameworkId,
    role: record.role,
    code: record.code,
    message: record.message,
    agents: JSON.stringify(record.agents),
    ...(record.filteredUntil !== undefined ? { filtered_until: record.filteredUntil } : {}),
    ...(record.quota ? { quota: JSON.stringify(record.quota) } : {}),
    at: record.at,
    since: record.since,
    expires_at: epochSeconds(record.at + PENDING_TTL_MS),
  };
}

export class PendingRegistry {
  /** What this container last wrote, by framework and role; undefined until read back once. */
  private written: Map<string, PendingRecord> | undefined;

  constructor(private readonly context: RegistrarContext) {}

  private get table(): string {
    return this.context.tables.pending;
  }

  /**
   * Records a full pass's reasons (`at`: when it started): every framework and role not among them is
   * no longer pending, and its reason goes. Returns how many items it wrote or deleted.
   */
  async record(reasons: ReadonlyArray<Omit<PendingRecord, 'at' | 'since'>>, at: number): Promise<number> {
    this.written ??= new Map((await this.list()).map((record) => [keyOf(record.frameworkId, record.role), record]));
    const written = this.written;
    const current = new Map<string, PendingRecord>();
    const writes: Array<{ key: Item; item?: Item }> = [];
    for (const reason of reasons) {
      const key = keyOf(reason.frameworkId, reason.role);
      const before = written.get(key);
      const same = before !== undefined && before.code === reason.code && before.message === reason.message;
      const record: PendingRecord = { ...reason, at, since: same ? before.since : at };
      if (same && at - before.at < PENDING_REFRESH_MS) {
        current.set(key, before);
        continue;
      }
      current.set(key, record);
      writes.push({ key: { framework_id: record.frameworkId, role: record.role }, item: itemFromRecord(record) });
    }
    for (const [key, before] of written) {
      if (!current.has(key)) writes.push({ key: { framework_id: before.frameworkId, role: before.role } });
    }
    await this.context.batchWrite(this.table, writes);
    this.written = current;
    return writes.length;
  }

  /** The reasons of one framework (one query), or of every framework (one scan: a handful of items). */
  async list(frameworkId?: string): Promise<PendingRecord[]> {
    const items =
      frameworkId === undefined
        ? this.context.scan(this.table)
        : this.context.query(this.table, {
            KeyConditionExpression: '#f = :f',
            ExpressionAttributeNames: { '#f': 'framework_id' },
            ExpressionAttributeValues: { ':f': frameworkId },
          });
    const now = this.context.now();
    const records: PendingRecord[] = [];
    // TTL deletes within days, not at once: what has expired is left out.
    for await (const item of items) {
      if ((item.expires_at as number) * 1000 > now) records.push(recordFromItem(item));
    }
    return records.sort((a, b) => a.frameworkId.localeCompare(b.frameworkId) || a.role.localeCompare(b.role));
  }
}
