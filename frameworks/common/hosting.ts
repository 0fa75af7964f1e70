/**
 * Hosting a built-in framework by queue (Mantle Jobs, Mantle Services): the FrameworkInfo and queue scheduler
 * both subscribe with, taking up the subscription kept in the framework's table or making one, handling the SQS
 * batches its event queue delivers (skipping messages handled before: an OFFERS event handled twice would launch
 * on offers already used), and running its timer (an interval locally, a loop per scheduled Lambda invocation).
 */
import type { Logger } from '#shared/log.js';
import type { FrameworkInfo } from '#shared/protocol/mesos.js';
import {
  CallError,
  QueueScheduler,
  type BatchResponse,
  type Fetch,
  type QueueFramework,
  type QueueRecord,
} from '../../sdk/queue-scheduler.js';
import type { FrameworkState } from './framework-state.js';

/** A week: the master keeps a hosted framework's tasks while no handler runs. */
export const HOSTED_FAILOVER_TIMEOUT_SECONDS = 7 * 24 * 3600;

/** How a hosted framework reaches the master, and as whom. */
export interface HostedConnection {
  readonly master: string;
  readonly fetch?: Fetch;
  readonly credentials?: { readonly principal: string; readonly secret: string };
  readonly user: string;
  readonly logger?: Logger;
}

/** The FrameworkInfo of a hosted framework: multi-role, GPU-capable, a week's failover, its principal. */
export function hostedFrameworkInfo(connection: HostedConnection, name: string, roles: readonly string[]) {
  return {
    user: connection.user,
    name,
    roles: [...roles],
    capabilities: [{ type: 'MULTI_ROLE' as const }, { type: 'GPU_RESOURCES' as const }],
    failover_timeout: HOSTED_FAILOVER_TIMEOUT_SECONDS,
    ...(connection.credentials ? { principal: connection.credentials.principal } : {}),
  } satisfies FrameworkInfo;
}

/**
 * The SDK's queue scheduler for a hosted framework (`label`: its name in logs). Its updates may be handled
 * concurrently: both frameworks' status handling retries on conflicting writes.
 */
export function hostedScheduler(
  connection: HostedConnection,
  label: string,
  callbacks: QueueFramework,
  subscription: { info: FrameworkInfo; frameworkId: string | undefined; suppressed: readonly string[] },
): QueueScheduler {
  const { logger } = connection;
  return new QueueScheduler(
    { error: (_driver, message) => void logger?.error(`${label} framework error event`, { message }), ...callbacks },
    {
      master: connection.master,
      name: subscription.info.name,
      framework: subscription.info,
      ...(subscription.frameworkId ? { frameworkId: subscription.frameworkId } : {}),
      ...(subscription.suppressed.length > 0 ? { suppressedRoles: subscription.suppressed } : {}),
      ...(connection.fetch ? { fetch: connection.fetch } : {}),
      ...(connection.credentials ? { credentials: connection.credentials } : {}),
      concurrentUpdates: true,
      onDropped: (record, why) => logger?.warn(`${label} event dropped`, { id: record.messageId, why }),
    },
  );
}

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

/**
 * One scheduled invocation of a framework's ticker in Lambda: a tick every `everyMs` until the next would end
 * after `forMs` (the schedule invokes the next one), or until `more` says there is nothing to wait for.
 */
export async function tickRepeatedly<T>(
  ticker: { tick(): Promise<T> },
  options: { everyMs: number; forMs: number; more?: (summary: T) => boolean; now?: () => number },
): Promise<T[]> {
  const now = options.now ?? Date.now;
  const until = now() + options.forMs;
  const summaries: T[] = [];
  for (;;) {
    const summary = await ticker.tick();
    summaries.push(summary);
    if (options.more?.(summary) === false || now() + options.everyMs > until) return summaries;
    await new Promise((resolve) => setTimeout(resolve, options.everyMs));
  }
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
