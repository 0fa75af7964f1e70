/** A tiny queue-delivered framework for the tests: one task on the first offer, every other offer declined. */
import type { TaskStatus } from '#shared/protocol/mesos.js';
import type { QueueFramework } from '../../sdk/queue-scheduler.js';
import { resources } from './resources.js';

export function oneTaskFramework(
  taskId: string,
  command: string,
  onStatus: (status: TaskStatus) => void,
): QueueFramework {
  let launched = false;
  return {
    async resourceOffers(scheduler, offers) {
      for (const offer of offers) {
        if (launched) {
          await scheduler.decline([offer.id.value], 60);
          continue;
        }
        launched = true;
        const task = {
          name: taskId,
          task_id: { value: taskId },
          agent_id: offer.agent_id,
          command: { value: command },
        };
        await scheduler.launch([offer.id.value], [{ ...task, resources: resources('cpus:0.1;mem:32') }]);
      }
    },
    statusUpdate: (_scheduler, status) => onStatus(status),
  };
}
