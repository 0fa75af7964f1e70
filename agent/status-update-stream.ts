/**
 * One task's status update stream (Mesos `TaskStatusUpdateStream`): updates in order, only the head in
 * flight, the next one released by the acknowledgement of the head; duplicates (same uuid) ignored;
 * nothing after a terminal update; the stream closes when its terminal update is acknowledged. The
 * stream is rebuilt from its journal after a restart. Pure.
 */
import type { TaskState, TaskStatus } from '#shared/protocol/mesos.js';
import { isTerminal } from '#shared/tasks/state-machine.js';

export type JournalRecord =
  { readonly type: 'UPDATE'; readonly status: TaskStatus } | { readonly type: 'ACK'; readonly uuid: string };

export type UpdateOutcome = 'queued' | 'duplicate' | 'terminated';
export type AckOutcome = 'acknowledged' | 'duplicate' | 'unknown';

export class StatusUpdateStream {
  private readonly pending: TaskStatus[] = [];
  private readonly received = new Set<string>();
  private readonly acknowledged = new Set<string>();
  private lastState: TaskState | undefined;
  private terminalQueued = false;
  private closedByAck = false;

  static replay(records: readonly JournalRecord[]): StatusUpdateStream {
    const stream = new StatusUpdateStream();
    for (const record of records) {
      if (record.type === 'UPDATE') stream.update(record.status);
      else stream.acknowledge(record.uuid);
    }
    return stream;
  }

  /** The update waiting for its acknowledgement (what is sent and resent). */
  get head(): TaskStatus | undefined {
    return this.pending[0];
  }

  get size(): number {
    return this.pending.length;
  }

  /** The state of the newest update (Mesos `latest_state`). */
  get latestState(): TaskState | undefined {
    return this.lastState;
  }

  /** A terminal update is queued or acknowledged: the task is over. */
  get terminated(): boolean {
    return this.terminalQueued;
  }

  /** The terminal update has been acknowledged: nothing more will flow. */
  get closed(): boolean {
    return this.closedByAck;
  }

  /** Whether an update (any update) with this uuid was ever added. */
  has(uuid: string): boolean {
    return this.received.has(uuid);
  }

  update(status: TaskStatus): UpdateOutcome {
    if (status.uuid === undefined) throw new Error('A status update on a stream needs a uuid');
    if (this.received.has(status.uuid)) return 'duplicate';
    if (this.terminalQueued) return 'terminated';
    this.received.add(status.uuid);
    this.pending.push(status);
    this.lastState = status.state;
    if (isTerminal(status.state)) this.terminalQueued = true;
    return 'queued';
  }

  acknowledge(uuid: string): AckOutcome {
    const head = this.pending[0];
    if (head?.uuid === uuid) {
      this.pending.shift();
      this.acknowledged.add(uuid);
      if (isTerminal(head.state)) this.closedByAck = true;
      return 'acknowledged';
    }
    return this.acknowledged.has(uuid) || this.received.has(uuid) ? 'duplicate' : 'unknown';
  }
}

/** Parses journal records read from disk, refusing anything that is not one. */
export function journalRecords(raw: readonly unknown[]): JournalRecord[] {
  return raw.map((record, i) => {
    const value = record as Partial<{ type: string; status: TaskStatus; uuid: string }>;
    if (value.type === 'UPDATE' && value.status && typeof value.status.uuid === 'string') {
      return { type: 'UPDATE', status: value.status };
    }
    if (value.type === 'ACK' && typeof value.uuid === 'string') return { type: 'ACK', uuid: value.uuid };
    throw new Error(`Journal record ${i + 1} is neither an update nor an acknowledgement`);
  });
}
