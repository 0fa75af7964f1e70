/**
 * The registrar's change feed: which tasks, agents and frameworks changed, for the operator API's
 * SUBSCRIBE streams (docs/operator.md, "Streaming (SUBSCRIBE)"). The stores' writes publish here
 * (change-hooks.ts); a stream reads the feed back by time.
 *
 * The feed is written only while an operator watches: a stream announces itself in the `watchers` item
 * and renews it; a writer checks that item at most once a second. An unwatched cluster pays one small
 * read per second per busy process, and nothing per write. Entries are grouped by minute (the
 * partition) and ordered by time within it; DynamoDB's TTL removes them after 15 minutes.
 *
 * Publishing never fails the write it follows: an entry that cannot be written is counted in
 * `master/operator/changes_lost`, and a subscriber that must be exact resubscribes for the state.
 */
import { GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { TaskInfo } from '#shared/protocol/mesos.js';
import type { AgentRecord } from './agent-records.js';
import type { RegistrarContext } from './context.js';
import { epochSeconds, type Item } from './expression.js';
import type { FrameworkRecord } from './frameworks.js';
import type { TaskRecord } from './tasks.js';

export type RegistrarChange =
  | { readonly kind: 'TASK_ADDED'; readonly task: TaskRecord; readonly info?: Partial<TaskInfo> }
  | { readonly kind: 'TASK_UPDATED'; readonly task: TaskRecord }
  | { readonly kind: 'AGENT_ADDED'; readonly agent: AgentRecord }
  | { readonly kind: 'AGENT_REMOVED'; readonly agentId: string }
  | {
      readonly kind: 'FRAMEWORK_ADDED' | 'FRAMEWORK_UPDATED' | 'FRAMEWORK_REMOVED';
      readonly framework: FrameworkRecord;
    };

/** One entry of the feed: the changes one write made, and when. */
export interface FeedEntry {
  readonly seq: string;
  readonly at: number;
  readonly changes: RegistrarChange[];
}

const WATCHERS = { bucket: 0, seq: 'watchers' } as const;
const RETENTION_MS = 15 * 60_000;
/** How long a writer trusts what it read of the watchers item. */
export const WATCH_CHECK_MS = 1000;

const minuteOf = (ms: number): number => Math.floor(ms / 60_000);
const timeKey = (ms: number): string => String(Math.max(0, Math.floor(ms))).padStart(15, '0');

export class ChangeFeed {
  private watchedUntil = 0;
  private checkedAt = Number.NEGATIVE_INFINITY;
  /** The read of the watchers item in flight, and when it began. */
  private checking: { readonly at: number; readonly read: Promise<void> } | undefined;

  constructor(private readonly context: RegistrarContext) {}

  private get table(): string {
    return this.context.tables.changes;
  }

  /** Records the changes of one write, if anyone watches. Never throws. */
  async publish(changes: readonly RegistrarChange[]): Promise<void> {
    if (changes.length === 0) return;
    try {
      if (!(await this.watched())) return;
      const now = this.context.now();
      const seq = `${timeKey(now)}#${crypto.randomUUID().slice(0, 8)}`;
      const item: Item = {
        bucket: minuteOf(now),
        seq,
        changes: JSON.stringify(changes.map(slim)),
        expires_at: epochSeconds(now + RETENTION_MS),
      };
      await this.context.put({ TableName: this.table, Item: item });
      this.context.metrics.increment('master/operator/changes_published', changes.length);
    } catch {
      this.context.metrics.increment('master/operator/changes_lost', changes.length);
    }
  }

  /**
   * Whether a stream watches (read at most once a second). The writers that find the check due while a read is in
   * flight wait for that read rather than each making its own (a batch's writes come at once): a read begun within
   * the last WATCH_CHECK_MS is as fresh as the check asks.
   */
  async watched(): Promise<boolean> {
    const now = this.context.now();
    if (now - this.checkedAt >= WATCH_CHECK_MS) {
      if (!this.checking || now - this.checking.at >= WATCH_CHECK_MS) {
        const checking = { at: now, read: this.readWatchers(now) };
        this.checking = checking;
        void checking.read
          .finally(() => {
            if (this.checking === checking) this.checking = undefined;
          })
          .catch(() => undefined);
      }
      await this.checking.read;
    }
    return this.watchedUntil > now;
  }

  private async readWatchers(at: number): Promise<void> {
    const result = await this.context.documents.send(new GetCommand({ TableName: this.table, Key: WATCHERS }));
    this.watchedUntil = Number(result.Item?.until ?? 0);
    this.checkedAt = at;
  }

  /**
   * A stream watches until `until` (it renews well before). Returns whether someone already watched:
   * if not, writers may not know for up to WATCH_CHECK_MS, and the stream waits that long before it
   * reads the state it starts from.
   */
  async watch(until: number): Promise<boolean> {
    const result = await this.context.documents.send(
      new UpdateCommand({
        TableName: this.table,
        Key: WATCHERS,
        UpdateExpression: 'SET #until = :until',
        ExpressionAttributeNames: { '#until': 'until' },
        ExpressionAttributeValues: { ':until': until },
        ReturnValues: 'UPDATED_OLD',
      }),
    );
    // This process's own writers know at once.
    this.watchedUntil = Math.max(this.watchedUntil, until);
    return Number(result.Attributes?.until ?? 0) > this.context.now();
  }

  /** The entries written at or after `from` (ms since the epoch), oldest first. */
  async read(from: number): Promise<FeedEntry[]> {
    const now = this.context.now();
    const entries: FeedEntry[] = [];
    for (let minute = minuteOf(from); minute <= minuteOf(now); minute++) {
      const items = this.context.query(this.table, {
        KeyConditionExpression: '#bucket = :bucket AND #seq >= :from',
        ExpressionAttributeNames: { '#bucket': 'bucket', '#seq': 'seq' },
        ExpressionAttributeValues: { ':bucket': minute, ':from': timeKey(from) },
      });
      for await (const item of items) {
        const seq = item.seq as string;
        entries.push({ seq, at: Number(seq.split('#')[0]), changes: JSON.parse(item.changes as string) });
      }
    }
    return entries;
  }
}

/** An agent's offers change with every allocation pass and say nothing an operator event carries. */
function slim(change: RegistrarChange): RegistrarChange {
  return change.kind === 'AGENT_ADDED' ? { ...change, agent: { ...change.agent, offers: {} } } : change;
}
