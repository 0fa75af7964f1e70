/**
 * What an ACCEPT tells its framework (accept-plan.ts): the master-generated task updates (no uuid: never
 * retried, never acknowledged), the operations' feedback, and the metrics that count them.
 */
import type { FrameworkInfo, Operation, OperationStatus, TaskInfo, TaskStatusReason } from '#shared/protocol/mesos.js';
import type { Event } from '#shared/protocol/scheduler.js';
import { masterStatus, updateEvent } from '../master/statuses.js';

/** What the framework is told, and the metrics that count it. */
export interface Told {
  readonly events: Event[];
  readonly counters: string[];
}

/** Collects the master-generated updates and operation feedback of one ACCEPT. */
export class Feedback implements Told {
  readonly events: Event[] = [];
  readonly counters: string[] = [];

  constructor(
    private readonly info: FrameworkInfo,
    private readonly agentId: string | undefined,
    private readonly now: number,
  ) {}

  task(task: TaskInfo, state: 'TASK_ERROR' | 'TASK_DROPPED', reason: TaskStatusReason, message: string): void {
    this.counters.push(`master/task_${state.slice(5).toLowerCase()}/source_master/${reason.toLowerCase()}`);
    this.events.push(
      updateEvent(
        masterStatus(this.info, {
          taskId: task.task_id.value,
          state,
          reason,
          message,
          ...(this.agentId ? { agentId: this.agentId } : {}),
          now: this.now,
        }),
      ),
    );
  }

  operation(operation: Operation, state: OperationStatus['state'], message?: string): void {
    if (!operation.id) return;
    this.events.push({
      type: 'UPDATE_OPERATION_STATUS',
      update_operation_status: {
        status: {
          operation_id: operation.id,
          state,
          ...(message !== undefined ? { message } : {}),
          ...(this.agentId ? { agent_id: { value: this.agentId } } : {}),
        },
      },
    });
  }
}
