/** MESSAGE: a framework message to one of its executors, through its agent (when it is active). */
import type { FrameworkRecord } from '../registrar/index.js';
import { sendAgentCommands, type Master } from '../master/master.js';
import { ACCEPTED, type CallResponse } from './responses.js';
import type { CallOf } from './validation.js';

export async function message(
  master: Pick<Master, 'registrar' | 'queues'>,
  framework: FrameworkRecord,
  call: CallOf<'MESSAGE'>,
): Promise<CallResponse> {
  const { agent_id, executor_id, data } = call.message;
  const agent = await master.registrar.agents.get(agent_id.value);
  if (agent?.status === 'ACTIVE') {
    await sendAgentCommands(master, agent, [
      { type: 'FRAMEWORK_MESSAGE', framework_id: { value: framework.frameworkId }, executor_id, data },
    ]);
  }
  return ACCEPTED;
}
