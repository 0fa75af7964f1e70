/**
 * Reads what the operator's views are built from (state.ts): every agent, framework and task in the
 * registrar. Scans: an operator's read costs a read of the cluster's records, as Mesos's `/state`
 * serialises its whole in-memory state; only the parts a call needs are read.
 */
import type { Master } from '../master/master.js';
import { MAX_TASK_PAGE, type AgentRecord, type FrameworkRecord, type TaskWithInfo } from '../registrar/index.js';
import { MANTLE_VERSION } from '../scheduler/subscribe.js';
import { getState, type ClusterSnapshot } from './state.js';

export interface SnapshotParts {
  readonly agents?: boolean;
  readonly frameworks?: boolean;
  readonly tasks?: boolean;
  /**
   * Only this framework's record and tasks: a read of its item and a query of its partition of the task
   * table, not scans (`/master/frameworks?framework_id=`, `/master/tasks?framework_id=`).
   */
  readonly frameworkId?: string;
}

async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const found: T[] = [];
  for await (const item of items) found.push(item);
  return found;
}

/** One framework's tasks with their TaskInfo, page by page through its own partition. */
async function frameworkTasks(registrar: Master['registrar'], frameworkId: string): Promise<TaskWithInfo[]> {
  const found: TaskWithInfo[] = [];
  let cursor: string | undefined;
  do {
    const page = await registrar.tasks.page({ limit: MAX_TASK_PAGE, frameworkId, ...(cursor ? { cursor } : {}) });
    // Only a malformed limit or cursor fails, and both are this loop's own.
    if (!page.ok) throw new Error(page.error.message);
    found.push(...page.value.tasks);
    cursor = page.value.next;
  } while (cursor);
  return found;
}

async function readFrameworks(registrar: Master['registrar'], frameworkId?: string): Promise<FrameworkRecord[]> {
  if (frameworkId === undefined) return collect<FrameworkRecord>(registrar.frameworks.list());
  const framework = await registrar.frameworks.get(frameworkId);
  return framework ? [framework] : [];
}

export async function readSnapshot(master: Pick<Master, 'registrar'>, parts: SnapshotParts): Promise<ClusterSnapshot> {
  const registrar = master.registrar;
  const { frameworkId } = parts;
  const [agents, frameworks, tasks] = await Promise.all([
    parts.agents ? collect<AgentRecord>(registrar.agents.list()) : [],
    parts.frameworks ? readFrameworks(registrar, frameworkId) : [],
    parts.tasks
      ? frameworkId === undefined
        ? collect(registrar.tasks.scanWithInfo())
        : frameworkTasks(registrar, frameworkId)
      : [],
  ]);
  return {
    agents: agents.sort((a, b) => a.registeredAt - b.registeredAt),
    frameworks: frameworks.sort((a, b) => a.registeredAt - b.registeredAt),
    tasks: tasks.sort((a, b) => a.task.createdAt - b.task.createdAt),
    version: MANTLE_VERSION,
  };
}

export const EVERYTHING: SnapshotParts = { agents: true, frameworks: true, tasks: true };

/** Mesos `Response.GetState`: GET_STATE's answer and the operator stream's SUBSCRIBED. */
export async function stateOf(
  master: Pick<Master, 'registrar'>,
  options: { readonly tasks: boolean } = { tasks: true },
): Promise<Record<string, unknown>> {
  return getState(await readSnapshot(master, { ...EVERYTHING, tasks: options.tasks }));
}
