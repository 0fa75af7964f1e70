/**
 * What an agent's shutdown does to its work (Mesos `Slave::shutdown` shutting its executors down): every custom
 * executor is told to shut down and every task is killed with the grace given, and the agent waits, a bounded
 * time, for them all to end.
 */
import type { AgentContext } from './context.js';

const WHY = 'The agent is shutting down';

export async function killEveryTask(
  context: Pick<AgentContext, 'executors' | 'customExecutors'>,
  gracePeriodMs: number,
): Promise<void> {
  await context.customExecutors.shutdown(() => true, WHY);
  const live = [...context.executors.values()].filter((executor) => !executor.terminated);
  await Promise.all(live.map((executor) => executor.kill({ gracePeriodMs, message: WHY })));
  const deadline = Date.now() + gracePeriodMs + 10_000;
  while (Date.now() < deadline && [...context.executors.values()].some((executor) => !executor.terminated)) {
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}
