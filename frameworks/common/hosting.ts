/**
 * Hosting a built-in framework by queue (Mantle Jobs, Mantle Services): take up the subscription kept in the
 * framework's table or make one, and handle the SQS batches its event queue delivers, skipping messages
 * handled before (an OFFERS event handled twice would launch on offers already used).
 */
import type { Logger } from '#shared/log.js';
import { CallError, type BatchResponse, type QueueRecord, type QueueScheduler } from '../../sdk/queue-scheduler.js';
import type { FrameworkState } from './framework-state.js';

export interface Hosted {
  readonly state: FrameworkState;
  readonly name: string;
  readonly logger?: Logger;
  /** A new scheduler for the kept framework id (or none), subscribing with these roles suppressed. */
  readonly scheduler: (frameworkId: string | undefined, suppressed: readonly string[]) => QueueScheduler;
}

/**
 * Takes up the kept subscription, or subscribes. `resubscribe` (a process that starts, like the local cluster)
 * subscribes again with the kept framework id — a new stream id, and reconciliation; a handler that only
 * resumes (a Lambda) uses the kept stream id as it is. `suppressed`: the roles to subscribe suppressed.
 */
export async function startHosted(hosted: Hosted, resubscribe: boolean, suppressed: readonly string[]): Promise<void> {
  const kept = await hosted.state.subscription();
  if (kept && !resubscribe) {
    hosted.scheduler(kept.frameworkId, []).resume({ frameworkId: kept.frameworkId, streamId: kept.streamId });
    return;
  }
  let subscription;
  try {
    subscription = await hosted.scheduler(kept?.frameworkId, suppressed).subscribe();
  } catch (error) {
    if (!(error instanceof CallError) || !kept) throw error;
    // The master no longer knows the kept framework (torn down, or a new registrar): a new one.
    hosted.logger?.warn(`${hosted.name} framework resubscription refused; subscribing anew`, { error: error.message });
    subscription = await hosted.scheduler(undefined, suppressed).subscribe();
  }
  const saved = await hosted.state.putSubscription(
    { frameworkId: subscription.frameworkId, streamId: subscription.streamId, suppressed: [...suppressed] },
    kept?.version ?? 'absent',
  );
  if (!saved) throw new Error(`The ${hosted.name} framework subscription changed while subscribing`);
  hosted.logger?.info(`${hosted.name} framework subscribed`, { frameworkId: subscription.frameworkId });
}

/**
 * The SQS handler (Lambda's event source with ReportBatchItemFailures, or the local poller): every record fails
 * (comes back later) until the framework has started; records handled before are skipped.
 */
export function queueHandler(
  state: FrameworkState,
  current: () => QueueScheduler | undefined,
  now: () => number,
  onRedelivered?: (count: number) => void,
): (event: { Records: readonly QueueRecord[] }) => Promise<BatchResponse> {
  return async (event) => {
    const scheduler = current();
    if (scheduler === undefined) {
      return { batchItemFailures: event.Records.map((record) => ({ itemIdentifier: record.messageId })) };
    }
    const seen = await state.handled(event.Records.map((record) => record.messageId));
    if (seen.size > 0) onRedelivered?.(seen.size);
    const fresh = event.Records.filter((record) => !seen.has(record.messageId));
    const response = await scheduler.handleRecords(fresh);
    const failed = new Set(response.batchItemFailures.map((failure) => failure.itemIdentifier));
    await state.markHandled(
      fresh.map((record) => record.messageId).filter((id) => !failed.has(id)),
      now(),
    );
    return response;
  };
}

/** Runs a framework's ticker (Jobs', Services') every `intervalMs`: the local cluster's stand-in for the EventBridge schedule. */
export function startTicker(
  ticker: { tick(): Promise<unknown>; idle(): Promise<void> },
  intervalMs: number,
  onError: (error: unknown) => void,
) {
  const timer = setInterval(() => void ticker.tick().catch(onError), intervalMs);
  return {
    async stop() {
      clearInterval(timer);
      await ticker.idle();
    },
  };
}
