/** SHUTDOWN: the agent shuts the executor down (and with it its tasks). */
import type { FrameworkRecord } from '../registrar/index.js';
import { sendAgentCommands, type Master } from '../master/master.js';
import { ACCEPTED, type CallResponse } from './responses.js';
import type { CallOf } from './validation.js';

export async function shutdown(
  master: Pick<Master, 'registrar' | 'queues'>,
  framework: FrameworkRecord,
  call: CallOf<'SHUTDOWN'>,
): Promise<CallResponse> {
  const { executor_id, agent_id } = call.shutdown;
  const agent = await master.registrar.agents.get(agent_id.value);
  if (agent && agent.status !== 'GONE') {
    await sendAgentCommands(master, agent, [
      { type: 'SHUTDOWN_EXECUTOR', framework_id: { value: framework.frameworkId }, executor_id },
    ]);
  }
  return ACCEPTED;
}
