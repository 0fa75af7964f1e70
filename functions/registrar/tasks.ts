/**
 * Task rows: one per (framework, task id), the master's record of a task for per-framework queries and
 * reconciliation. The agent ledger holds the task's resources; this row holds its state. Rows are
 * written after the ledger write that launches a task, by an idempotent follow-up; a launch whose row
 * never came is given a TASK_DROPPED row by the sweeper (`recordDropped`), and its late row is refused.
 * The TaskInfo is kept in an item of its own (the taskinfos table), written once at launch: DynamoDB
 * bills an update by the whole item's size, so in the row it would be paid again by every status
 * update (docs/cost.md). It is written with a lease (`INFO_LEASE_MS`) that outlasts the finished row's retention
 * for a task that ends within a day, so such a task's end writes nothing more to it; the sweeper renews a longer
 * task's lease once a day (`renewInfos`), and that task's end gives its TaskInfo the row's expiry. Rows and TaskInfos are keyed by the framework's write shard of their task id (shards.ts):
 * a framework's tasks are written over 32 partitions, and its reads query them all.
 *
 * State changes go through the task state machine: read, apply (pure), conditional write on the
 * row's version; a lost race re-reads and re-applies. Duplicates (same update uuid) are no-ops, and a
 * terminal state never changes.
 */
import {
  TaskInfoSchema,
  TaskStatusSchema,
  type Resource,
  type TaskInfo,
  type TaskState,
  type TaskStatus,
} from '#shared/protocol/mesos.js';
import { describeZodError } from '#shared/protocol/errors.js';
import { taskKey, validateTaskId } from '#shared/ids.js';
import { ok, type Result } from '#shared/result.js';
import { applyStatusUpdate, isTerminal, TERMINAL_STATES } from '#shared/tasks/state-machine.js';
import { RETRY, retrying, type RegistrarContext } from './context.js';
import type { TaskCounters } from './counters.js';
import { epochSeconds, Expression, type Item, type WriteOutcome } from './expression.js';
import { failure, type RegistrarError } from './errors.js';
import { RecentTasks } from './recent-tasks.js';
import { ShardMerge } from './shards.js';
import { insertStatement, StatementBatches } from './statement-batches.js';
import { StatusRowWrites } from './status-row-writes.js';
import { FINISHED_RETENTION_MS, INFO_LEASE_MS, infoOutlivesRow, renewInfoLeases } from './task-info-leases.js';
import {
  RECORD_ATTRIBUTES,
  rowKey,
  shardPageSize,
  taskFromItem,
  withInfo,
  type TaskRecord,
  type TaskWithInfo,
} from './task-items.js';
import { decodeCursor, encodeCursor, MAX_TASK_PAGE } from './task-pages.js';

export type { TaskRecord, TaskWithInfo } from './task-items.js';

export interface NewTask {
  readonly frameworkId: string;
  readonly agentId: string;
  readonly role: string;
  /** Canonical resources, as the agent ledger holds them. */
  readonly resources: readonly Resource[];
  /** TaskInfo as the framework sent it (validated); `data` is not kept. */
  readonly info: unknown;
  readonly launchId: string;
}

/** A launch the ledger holds with no row of its own, ended by the sweeper (functions/fleet/sweeper.ts). */
export interface DroppedLaunch {
  readonly frameworkId: string;
  readonly agentId: string;
  readonly role: string;
  readonly resources: readonly Resource[];
  readonly launchId: string;
  /** The master's TASK_DROPPED update (no uuid: never acknowledged). */
  readonly status: TaskStatus;
}

export type StatusUpdateResult =
  | {
      readonly outcome: 'applied';
      readonly task: TaskRecord;
      readonly previous: TaskState;
      /** The update made the task terminal: release its resources now. */
      readonly becameTerminal: boolean;
    }
  | { readonly outcome: 'duplicate'; readonly task: TaskRecord };

/** How long a row this process's status update wrote stands in for a read of it (recent-tasks.ts). */
const RECENT_TASK_MS = 60_000;

/** Rows a scan gathers before reading their TaskInfo items (one batch read of 100 keys each). */
const INFO_BATCH = 100;

export class TaskRegistry {
  /** Rows as this process's status updates wrote them lately (recent-tasks.ts), where the registrar keeps them. */
  readonly recent: RecentTasks | undefined;
  /** Writes of concurrent callers, together (statement-batches.ts): a launch's rows, a status batch's updates. */
  private readonly statements: StatementBatches;
  private readonly statusRows: StatusRowWrites;

  constructor(
    private readonly context: RegistrarContext,
    /** The cluster's counts by state, kept by every write that changes a row's state. */
    private readonly counters: TaskCounters,
    keepRecent = false,
  ) {
    this.recent = keepRecent ? new RecentTasks(context, RECENT_TASK_MS) : undefined;
    this.statements = new StatementBatches((statements) => context.executeBatch(statements));
    this.statusRows = new StatusRowWrites(context, this.statements);
  }

  private get table(): string {
    return this.context.tables.tasks;
  }

  private get infoTable(): string {
    return this.context.tables.taskinfos;
  }

  /** Each row with its TaskInfo item, read in batches (a page's or a scan page's rows). */
  private async withInfos(items: readonly Item[]): Promise<TaskWithInfo[]> {
    const infos = await this.context.batchGet(
      this.infoTable,
      items.map((item) => rowKey(item.framework_id as string, item.task_id as string)),
      { consistent: true },
    );
    const byKey = new Map(infos.map((info) => [taskKey(info.framework_id as string, info.task_id as string), info]));
    return items.map((item) => withInfo(item, byKey.get(taskKey(item.framework_id as string, item.task_id as string))));
  }

  /** The row, read consistently unless `consistent` is false (half the units; it may miss the latest writes). */
  async get(frameworkId: string, taskId: string, consistent = true): Promise<TaskRecord | undefined> {
    const item = await this.context.get(this.table, rowKey(frameworkId, taskId), RECORD_ATTRIBUTES, consistent);
    return item ? taskFromItem(item) : undefined;
  }

  /**
   * The rows of these tasks that exist, by `taskKey`, in batch reads of 100: consistent unless `consistent`
   * is false (half the units; a status batch's tasks need the latest, the sweeper's checks do not).
   */
  async getMany(
    keys: ReadonlyArray<{ readonly frameworkId: string; readonly taskId: string }>,
    consistent = true,
  ): Promise<Map<string, TaskRecord>> {
    const items = await this.context.batchGet(
      this.table,
      keys.map((key) => rowKey(key.frameworkId, key.taskId)),
      { attributes: RECORD_ATTRIBUTES, consistent },
    );
    return new Map(items.map(taskFromItem).map((task) => [taskKey(task.frameworkId, task.taskId), task]));
  }

  /**
   * Records a launched task in TASK_STAGING. Idempotent for the same launch; a task id still active for
   * the framework is a duplicate (a finished one may be reused, as Mesos allows). LAUNCH_DROPPED: the
   * sweeper ended this launch first (`recordDropped`), so it must not go ahead.
   */
  async add(
    task: NewTask,
  ): Promise<Result<TaskRecord, RegistrarError<'INVALID_ARGUMENT' | 'DUPLICATE_TASK' | 'LAUNCH_DROPPED'>>> {
    const parsed = TaskInfoSchema.safeParse(task.info);
    if (!parsed.success) return failure('INVALID_ARGUMENT', `Invalid TaskInfo: ${describeZodError(parsed.error)}`);
    const info: TaskInfo = parsed.data;
    const idError = validateTaskId(info.task_id.value);
    if (idError) return failure('INVALID_ARGUMENT', idError);
    const { data: _data, ...kept } = info;
    const now = this.context.now();
    const item: Item = {
      ...rowKey(task.frameworkId, info.task_id.value),
      framework_id: task.frameworkId,
      agent_id: task.agentId,
      name: info.name,
      role: task.role,
      resources: JSON.stringify(task.resources),
      state: 'TASK_STAGING',
      uuids: [],
      launch_id: task.launchId,
      version: 1,
      created_at: now,
      updated_at: now,
    };
    const outcome = await this.insertRow(item, task.launchId);
    // The TaskInfo follows the row that claimed the task id (never before it: a duplicate launch must not replace
    // the running task's), and again for a retried launch, which may have stopped between the two.
    const infoItem: Item = {
      ...rowKey(task.frameworkId, info.task_id.value),
      framework_id: task.frameworkId,
      info: JSON.stringify(kept),
      expires_at: epochSeconds(now + INFO_LEASE_MS),
    };
    if (outcome.written) {
      await Promise.all([this.putInfo(infoItem), this.counters.transition(undefined, 'TASK_STAGING')]);
      return ok(taskFromItem(item));
    }
    const existing = outcome.old ? taskFromItem(outcome.old) : undefined;
    if (existing?.launchId === task.launchId) {
      // Before its launch command is sent, a launch's own row ends only by the sweeper's drop.
      if (isTerminal(existing.state)) {
        return failure('LAUNCH_DROPPED', `Launch ${task.launchId} of task ${info.task_id.value} was dropped meanwhile`);
      }
      await this.putInfo(infoItem);
      return ok(existing);
    }
    return failure('DUPLICATE_TASK', `Task ${info.task_id.value} of framework ${task.frameworkId} already exists`);
  }

  /**
   * Ends a launch the ledger holds that has no row of its own: a TASK_DROPPED row under its launch id,
   * written on `add`'s own condition, so that of this and the launch's late `add` exactly one is
   * written. Not written when the task id is taken (by this launch's own row, or another launch's active
   * one): `row` is then the row that is there.
   */
  async recordDropped(
    taskId: string,
    launch: DroppedLaunch,
  ): Promise<{ readonly written: boolean; readonly row?: TaskRecord }> {
    const now = this.context.now();
    const { data: _data, ...status } = launch.status;
    const item: Item = {
      ...rowKey(launch.frameworkId, taskId),
      framework_id: launch.frameworkId,
      agent_id: launch.agentId,
      // The ledger keeps no TaskInfo: the row has no name and no `info`.
      name: '',
      role: launch.role,
      resources: JSON.stringify(launch.resources),
      state: 'TASK_DROPPED',
      status: JSON.stringify(status),
      uuids: [],
      launch_id: launch.launchId,
      version: 1,
      created_at: now,
      updated_at: now,
      terminal_at: now,
      expires_at: epochSeconds(now + FINISHED_RETENTION_MS),
      acknowledged: true,
    };
    const outcome = await this.putFor(item, launch.launchId);
    if (outcome.written) {
      await this.counters.transition(undefined, 'TASK_DROPPED');
      return { written: true, row: taskFromItem(item) };
    }
    return { written: false, ...(outcome.old ? { row: taskFromItem(outcome.old) } : {}) };
  }

  /**
   * A new task's row, inserted with the launch's others in one request (the id is free: the usual case); where a row
   * has the id, or the request failed, put on its own by `putFor`.
   */
  private async insertRow(item: Item, launchId: string): Promise<WriteOutcome> {
    const key = rowKey(item.framework_id as string, item.task_id as string);
    const inserted = await this.statements.write(insertStatement(this.table, key, item));
    return inserted.written ? { written: true, item } : this.putFor(item, launchId);
  }

  /** A TaskInfo's item, inserted with the launch's others; put on its own where one is there (a retried launch). */
  private async putInfo(item: Item): Promise<void> {
    const key = rowKey(item.framework_id as string, item.task_id as string);
    const inserted = await this.statements.write(insertStatement(this.infoTable, key, item));
    if (!inserted.written) await this.context.put({ TableName: this.infoTable, Item: item });
  }

  /** Puts a task's row if its id is free for `launchId`: no row, or a finished one of another launch. */
  private putFor(item: Item, launchId: string) {
    const x = new Expression();
    const terminal = [...TERMINAL_STATES].map((state) => x.value(state)).join(', ');
    const launch = x.name('launch_id');
    return this.context.put({
      TableName: this.table,
      Item: item,
      ConditionExpression:
        `attribute_not_exists(${x.name('task_id')}) OR ` +
        `(${x.name('state')} IN (${terminal}) AND ${launch} <> ${x.value(launchId)})`,
      ...x.attributes(),
    });
  }

  /**
   * Applies a status update through the task state machine. An update from an agent names it
   * (`from.agentId`): it applies only to a task on that agent, checked in the write's condition too.
   * `from.known` is the row as the caller last read or wrote it, used instead of a read for the first try
   * (the write is conditioned on its version: a stale row costs a refused write and a read, never a wrong one).
   * `from.batched`: the write goes with those of concurrent callers in one request (the status handler's batch;
   * statement-batches.ts), falling back to a write of its own if that request fails.
   */
  async updateStatus(
    frameworkId: string,
    status: unknown,
    from: { readonly agentId?: string; readonly known?: TaskRecord; readonly batched?: boolean } = {},
  ): Promise<
    Result<
      StatusUpdateResult,
      RegistrarError<'INVALID_ARGUMENT' | 'UNKNOWN_TASK' | 'ILLEGAL_TRANSITION' | 'AGENT_MISMATCH'>
    >
  > {
    const parsed = TaskStatusSchema.safeParse(status);
    if (!parsed.success) return failure('INVALID_ARGUMENT', `Invalid TaskStatus: ${describeZodError(parsed.error)}`);
    const { data: _data, ...update } = parsed.data;
    const taskId = update.task_id.value;
    let known = from.known?.frameworkId === frameworkId && from.known.taskId === taskId ? from.known : undefined;
    const result = await retrying(16, async () => {
      const task = known ?? (await this.get(frameworkId, taskId));
      known = undefined;
      if (!task) return failure('UNKNOWN_TASK', `Task ${taskId} of framework ${frameworkId} is not known`);
      if (from.agentId !== undefined && task.agentId !== from.agentId) {
        return failure('AGENT_MISMATCH', `Task ${taskId} of framework ${frameworkId} is not on agent ${from.agentId}`);
      }
      const applied = applyStatusUpdate(task, { state: update.state, uuid: update.uuid });
      if (applied.kind === 'duplicate') return ok<StatusUpdateResult>({ outcome: 'duplicate', task });
      if (applied.kind === 'rejected') return failure(applied.code, applied.message);
      const now = this.context.now();
      const fields: Item = {
        state: applied.record.state,
        uuids: applied.record.uuids,
        status: JSON.stringify(update),
        ...(update.uuid !== undefined ? { last_uuid: update.uuid } : {}),
        updated_at: now,
        version: task.version + 1,
        ...(isTerminal(applied.record.state)
          ? {
              terminal_at: now,
              expires_at: epochSeconds(now + FINISHED_RETENTION_MS),
              // A master-generated terminal update has no uuid and is never acknowledged.
              ...(update.uuid === undefined ? { acknowledged: true } : {}),
            }
          : {}),
      };
      if (!(await this.statusRows.write(task, fields, from))) return RETRY;
      await Promise.all([
        this.counters.transition(task.state, applied.record.state),
        ...(applied.becameTerminal ? [this.expireInfo(task, fields.expires_at as number)] : []),
      ]);
      // The write was conditioned on the version read, so the new row is the old one plus these fields.
      const updated: TaskRecord = {
        ...task,
        state: applied.record.state,
        uuids: [...applied.record.uuids],
        status: update,
        updatedAt: now,
        version: task.version + 1,
        acknowledged: task.acknowledged || (applied.becameTerminal && update.uuid === undefined),
      };
      return ok<StatusUpdateResult>({
        outcome: 'applied',
        task: this.keep(updated),
        previous: applied.previous,
        becameTerminal: applied.becameTerminal,
      });
    });
    if (result === RETRY) throw new Error(`Task ${taskId} kept changing; the status update gave up`);
    return result;
  }

  /** The row a status update wrote, kept where the registrar keeps them. */
  private keep(written: TaskRecord): TaskRecord {
    this.recent?.wrote(written);
    return written;
  }

  /**
   * Gives the TaskInfo item of a finished task that ran past a renewal period the row's expiry (its lease is whatever
   * the sweeper's latest renewal left); a shorter one's lease from its launch outlasts the row. Best effort, as the counts are: the row's write has happened, and an item left
   * with its lease (counted, `registrar/task_info_expiry_errors`) expires when that ends.
   */
  private async expireInfo({ frameworkId, taskId, createdAt }: TaskRecord, expiresAt: number): Promise<void> {
    if (infoOutlivesRow(createdAt, this.context.now())) return;
    const x = new Expression();
    try {
      await this.context.update(
        {
          TableName: this.infoTable,
          Key: rowKey(frameworkId, taskId),
          UpdateExpression: `SET ${x.name('expires_at')} = ${x.value(expiresAt)}`,
          // A launch the sweeper dropped has none: create no stub.
          ConditionExpression: `attribute_exists(${x.name('task_id')})`,
          ...x.attributes(),
        },
        'NONE',
      );
    } catch {
      this.context.metrics.increment('registrar/task_info_expiry_errors');
    }
  }

  /** Renews the TaskInfo leases of these running tasks where due (the sweeper's; task-info-leases.ts). */
  renewInfos(keys: ReadonlyArray<{ readonly frameworkId: string; readonly taskId: string }>): Promise<number> {
    return renewInfoLeases(this.context, keys);
  }

  /**
   * The framework acknowledged an update. Only the acknowledgement of the latest, terminal update
   * changes the row: the task is then done with (implicit reconciliation no longer reports it).
   */
  async acknowledge(frameworkId: string, taskId: string, uuid: string): Promise<boolean> {
    const x = new Expression();
    const terminal = [...TERMINAL_STATES].map((state) => x.value(state)).join(', ');
    const outcome = await this.context.update(
      {
        TableName: this.table,
        Key: rowKey(frameworkId, taskId),
        UpdateExpression: `SET ${x.name('acknowledged')} = ${x.value(true)}`,
        ConditionExpression:
          `${x.name('state')} IN (${terminal}) AND ${x.name('last_uuid')} = ${x.value(uuid)} AND ` +
          `NOT ${x.name('acknowledged')} = ${x.value(true)}`,
        ...x.attributes(),
      },
      'NONE',
    );
    return outcome.written;
  }

  /**
   * Every task row with the TaskInfo it was launched with (the operator's view of the cluster: GET_TASKS,
   * `/master/state`), page by page. A scan: finished rows are kept for a week, so its cost grows with
   * the tasks of the last week.
   */
  async *scanWithInfo(): AsyncGenerator<TaskWithInfo> {
    let page: Item[] = [];
    for await (const item of this.context.scan(this.table, RECORD_ATTRIBUTES)) {
      page.push(item);
      if (page.length === INFO_BATCH) {
        yield* await this.withInfos(page);
        page = [];
      }
    }
    yield* await this.withInfos(page);
  }

  /**
   * One page of task rows with their TaskInfo (all tasks, or one framework's): at most `limit`, from
   * where `cursor` (an earlier page's `next`) left off; all tasks in the table's order (not by time), a
   * framework's by task id (its shards' queries merged). A read costs its page only (and a framework's,
   * a query of each shard), however many tasks the table holds. `next` is absent after the last page.
   */
  async page(options: {
    readonly limit: number;
    readonly cursor?: string;
    readonly frameworkId?: string;
  }): Promise<Result<{ tasks: TaskWithInfo[]; next?: string }, RegistrarError<'INVALID_ARGUMENT'>>> {
    const { limit, cursor, frameworkId } = options;
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_TASK_PAGE) {
      return failure('INVALID_ARGUMENT', `Invalid limit: a page holds 1 to ${MAX_TASK_PAGE} tasks`);
    }
    const start = cursor === undefined ? undefined : decodeCursor(cursor, frameworkId);
    if (start && !start.ok) return start;
    if (frameworkId === '') return ok({ tasks: [] });
    let items: Item[];
    let more: boolean;
    if (frameworkId === undefined) {
      const page = await this.context.onePage(this.table, {
        limit,
        attributes: RECORD_ATTRIBUTES,
        ...(start ? { start: rowKey(start.value.framework_id, start.value.task_id) } : {}),
      });
      items = page.items;
      more = page.next !== undefined;
    } else {
      const merge = new ShardMerge(this.context, this.table, frameworkId, {
        sortKey: 'task_id',
        pageSize: shardPageSize(limit),
        attributes: RECORD_ATTRIBUTES,
        ...(start ? { after: start.value.task_id } : {}),
      });
      items = await merge.take(limit);
      more = !merge.finished;
    }
    // The cursor is the last row's task key: the scan's key to continue from, and where a framework's merge resumes.
    const last = items.at(-1);
    return ok({ tasks: await this.withInfos(items), ...(more && last ? { next: encodeCursor(last) } : {}) });
  }

  /** The framework's tasks (active and finished-but-retained) by task id, its shards read page by page. */
  async *listByFramework(frameworkId: string): AsyncGenerator<TaskRecord> {
    if (frameworkId === '') return;
    const merge = new ShardMerge(this.context, this.table, frameworkId, { sortKey: 'task_id' });
    while (!merge.finished) {
      for (const item of await merge.take(INFO_BATCH)) yield taskFromItem(item);
    }
  }
}
