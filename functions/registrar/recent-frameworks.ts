/**
 * Framework records as this process read them lately, for the hot paths that read a framework per message (the
 * status pipeline reads one per agent update, several per task). A record is kept `ttlMs` at most, and dropped at
 * once when this process writes it; another process's write (another Lambda container) shows after `ttlMs` at most.
 * Callers asking for the same framework while it is being read share that read (a status batch's updates of one
 * framework read it once). Decisions that must see the current record (subscription, teardown, authorization) read
 * the registrar itself; an ACKNOWLEDGE is let through on a recent record that shows it subscribed on the caller's
 * stream (handlers/scheduler-route.ts), and read afresh otherwise.
 */
import type { RegistrarContext } from './context.js';
import type { FrameworkRecord, FrameworkRegistry } from './frameworks.js';

/** Bounds the memory a process with very many frameworks spends on this. */
const MAX_ENTRIES = 10_000;

export class RecentFrameworks {
  private readonly entries = new Map<
    string,
    { readonly record: FrameworkRecord | undefined; readonly until: number }
  >();
  /** Reads under way, shared by the callers that ask meanwhile; a write drops its framework's. */
  private readonly reading = new Map<string, Promise<FrameworkRecord | undefined>>();
  /** Framework writes this process made: a read that a write overtook is not kept. */
  private writes = 0;

  constructor(
    private readonly frameworks: Pick<FrameworkRegistry, 'get' | 'table'>,
    context: Pick<RegistrarContext, 'onWrite' | 'now'>,
    readonly ttlMs: number,
    private readonly now: () => number = context.now,
  ) {
    context.onWrite((table, key) => {
      if (table !== frameworks.table) return;
      this.writes++;
      const id = key.framework_id;
      if (typeof id !== 'string') return;
      this.entries.delete(id);
      this.reading.delete(id);
    });
  }

  /** The framework as read at most `ttlMs` ago (undefined: not known then). */
  async get(frameworkId: string): Promise<FrameworkRecord | undefined> {
    const now = this.now();
    const kept = this.entries.get(frameworkId);
    if (kept && kept.until > now) return kept.record;
    const shared = this.reading.get(frameworkId);
    if (shared) return shared;
    const writes = this.writes;
    const read = this.frameworks.get(frameworkId).then((record) => {
      if (writes === this.writes) {
        if (this.entries.size >= MAX_ENTRIES) this.entries.clear();
        this.entries.set(frameworkId, { record, until: now + this.ttlMs });
      }
      return record;
    });
    const done = () => {
      if (this.reading.get(frameworkId) === read) this.reading.delete(frameworkId);
    };
    read.then(done, done);
    this.reading.set(frameworkId, read);
    return read;
  }

  /** The framework as read now, kept for the next callers in place of what was kept. */
  fresh(frameworkId: string): Promise<FrameworkRecord | undefined> {
    this.entries.delete(frameworkId);
    this.reading.delete(frameworkId);
    return this.get(frameworkId);
  }
}
