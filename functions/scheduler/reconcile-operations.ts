/** RECONCILE_OPERATIONS: Mantle keeps no operation records past their feedback, so every one is unknown. */
import type { FrameworkRecord } from '../registrar/index.js';
import { publishEvents, type Master } from '../master/master.js';
import { ACCEPTED, type CallResponse } from './responses.js';
import type { CallOf } from './validation.js';

export async function reconcileOperations(
  master: Pick<Master, 'events' | 'metrics'>,
  framework: FrameworkRecord,
  call: CallOf<'RECONCILE_OPERATIONS'>,
): Promise<CallResponse> {
  const operations = call.reconcile_operations.operations ?? [];
  await publishEvents(
    master,
    framework,
    operations.map((operation) => ({
      type: 'UPDATE_OPERATION_STATUS' as const,
      update_operation_status: {
        status: {
          operation_id: operation.operation_id,
          state: 'OPERATION_UNKNOWN' as const,
          ...(operation.agent_id ? { agent_id: operation.agent_id } : {}),
        },
      },
    })),
  );
  return ACCEPTED;
}
