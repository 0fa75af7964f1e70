/**
 * The status pipeline (docs/architecture.md "How a request flows"): agents' updates come off the status
 * FIFO queue and go through the task state machine in the registrar (idempotent by uuid, never
 * regressing). Then `planStatusUpdate` decides, purely, what follows — free the resources of a
 * terminal task, forward the update to the framework as an UPDATE event, or acknowledge it to the
 * agent — and `handleAgentMessage` does it. The framework's ACKNOWLEDGE is turned into an
 * acknowledgement to the agent (see scheduler/acknowledge.ts).
 *
 * Updates the master cannot forward (unknown task, a framework that is gone, a transition the state
 * machine refuses) are acknowledged to the agent directly: the master has taken responsibility for
 * them, and the agent must stop retrying.
 */
import type { AgentMessage } from '../../shared/protocol/internal.js';
import type { TaskStatus } from '../../shared/protocol/mesos.js';
import type { Result } from '../../shared/result.js';
import { isTerminal, stateForFramework } from '../../shared/tasks/state-machine.js';
import type { FrameworkRecord, RegistrarError, StatusUpdateResult } from '../registrar/index.js';
import { agentDrained } from '../fleet/drain.js';
import { publishEvents, sendAgentCommands, type Master } from './master.js';
import { isPartitionAware, updateEvent } from './statuses.js';

type StatusUpdate = Extract<AgentMessage, { type: 'STATUS_UPDATE' }>;

/** What follows an update the state machine ruled on. */
export interface StatusPlan {
  readonly counters: readonly string[];
  /** Why the update was not applied, for the logs. */
  readonly refused?: { readonly code: string; readonly why: string };
  /** The task is terminal: its resources go back now, before any acknowledgement (as in Mesos). */
  readonly release?: { readonly agentId: string; readonly frameworkId: string; readonly taskId: string };
  /** Forward the update to the framework, acknowledge it to the agent ourselves, or neither. */
  readonly reply:
    | { readonly kind: 'forward'; readonly framework: FrameworkRecord; readonly status: TaskStatus }
    | { readonly kind: 'acknowledge' }
    | { readonly kind: 'none' };
}

/** Decides what follows the state machine's ruling on `message`, given the framework as read. Pure. */
export function planStatusUpdate(
  message: StatusUpdate,
  applied: Result<StatusUpdateResult, RegistrarError>,
  framework: FrameworkRecord | undefined,
): StatusPlan {
  const { status } = message;
  if (!applied.ok) {
    return {
      counters: ['master/invalid_status_updates'],
      refused: { code: applied.error.code, why: applied.error.message },
      reply: { kind: 'acknowledge' },
    };
  }
  const { task, outcome } = applied.value;
  const counters = [
    'master/valid_status_updates',
    ...(outcome === 'applied' ? [`master/task_updates/${task.state}`] : []),
  ];
  const release = isTerminal(task.state)
    ? { agentId: task.agentId, frameworkId: message.framework_id.value, taskId: task.taskId }
    : undefined;
  const plan = (reply: StatusPlan['reply']): StatusPlan => ({ counters, ...(release ? { release } : {}), reply });
  if (!framework || framework.status === 'REMOVED' || !framework.eventQueueUrl) return plan({ kind: 'acknowledge' });
  // A redelivered copy of an older update is not shown again: the framework only sees forward moves.
  if (outcome !== 'applied' && task.status?.uuid !== status.uuid) return plan({ kind: 'none' });
  if (outcome === 'duplicate' && task.acknowledged && isTerminal(task.state)) {
    // The framework already acknowledged this terminal update; the agent resent it because the
    // acknowledgement did not reach it. Acknowledge again rather than show the framework a second end.
    return plan({ kind: 'acknowledge' });
  }
  const forwarded: TaskStatus = {
    ...status,
    state: stateForFramework(status.state, isPartitionAware(framework.info)),
    agent_id: { value: message.agent_id.value },
  };
  return plan({ kind: 'forward', framework, status: forwarded });
}

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
