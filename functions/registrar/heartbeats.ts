/**
 * The agents' heartbeats, as soft state apart from the agent items. The heartbeat handler writes one
 * item per batch it receives — who beat, and when — under the minute it was written in; the sweeper
 * reads the last few minutes back. An agent item is 1–3 KB, so rewriting it for every heartbeat cost 2
 * write units each (plus a read); one item per batch costs a fraction of a unit per heartbeat. Items
 * expire after a quarter of an hour (TTL); a missing or late item only makes an agent look silent
 * longer, which the sweeper's threshold (minutes) absorbs.
 */
import { randomUUID } from 'node:crypto';
import type { RegistrarContext } from './context.js';

const MINUTE_MS = 60_000;
const RETENTION_SECONDS = 15 * 60;
/** Agents per item: ~60 bytes each keeps an item well under DynamoDB's 400 KB. */
export const AGENTS_PER_ITEM = 2000;

export class HeartbeatLog {
  constructor(private readonly context: RegistrarContext) {}

  private get table(): string {
    return this.context.tables.heartbeats;
  }

  /** Records that these agents beat, at these times (ms since the epoch). */
  async record(beats: ReadonlyMap<string, number>): Promise<void> {
    if (beats.size === 0) return;
    const now = this.context.now();
    const entries = [...beats];
    for (let start = 0; start < entries.length; start += AGENTS_PER_ITEM) {
      await this.context.put({
        TableName: this.table,
        Item: {
          minute: Math.floor(now / MINUTE_MS),
          batch: randomUUID(),
          agents: Object.fromEntries(entries.slice(start, start + AGENTS_PER_ITEM)),
          expires_at: Math.floor(now / 1000) + RETENTION_SECONDS,
        },
      });
    }
  }

  /** Each agent's latest heartbeat recorded since `since` (ms since the epoch). */
  async lastSeen(since: number): Promise<Map<string, number>> {
    const seen = new Map<string, number>();
    const last = Math.floor(this.context.now() / MINUTE_MS);
    for (let minute = Math.floor(since / MINUTE_MS); minute <= last; minute++) {
      const items = this.context.query(this.table, {
        // MINUTE is one of DynamoDB's reserved words.
        KeyConditionExpression: '#minute = :m',
        ExpressionAttributeNames: { '#minute': 'minute' },
        ExpressionAttributeValues: { ':m': minute },
      });
      for await (const item of items) {
        for (const [agentId, at] of Object.entries((item.agents ?? {}) as Record<string, number>)) {
          if (at >= since && at > (seen.get(agentId) ?? -Infinity)) seen.set(agentId, at);
        }
      }
    }
    return seen;
  }
}
