/**
 * Task rows and TaskInfo items as DynamoDB holds them: their key (the framework's write shard of the task id,
 * shards.ts), the attributes a record is read from, and the record.
 */
import {
  TaskInfoSchema,
  type Resource,
  type TaskInfo,
  type TaskState,
  type TaskStatus,
} from '#shared/protocol/mesos.js';
import type { Item } from './expression.js';
import { SHARD_ATTRIBUTE, SHARDS, shardKey, shardOf } from './shards.js';

export interface TaskRecord {
  readonly frameworkId: string;
  readonly taskId: string;
  readonly agentId: string;
  readonly name: string;
  readonly role: string;
  readonly resources: Resource[];
  readonly state: TaskState;
  /** The latest status applied (its `data` dropped, as the Mesos master drops it). */
  readonly status?: TaskStatus;
  readonly uuids: string[];
  /** Which launch created the row; a retried follow-up of the same launch is recognised by it. */
  readonly launchId: string;
  readonly version: number;
  readonly createdAt: number;
  readonly updatedAt: number;
  /** The framework acknowledged the terminal update: the task is done with (Mesos drops it then). */
  readonly acknowledged: boolean;
}

/** The key of a task's row and of its TaskInfo item. */
export function rowKey(frameworkId: string, taskId: string): Item {
  return { [SHARD_ATTRIBUTE]: shardKey(frameworkId, shardOf(taskId)), task_id: taskId };
}

/**
 * Rows a page's read takes from each shard at a time: its share of the page twice over (the shards' rows interleave
 * unevenly), not under 16 (a query costs a read unit however few rows it returns), never more than the page.
 */
export function shardPageSize(limit: number): number {
  return Math.min(limit, Math.max(16, Math.ceil((2 * limit) / SHARDS)));
}

export const RECORD_ATTRIBUTES = [
  'framework_id',
  'task_id',
  'agent_id',
  'name',
  'role',
  'resources',
  'state',
  'status',
  'uuids',
  'launch_id',
  'version',
  'created_at',
  'updated_at',
  'acknowledged',
] as const;

export function taskFromItem(item: Item): TaskRecord {
  return {
    frameworkId: item.framework_id as string,
    taskId: item.task_id as string,
    agentId: item.agent_id as string,
    name: item.name as string,
    role: item.role as string,
    resources: JSON.parse(item.resources as string) as Resource[],
    state: item.state as TaskState,
    ...(item.status ? { status: JSON.parse(item.status as string) as TaskStatus } : {}),
    uuids: (item.uuids ?? []) as string[],
    launchId: item.launch_id as string,
    version: item.version as number,
    createdAt: item.created_at as number,
    updatedAt: item.updated_at as number,
    acknowledged: item.acknowledged === true,
  };
}

/** A task row with the TaskInfo it was launched with (absent for a row whose TaskInfo no longer parses). */
export interface TaskWithInfo {
  readonly task: TaskRecord;
  readonly info?: TaskInfo;
}

/** The row and its TaskInfo item's `info` (none for a launch the sweeper dropped). */
export function withInfo(item: Item, infoItem: Item | undefined): TaskWithInfo {
  const stored = infoItem?.info;
  const info = typeof stored === 'string' ? TaskInfoSchema.safeParse(JSON.parse(stored)) : undefined;
  return { task: taskFromItem(item), ...(info?.success ? { info: info.data } : {}) };
}
