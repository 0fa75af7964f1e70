/**
 * A scheduler's callbacks (Mesos's Java `Scheduler` interface) and the dispatch of one event to them, shared by the
 * stream driver and the queue-delivered scheduler. `D` is the driver handed to each callback.
 */
import type { MasterInfo, Offer, OperationStatus, TaskStatus } from '#shared/protocol/mesos.js';
import type { Event } from '#shared/protocol/scheduler.js';

type Awaitable = void | Promise<void>;

/** The callbacks of a scheduler; all optional. */
export interface SchedulerCallbacks<D> {
  subscribed?(driver: D, frameworkId: string, masterInfo: MasterInfo | undefined): Awaitable;
  resourceOffers?(driver: D, offers: Offer[]): Awaitable;
  offerRescinded?(driver: D, offerId: string): Awaitable;
  /** Acknowledged by the driver after this returns (unless autoAcknowledge is off). */
  statusUpdate?(driver: D, status: TaskStatus): Awaitable;
  operationStatus?(driver: D, status: OperationStatus): Awaitable;
  frameworkMessage?(driver: D, agentId: string, executorId: string, data: Buffer): Awaitable;
  /** An agent was lost, or an executor exited (FAILURE). */
  failure?(driver: D, agentId: string | undefined, executorId: string | undefined, status?: number): Awaitable;
  /** An ERROR event: the subscription is over (failed over, removed, refused). The driver stops. */
  error?(driver: D, message: string): Awaitable;
  /** The stream was lost; the driver is resubscribing (stream drivers only). */
  disconnected?(driver: D): Awaitable;
}

/** Calls the callback that an event is for. Acknowledging updates and stopping on ERROR are the driver's. */
export async function dispatchEvent<D>(s: SchedulerCallbacks<D>, driver: D, event: Event): Promise<void> {
  switch (event.type) {
    case 'SUBSCRIBED':
      await s.subscribed?.(driver, event.subscribed?.framework_id.value ?? '', event.subscribed?.master_info);
      break;
    case 'OFFERS':
      await s.resourceOffers?.(driver, event.offers?.offers ?? []);
      break;
    case 'RESCIND':
      if (event.rescind) await s.offerRescinded?.(driver, event.rescind.offer_id.value);
      break;
    case 'UPDATE':
      if (event.update) await s.statusUpdate?.(driver, event.update.status);
      break;
    case 'UPDATE_OPERATION_STATUS':
      if (event.update_operation_status) await s.operationStatus?.(driver, event.update_operation_status.status);
      break;
    case 'MESSAGE':
      if (event.message) {
        const { agent_id, executor_id, data } = event.message;
        await s.frameworkMessage?.(driver, agent_id.value, executor_id.value, Buffer.from(data, 'base64'));
      }
      break;
    case 'FAILURE':
      await s.failure?.(
        driver,
        event.failure?.agent_id?.value,
        event.failure?.executor_id?.value,
        event.failure?.status,
      );
      break;
    case 'ERROR':
      await s.error?.(driver, event.error?.message ?? '');
      break;
    default:
      break;
  }
}
