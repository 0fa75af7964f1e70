/** Allocation triggers as messages on the allocation queue (timers are delayed messages, up to 15 min). */
import type { Queues } from '../queues/queues.js';
import type { AllocationRequester, AllocationTrigger } from './master.js';

export class QueueAllocationRequester implements AllocationRequester {
  constructor(
    private readonly queues: Queues,
    private readonly queueUrl: string,
  ) {}

  async request(trigger: AllocationTrigger, delaySeconds = 0): Promise<void> {
    await this.queues.send(this.queueUrl, [
      {
        body: {
          reason: trigger.reason,
          ...(trigger.agentIds ? { agent_ids: trigger.agentIds } : {}),
          ...(trigger.frameworkId ? { framework_id: trigger.frameworkId } : {}),
        },
        ...(delaySeconds > 0 ? { delaySeconds: Math.min(900, delaySeconds) } : {}),
      },
    ]);
  }
}
