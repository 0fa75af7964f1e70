/**
 * RECONCILE (Mesos docs/reconciliation.md), answered from the registrar. Every answer is SOURCE_MASTER,
 * REASON_RECONCILIATION, without uuid (not to be acknowledged), translated for frameworks without
 * PARTITION_AWARE.
 *
 * Implicit (no tasks): every task the master still has for the framework: the active ones and the
 * terminal ones whose last update was not acknowledged. Explicit: for each task named,
 *   known → its latest state; unknown and its agent registered → TASK_GONE; agent unreachable →
 *   TASK_UNREACHABLE; agent gone → TASK_GONE_BY_OPERATOR; agent unknown (or none named) → TASK_UNKNOWN.
 * (Mesos's "agent recovered but not yet re-registered → no answer" case does not arise: there is no
 * master failover that forgets agents.)
 *
 * An explicit RECONCILE names at most MAX_RECONCILE_TASKS tasks (each is a consistent read of the
 * registrar); a larger one is a 400 that says so: reconcile in batches, or implicitly.
 */
import type { TaskState } from '#shared/protocol/mesos.js';
import type { FrameworkRecord, TaskRecord } from '../registrar/index.js';
import { isTerminal } from '#shared/tasks/state-machine.js';
import { publishEvents, type Master } from '../master/master.js';
import { masterStatus, updateEvent } from '../master/statuses.js';
import { ACCEPTED, badRequest, type CallResponse } from './responses.js';
import type { CallOf } from './validation.js';

type Wanted = NonNullable<CallOf<'RECONCILE'>['reconcile']['tasks']>;

/** Tasks one explicit RECONCILE may name. */
export const MAX_RECONCILE_TASKS = 10_000;

/** RECONCILE, the call. */
export async function reconcileCall(
  master: Master,
  framework: FrameworkRecord,
  call: CallOf<'RECONCILE'>,
): Promise<CallResponse> {
  const named = call.reconcile.tasks?.length ?? 0;
  if (named > MAX_RECONCILE_TASKS) {
    return badRequest(
      `RECONCILE names ${named} tasks; at most ${MAX_RECONCILE_TASKS} per call: reconcile in batches, or implicitly (no tasks)`,
    );
  }
  await reconcile(master, framework, call.reconcile.tasks ?? []);
  return ACCEPTED;
}

/** Explicit RECONCILE reads this many tasks at a time: thousands are answered within an API call's time. */
const READS_AT_ONCE = 50;

/** `each` over `items`, READS_AT_ONCE at a time, results in order. */
async function inTurns<T, R>(items: readonly T[], each: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = [];
  for (let i = 0; i < items.length; i += READS_AT_ONCE) {
    results.push(...(await Promise.all(items.slice(i, i + READS_AT_ONCE).map(each))));
  }
  return results;
}

export async function reconcile(master: Master, framework: FrameworkRecord, wanted: Wanted): Promise<number> {
  const now = master.now();
  // One read per agent however many tasks name it.
  const agents = new Map<string, ReturnType<Master['registrar']['agents']['get']>>();
  const agentOf = (agentId: string) => {
    if (!agents.has(agentId)) agents.set(agentId, master.registrar.agents.get(agentId));
    return agents.get(agentId) as ReturnType<Master['registrar']['agents']['get']>;
  };
  const answer = (taskId: string, state: TaskState, agentId: string | undefined, since?: number) =>
    updateEvent(
      masterStatus(framework.info, {
        taskId,
        state,
        reason: 'REASON_RECONCILIATION',
        message: 'Reconciliation',
        ...(agentId !== undefined ? { agentId } : {}),
        ...(since !== undefined ? { unreachableSince: since } : {}),
        now,
      }),
    );
  const known = async (task: TaskRecord) =>
    answer(
      task.taskId,
      task.state,
      task.agentId,
      task.state === 'TASK_UNREACHABLE' ? (await agentOf(task.agentId))?.unreachableAt : undefined,
    );
  const named = async ({ task_id, agent_id }: Wanted[number]) => {
    const task = await master.registrar.tasks.get(framework.frameworkId, task_id.value);
    if (task) return known(task);
    const agent = agent_id ? await agentOf(agent_id.value) : undefined;
    const state: TaskState = !agent
      ? 'TASK_UNKNOWN'
      : agent.status === 'ACTIVE'
        ? 'TASK_GONE'
        : agent.status === 'UNREACHABLE'
          ? 'TASK_UNREACHABLE'
          : 'TASK_GONE_BY_OPERATOR';
    return answer(task_id.value, state, agent_id?.value, agent?.unreachableAt);
  };

  const events = [];
  if (wanted.length === 0) {
    for await (const task of master.registrar.tasks.listByFramework(framework.frameworkId)) {
      if (!isTerminal(task.state) || !task.acknowledged) events.push(await known(task));
    }
  } else {
    events.push(...(await inTurns(wanted, named)));
  }
  await publishEvents(master, framework, events);
  master.metrics.increment('master/messages_reconcile_tasks');
  return events.length;
}
