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
import { RecentReads } from './recent-reads.js';

export class RecentFrameworks {
  private readonly reads: RecentReads<FrameworkRecord | undefined>;

  constructor(
    frameworks: Pick<FrameworkRegistry, 'get' | 'table'>,
    context: Pick<RegistrarContext, 'onWrite' | 'now'>,
    ttlMs: number,
    now: () => number = context.now,
  ) {
    this.reads = new RecentReads(
      (frameworkId) => frameworks.get(frameworkId),
      () => ttlMs,
      now,
    );
    // A write this process makes drops what was kept, and a read it overtook is not kept.
    context.onWrite((table, key) => {
      if (table === frameworks.table && typeof key.framework_id === 'string') this.reads.forget(key.framework_id);
    });
  }

  /** The framework as read at most `ttlMs` ago (undefined: not known then). */
  get(frameworkId: string): Promise<FrameworkRecord | undefined> {
    return this.reads.get(frameworkId);
  }

  /** The framework as read now, kept for the next callers in place of what was kept. */
  fresh(frameworkId: string): Promise<FrameworkRecord | undefined> {
    this.reads.forget(frameworkId);
    return this.reads.get(frameworkId);
  }
}
