/**
 * The status pipeline (ARCHITECTURE flow 6): agents' updates come off the status FIFO queue, go through
 * the task state machine in the registrar (idempotent by uuid, never regressing), free resources on
 * terminal states, and are forwarded to the framework as UPDATE events. The framework's ACKNOWLEDGE is
 * turned into an acknowledgement to the agent (see the scheduler calls).
 *
 * Updates the master cannot forward (unknown task, a framework that is gone, a transition the state
 * machine refuses) are acknowledged to the agent directly: the master has taken responsibility for
 * them, and the agent must stop retrying.
 */
import type { AgentMessage } from '../../shared/protocol/internal.js';
import type { TaskStatus } from '../../shared/protocol/mesos.js';
import { isTerminal, stateForFramework } from '../../shared/tasks/state-machine.js';
import { agentDrained } from '../fleet/drain.js';
import { publishEvents, sendAgentCommands, type Master } from './master.js';
import { isPartitionAware, updateEvent } from './statuses.js';

async function acknowledgeToAgent(
  master: Master,
  agentId: string,
  frameworkId: string,
  status: TaskStatus,
): Promise<void> {
  if (status.uuid === undefined) return;
  const agent = await master.registrar.agents.get(agentId);
  if (!agent || agent.status === 'GONE' || !agent.commandQueueUrl) return;
  await sendAgentCommands(master, agent, [
    { type: 'ACKNOWLEDGE', framework_id: { value: frameworkId }, task_id: status.task_id, uuid: status.uuid },
  ]);
}

export async function handleAgentMessage(master: Master, message: AgentMessage): Promise<void> {
  if (message.type === 'DRAINED') {
    // In AWS the instance's termination may now go ahead; the fleet tick would otherwise finish it.
    if (master.fleet?.lifecycle) await agentDrained(master, master.fleet.lifecycle, message.agent_id.value);
    else master.logger.info('Agent drained', { agentId: message.agent_id.value });
    return;
  }
  const agentId = message.agent_id.value;
  const frameworkId = message.framework_id.value;
  const { status } = message;
  const log = { agentId, frameworkId, taskId: status.task_id.value, state: status.state };

  const result = await master.registrar.tasks.updateStatus(frameworkId, status);
  if (!result.ok) {
    master.metrics.increment('master/invalid_status_updates');
    master.logger.warn('Status update not applied', { ...log, code: result.error.code, why: result.error.message });
    await acknowledgeToAgent(master, agentId, frameworkId, status);
    return;
  }
  master.metrics.increment('master/valid_status_updates');
  const { task } = result.value;
  if (result.value.outcome === 'applied') master.metrics.increment(`master/task_updates/${task.state}`);

  // Resources come back as soon as the master knows the task is terminal, before any ack (Mesos).
  if (isTerminal(task.state)) {
    const released = await master.registrar.agents.releaseTasks({
      agentId: task.agentId,
      tasks: [{ frameworkId, taskId: task.taskId }],
    });
    if (released.ok && released.value.released.length > 0) {
      await master.allocation.request({ reason: 'RESOURCES_RECOVERED', agentIds: [task.agentId] });
    }
  }

  // A redelivered copy of an older update is not shown again: the framework only sees forward moves.
  const latest = result.value.outcome === 'applied' || task.status?.uuid === status.uuid;
  const framework = await master.registrar.frameworks.get(frameworkId);
  if (!framework || framework.status === 'REMOVED' || !framework.eventQueueUrl) {
    await acknowledgeToAgent(master, agentId, frameworkId, status);
    return;
  }
  if (!latest) return;
  if (result.value.outcome === 'duplicate' && task.acknowledged && isTerminal(task.state)) {
    // The framework already acknowledged this terminal update; the agent resent it because the
    // acknowledgement did not reach it. Acknowledge again rather than show the framework a second end.
    await acknowledgeToAgent(master, agentId, frameworkId, status);
    return;
  }
  const forwarded: TaskStatus = {
    ...status,
    state: stateForFramework(status.state, isPartitionAware(framework.info)),
    agent_id: { value: agentId },
  };
  await publishEvents(master, framework, [updateEvent(forwarded)]);
}
