/**
 * Task rows as this process's status updates last wrote them, for the ACKNOWLEDGE of an update just forwarded
 * (three a task): a row that holds the acknowledged update is all that call decides on (scheduler/acknowledge.ts),
 * so a row written here spares it the read. A row is kept `ttlMs` at most, and dropped at once when this process
 * writes it otherwise (an acknowledgement, a launch that reuses the task id, the sweeper's); a row kept from before
 * another process's write is no worse for that call than its own eventually consistent read.
 */
import { SHARD_ATTRIBUTE } from './shards.js';
import type { RegistrarContext } from './context.js';
import type { Item } from './expression.js';
import { rowKey, type TaskRecord } from './task-items.js';

/** Bounds the memory a process with very many tasks spends on this. */
const MAX_ENTRIES = 10_000;

const idOf = (key: Item): string => `${String(key[SHARD_ATTRIBUTE])}\u0000${String(key.task_id)}`;

export class RecentTasks {
  private readonly entries = new Map<string, { readonly record: TaskRecord; readonly until: number }>();

  constructor(
    context: Pick<RegistrarContext, 'onWrite' | 'now' | 'tables'>,
    readonly ttlMs: number,
    private readonly now: () => number = context.now,
  ) {
    context.onWrite((table, key) => {
      if (table === context.tables.tasks) this.entries.delete(idOf(key));
    });
  }

  /** Keeps the row as just written (after the write: the write itself drops what was kept). */
  wrote(record: TaskRecord): void {
    if (this.entries.size >= MAX_ENTRIES) this.entries.clear();
    this.entries.set(idOf(rowKey(record.frameworkId, record.taskId)), { record, until: this.now() + this.ttlMs });
  }

  /** The row as this process wrote it at most `ttlMs` ago, if it did. */
  get(frameworkId: string, taskId: string): TaskRecord | undefined {
    const kept = this.entries.get(idOf(rowKey(frameworkId, taskId)));
    return kept && kept.until > this.now() ? kept.record : undefined;
  }
}
