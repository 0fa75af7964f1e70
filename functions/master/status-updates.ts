/**
 * The status pipeline (docs/architecture.md, "Status updates"): agents' updates come off the status
 * FIFO queue and go through the task state machine in the registrar (idempotent by uuid, never
 * regressing). Then `planStatusUpdate` (status-plan.ts) decides, purely, what follows — free the resources of a
 * terminal task, forward the update to the framework as an UPDATE event, or acknowledge it to the
 * agent — and `handleAgentMessage` does it. The framework's ACKNOWLEDGE is turned into an
 * acknowledgement to the agent (see scheduler/acknowledge.ts).
 *
 * Updates the master cannot forward (unknown task, a framework that is gone, a transition the state
 * machine refuses, a task that is not on the sending agent) are acknowledged to the agent directly: the
 * master has taken responsibility for them, and the agent must stop retrying.
 *
 * Every message is bound to its agent ("Agent identity" in docs/security.md): an update applies only to
 * a task on the agent that sent it, and a message whose SQS SenderId is not the role session of the agent's
 * instance is dropped and counted — never freeing resources, never answered.
 */
import type { AgentMessage } from '#shared/protocol/internal.js';
import type { TaskStatus } from '#shared/protocol/mesos.js';
import { agentDrained } from '../fleet/drain.js';
import { publishEvents, sendAgentCommands, type Master } from './master.js';
import { expectedSender } from '../fleet/instance-id.js';
import { planForeignSender, planStatusUpdate, type StatusPlan } from './status-plan.js';
import { updateEvent } from './statuses.js';
import { handleExecutorMessage } from './executor-messages.js';

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

/**
 * Who may speak for each agent, as last read. A role session recorded at registration never changes,
 * so it is kept; "anyone" (an agent bound to no instance) is read again after a minute, in case the
 * agent re-registered with a session since.
 */
const senders = new Map<string, { readonly expected: string | undefined; readonly until: number }>();
const UNBOUND_TTL_MS = 60_000;

/** The role session that may speak for the agent (undefined: any sender, off EC2). */
async function senderOf(master: Pick<Master, 'registrar' | 'config'>, agentId: string): Promise<string | undefined> {
  const now = Date.now();
  const known = senders.get(agentId);
  if (known && known.until > now) return known.expected;
  const agent = (await master.registrar.agents.statuses([agentId])).get(agentId);
  // An unknown agent has no tasks an update could apply to.
  if (!agent) return undefined;
  const expected = expectedSender(agent, master.config.agentRoleId);
  if (senders.size >= 10_000) senders.clear();
  senders.set(agentId, {
    expected,
    until: agent.instanceSession !== undefined ? Number.POSITIVE_INFINITY : now + UNBOUND_TTL_MS,
  });
  return expected;
}

function record(master: Master, message: AgentMessage, plan: StatusPlan): void {
  for (const counter of plan.counters) master.metrics.increment(counter);
  if (!plan.refused) return;
  const log = {
    type: message.type,
    agentId: message.agent_id.value,
    ...(message.type === 'STATUS_UPDATE'
      ? { frameworkId: message.framework_id.value, taskId: message.status.task_id.value, state: message.status.state }
      : {}),
  };
  master.logger.warn('Agent message not applied', { ...log, code: plan.refused.code, why: plan.refused.why });
}

/** Handles one agent message; `senderId` is SQS's stamp of who sent it. */
export async function handleAgentMessage(master: Master, message: AgentMessage, senderId?: string): Promise<void> {
  const agentId = message.agent_id.value;
  const foreign = planForeignSender(agentId, await senderOf(master, agentId), senderId);
  if (foreign) return record(master, message, foreign);
  if (message.type === 'DRAINED') {
    // In AWS the instance's termination may now go ahead (the fleet tick would otherwise finish it);
    // an operator's drain with mark_gone ends here.
    await agentDrained(master, master.fleet?.lifecycle, agentId);
    return;
  }
  if (message.type !== 'STATUS_UPDATE') return handleExecutorMessage(master, message);
  const frameworkId = message.framework_id.value;
  const { status } = message;
  const applied = await master.registrar.tasks.updateStatus(frameworkId, status, { agentId });
  // Read per update (several per task): a record up to a second old is fine for where to send the update.
  const framework = applied.ok ? await master.registrar.recentFrameworks.get(frameworkId) : undefined;
  const plan = planStatusUpdate(message, applied, framework, master.now());
  record(master, message, plan);
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
