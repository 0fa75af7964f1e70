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

export async function reconcile(master: Master, framework: FrameworkRecord, wanted: Wanted): Promise<number> {
  const now = master.now();
  const unreachableSince = async (agentId: string) => (await master.registrar.agents.get(agentId))?.unreachableAt;
  const answer = async (taskId: string, state: TaskState, agentId: string | undefined, since?: number) =>
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
      task.state === 'TASK_UNREACHABLE' ? await unreachableSince(task.agentId) : undefined,
    );

  const events = [];
  if (wanted.length === 0) {
    for await (const task of master.registrar.tasks.listByFramework(framework.frameworkId)) {
      if (!isTerminal(task.state) || !task.acknowledged) events.push(await known(task));
    }
  } else {
    for (const { task_id, agent_id } of wanted) {
      const task = await master.registrar.tasks.get(framework.frameworkId, task_id.value);
      if (task) {
        events.push(await known(task));
        continue;
      }
      const agent = agent_id ? await master.registrar.agents.get(agent_id.value) : undefined;
      const state: TaskState = !agent
        ? 'TASK_UNKNOWN'
        : agent.status === 'ACTIVE'
          ? 'TASK_GONE'
          : agent.status === 'UNREACHABLE'
            ? 'TASK_UNREACHABLE'
            : 'TASK_GONE_BY_OPERATOR';
      events.push(await answer(task_id.value, state, agent_id?.value, agent?.unreachableAt));
    }
  }
  await publishEvents(master, framework, events);
  master.metrics.increment('master/messages_reconcile_tasks');
  return events.length;
}
