/**
 * The status pipeline (docs/architecture.md, "Status updates"): agents' updates come off the status
 * FIFO queue and go through the task state machine in the registrar (idempotent by uuid, never
 * regressing). Then `planStatusUpdate` (status-plan.ts) decides, purely, what follows — free the resources of a
 * terminal task, forward the update to the framework as an UPDATE event, or acknowledge it to the
 * agent — and `handleAgentMessage` does it. The framework's ACKNOWLEDGE is turned into an
 * acknowledgement to the agent (see scheduler/acknowledge.ts).
 *
 * Updates the master cannot forward (unknown task, a framework that is gone, a transition the state
 * machine refuses) are acknowledged to the agent directly: the master has taken responsibility for
 * them, and the agent must stop retrying.
 */
import type { AgentMessage } from '#shared/protocol/internal.js';
import type { TaskStatus } from '#shared/protocol/mesos.js';
import { agentDrained } from '../fleet/drain.js';
import { publishEvents, sendAgentCommands, type Master } from './master.js';
import { planStatusUpdate } from './status-plan.js';
import { updateEvent } from './statuses.js';

async function acknowledgeToAgent(
  master: Pick<Master, 'registrar' | 'queues'>,
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
  const applied = await master.registrar.tasks.updateStatus(frameworkId, status);
  const framework = applied.ok ? await master.registrar.frameworks.get(frameworkId) : undefined;
  const plan = planStatusUpdate(message, applied, framework);

  for (const counter of plan.counters) master.metrics.increment(counter);
  if (plan.refused) {
    const log = { agentId, frameworkId, taskId: status.task_id.value, state: status.state };
    master.logger.warn('Status update not applied', { ...log, code: plan.refused.code, why: plan.refused.why });
  }
  if (plan.release) {
    const released = await master.registrar.agents.releaseTasks({
      agentId: plan.release.agentId,
      tasks: [{ frameworkId, taskId: plan.release.taskId }],
    });
    if (released.ok && released.value.released.length > 0) {
      await master.allocation.request({ reason: 'RESOURCES_RECOVERED', agentIds: [plan.release.agentId] });
    }
  }
  if (plan.reply.kind === 'acknowledge') await acknowledgeToAgent(master, agentId, frameworkId, status);
  else if (plan.reply.kind === 'forward') {
    await publishEvents(master, plan.reply.framework, [updateEvent(plan.reply.status)]);
  }
}
