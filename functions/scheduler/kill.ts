/**
 * KILL: an unknown (or finished) task is answered by explicit reconciliation, as Mesos does; a task on
 * another agent than the one named is ignored; otherwise the agent kills it (it remembers kills for
 * tasks it has not launched yet: TASK_KILLED, REASON_TASK_KILLED_DURING_LAUNCH). A kill for an
 * unreachable agent waits in its queue until it comes back.
 */
import { isTerminal } from '#shared/tasks/state-machine.js';
import type { FrameworkRecord } from '../registrar/index.js';
import { sendAgentCommands, type Master } from '../master/master.js';
import { reconcile } from './reconcile.js';
import { ACCEPTED, type CallResponse } from './responses.js';
import type { CallOf } from './validation.js';

export async function kill(master: Master, framework: FrameworkRecord, call: CallOf<'KILL'>): Promise<CallResponse> {
  const { kill } = call;
  master.metrics.increment('master/messages_kill_task');
  const task = await master.registrar.tasks.get(framework.frameworkId, kill.task_id.value);
  if (!task || isTerminal(task.state)) {
    await reconcile(master, framework, [
      { task_id: kill.task_id, ...(kill.agent_id ? { agent_id: kill.agent_id } : {}) },
    ]);
    return ACCEPTED;
  }
  if (kill.agent_id && kill.agent_id.value !== task.agentId) return ACCEPTED;
  const agent = await master.registrar.agents.get(task.agentId);
  if (!agent || agent.status === 'GONE') return ACCEPTED;
  await sendAgentCommands(master, agent, [
    {
      type: 'KILL',
      framework_id: { value: framework.frameworkId },
      task_id: kill.task_id,
      ...(kill.kill_policy ? { kill_policy: kill.kill_policy } : {}),
    },
  ]);
  return ACCEPTED;
}
