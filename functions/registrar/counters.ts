/**
 * The cluster's task counts by state (Mesos's `master/tasks_<state>`), kept by the task writes themselves:
 * each state change of a task row adds one to its new state and takes one from its old, in one small
 * `UpdateItem ... ADD` on one of a few shard items (so no single item takes every write). Reading them
 * back is one BatchGetItem of the shards, whatever the number of tasks: a scrape's cost does not grow
 * with the cluster (docs/operator.md, "Metrics").
 *
 * The counts are kept after the row's write, not with it (a transaction would double the cost of
 * every task write): a handler that dies between the two leaves its change uncounted, and the
 * redelivered update is a duplicate that counts nothing. Counts of current states may drift by that
 * much; Mesos's own counters restart from zero with every master failover.
 */
import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { TASK_STATES, type TaskState } from '#shared/tasks/state-machine.js';
import type { RegistrarContext } from './context.js';
import { Expression } from './expression.js';

/** Shards of the counts: enough to spread a busy cluster's writes, few enough to read at once. */
export const COUNTER_SHARDS = 8;

export type TaskCounts = Record<TaskState, number>;

export class TaskCounters {
  /** Changes not yet written, by state. */
  private pending = new Map<TaskState, number>();
  /** The write under way (never rejects). */
  private inFlight: Promise<void> = Promise.resolve();
  /** The next write, which every change made meanwhile joins. */
  private queued: Promise<void> | undefined;
  /** Batches under way (`batched`): changes wait for the end of one rather than each making a write. */
  private holding = 0;

  constructor(private readonly context: RegistrarContext) {}

  private get table(): string {
    return this.context.tables.counters;
  }

  /**
   * Counts a task's change of state (`from` undefined: a new task), resolving once it is written.
   * Group commit: one write at a time, and the changes made while it is under way go together in the
   * next, so a handler working on a batch of updates concurrently writes a few times, not once per task.
   * Best effort: the task's own write has happened, so a failure here is counted
   * (`registrar/task_counter_errors`) and never undoes it.
   */
  async transition(from: TaskState | undefined, to: TaskState): Promise<void> {
    if (from === to) return;
    this.pending.set(to, (this.pending.get(to) ?? 0) + 1);
    if (from) this.pending.set(from, (this.pending.get(from) ?? 0) - 1);
    if (this.holding === 0) await this.flush();
  }

  /**
   * Runs a batch of task writes (a status-handler invocation's updates, one message group's after another) whose
   * changes of state are counted in one write at its end, whatever it threw: the counts written once per batch
   * rather than once per update. A batch that ends writes what the batches still under way counted so far too.
   */
  async batched<T>(work: () => Promise<T>): Promise<T> {
    this.holding++;
    try {
      return await work();
    } finally {
      this.holding--;
      await this.flush();
    }
  }

  private flush(): Promise<void> {
    if (this.queued) return this.queued;
    const queued = this.inFlight.then(() => {
      this.queued = undefined;
      const deltas = [...this.pending].filter(([, delta]) => delta !== 0);
      this.pending = new Map();
      return this.write(deltas);
    });
    this.queued = queued;
    this.inFlight = queued;
    return queued;
  }

  private async write(deltas: ReadonlyArray<[TaskState, number]>): Promise<void> {
    if (deltas.length === 0) return;
    const x = new Expression();
    try {
      await this.context.documents.send(
        new UpdateCommand({
          TableName: this.table,
          Key: { shard: Math.floor(Math.random() * COUNTER_SHARDS) },
          UpdateExpression: `ADD ${deltas.map(([state, delta]) => `${x.name(state)} ${x.value(delta)}`).join(', ')}`,
          ...x.attributes(),
        }),
      );
    } catch {
      this.context.metrics.increment('registrar/task_counter_errors');
    }
  }

  /** The counts, summed over the shards (one batch read of COUNTER_SHARDS small items). */
  async read(): Promise<TaskCounts> {
    const keys = Array.from({ length: COUNTER_SHARDS }, (_, shard) => ({ shard }));
    const items = await this.context.batchGet(this.table, keys);
    const counts = Object.fromEntries(TASK_STATES.map((state) => [state, 0])) as TaskCounts;
    for (const item of items) {
      for (const state of TASK_STATES) {
        const value = item[state];
        if (typeof value === 'number') counts[state] += value;
      }
    }
    return counts;
  }
}
