/**
 * ACKNOWLEDGE: the framework's acknowledgement of a status update goes to the agent (which stops
 * retrying it); an acknowledgement of the latest terminal update marks the task done with. Mesos drops
 * acknowledgements of unknown tasks (still 202) and counts them.
 */
import { isTerminal } from '#shared/tasks/state-machine.js';
import type { FrameworkRecord, TaskRecord } from '../registrar/index.js';
import { sendToAgent, type Master } from '../master/master.js';
import { ACCEPTED, type CallResponse } from './responses.js';
import type { CallOf } from './validation.js';

export async function acknowledge(
  master: Pick<Master, 'registrar' | 'queues' | 'metrics'>,
  framework: FrameworkRecord,
  call: CallOf<'ACKNOWLEDGE'>,
): Promise<CallResponse> {
  const { frameworkId } = framework;
  const { agent_id, task_id, uuid } = call.acknowledge;
  const task = await taskWithUpdate(master, frameworkId, task_id.value, uuid);
  // The agent as read within the last second (the registrar's recent agents): where its commands go never changes,
  // and one gone a moment ago is found gone when the send to its deleted queue fails.
  const sent =
    task !== undefined &&
    task.agentId === agent_id.value &&
    (await sendToAgent(master, agent_id.value, [
      { type: 'ACKNOWLEDGE', framework_id: { value: frameworkId }, task_id, uuid },
    ]));
  if (!task || !sent) {
    master.metrics.increment('master/invalid_status_update_acknowledgements');
    return ACCEPTED;
  }
  // Only the acknowledgement of the latest, terminal update changes the row. The row holds the update (the framework
  // saw it after it was written), so a write skipped here is one whose condition would fail, a write DynamoDB bills
  // all the same.
  if (isTerminal(task.state) && task.status?.uuid === uuid && !task.acknowledged) {
    await master.registrar.tasks.acknowledge(frameworkId, task_id.value, uuid);
  }
  master.metrics.increment('master/valid_status_update_acknowledgements');
  return ACCEPTED;
}

/**
 * The task's row: as this process's status update wrote it lately (where the registrar keeps them), else read eventually consistently (half the
 * units). A row that already holds the acknowledged update is recent enough for what is decided on it: a later row
 * has the same agent, a later latest update and a terminal state that never changes. One that does not (not caught
 * up yet, or an unknown update) is read again consistently.
 */
async function taskWithUpdate(
  master: Pick<Master, 'registrar'>,
  frameworkId: string,
  taskId: string,
  uuid: string,
): Promise<TaskRecord | undefined> {
  const written = master.registrar.tasks.recent?.get(frameworkId, taskId);
  if (written?.uuids.includes(uuid)) return written;
  const seen = await master.registrar.tasks.get(frameworkId, taskId, false);
  if (seen?.uuids.includes(uuid)) return seen;
  return master.registrar.tasks.get(frameworkId, taskId);
}
