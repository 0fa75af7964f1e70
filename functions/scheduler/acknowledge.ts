/**
 * ACKNOWLEDGE: the framework's acknowledgement of a status update goes to the agent (which stops
 * retrying it); an acknowledgement of the latest terminal update marks the task done with. Mesos drops
 * acknowledgements of unknown tasks (still 202) and counts them.
 */
import { isTerminal } from '#shared/tasks/state-machine.js';
import type { FrameworkRecord } from '../registrar/index.js';
import { sendAgentCommands, type Master } from '../master/master.js';
import { ACCEPTED, type CallResponse } from './responses.js';
import type { CallOf } from './validation.js';

export async function acknowledge(
  master: Pick<Master, 'registrar' | 'queues' | 'metrics'>,
  framework: FrameworkRecord,
  call: CallOf<'ACKNOWLEDGE'>,
): Promise<CallResponse> {
  const { frameworkId } = framework;
  const { agent_id, task_id, uuid } = call.acknowledge;
  const task = await master.registrar.tasks.get(frameworkId, task_id.value);
  const agent = task && task.agentId === agent_id.value ? await master.registrar.agents.get(agent_id.value) : undefined;
  if (!task || !agent || agent.status === 'GONE') {
    master.metrics.increment('master/invalid_status_update_acknowledgements');
    return ACCEPTED;
  }
  await sendAgentCommands(master, agent, [
    { type: 'ACKNOWLEDGE', framework_id: { value: frameworkId }, task_id, uuid },
  ]);
  // Only the acknowledgement of the latest, terminal update changes the row. The row was read consistently, after
  // the update was written (the framework saw it), so a write skipped here is one whose condition would fail, a
  // write DynamoDB bills all the same.
  if (isTerminal(task.state) && task.status?.uuid === uuid && !task.acknowledged) {
    await master.registrar.tasks.acknowledge(frameworkId, task_id.value, uuid);
  }
  master.metrics.increment('master/valid_status_update_acknowledgements');
  return ACCEPTED;
}
