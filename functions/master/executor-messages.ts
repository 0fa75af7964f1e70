/**
 * What a custom executor sends its framework through its agent (Mesos `Master::executorMessage` and
 * `Master::exitedExecutor`): its MESSAGE, forwarded as a MESSAGE event, and its end, forwarded as a
 * FAILURE event with the executor's id and `waitpid` status. Best effort, as in Mesos: a framework that
 * is gone gets nothing, and the message is counted as invalid. The end gives the executor's resources
 * back in any case (Mesos `removeExecutor`).
 */
import type { AgentMessage } from '#shared/protocol/internal.js';
import type { Event } from '#shared/protocol/scheduler.js';
import { publishEvents, type Master } from './master.js';

type ExecutorMessage = Extract<AgentMessage, { type: 'EXECUTOR_MESSAGE' | 'EXECUTOR_EXITED' }>;

/** The framework's event for the agent's message. Pure. */
export function executorEvent(message: ExecutorMessage): Event {
  const { agent_id, executor_id } = message;
  return message.type === 'EXECUTOR_MESSAGE'
    ? { type: 'MESSAGE', message: { agent_id, executor_id, data: message.data } }
    : { type: 'FAILURE', failure: { agent_id, executor_id, status: message.status } };
}

export async function handleExecutorMessage(
  master: Pick<Master, 'registrar' | 'events' | 'metrics' | 'logger' | 'allocation'>,
  message: ExecutorMessage,
): Promise<void> {
  const frameworkId = message.framework_id.value;
  if (message.type === 'EXECUTOR_EXITED') await releaseExecutor(master, message);
  const framework = await master.registrar.recentFrameworks.get(frameworkId);
  const counted = message.type === 'EXECUTOR_MESSAGE' ? 'executor_to_framework_messages' : 'executor_failures';
  if (!framework || framework.status === 'REMOVED') {
    master.metrics.increment(`master/invalid_${counted}`);
    master.logger.warn('Dropping an executor message for a framework that is gone', {
      type: message.type,
      frameworkId,
      agentId: message.agent_id.value,
      executorId: message.executor_id.value,
    });
    return;
  }
  master.metrics.increment(`master/valid_${counted}`);
  await publishEvents(master, framework, [executorEvent(message)]);
}

/** The ended executor's resources back, and an allocation run for them when it held any. */
async function releaseExecutor(
  master: Pick<Master, 'registrar' | 'allocation'>,
  message: Extract<ExecutorMessage, { type: 'EXECUTOR_EXITED' }>,
): Promise<void> {
  const agentId = message.agent_id.value;
  const executors = [{ frameworkId: message.framework_id.value, executorId: message.executor_id.value }];
  const released = await master.registrar.agents.releaseExecutors({ agentId, executors });
  if (released.ok && released.value.released.length > 0) {
    await master.allocation.request({ reason: 'RESOURCES_RECOVERED', agentIds: [agentId] });
  }
}
