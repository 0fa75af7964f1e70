/**
 * A built-in framework (Mantle Jobs, Mantle Services) on the local cluster, hosted as the CDK stack hosts it in
 * AWS: its principal (with authentication on), its handler on its named framework queue (the event-source
 * poller standing in for Lambda's), its subscription taken up (a restarted cluster resubscribes with the kept
 * framework id), and its timer (an interval standing in for the EventBridge schedule). It calls the master's app
 * in process: the same routes and authentication as over HTTP.
 */
import { userInfo } from 'node:os';
import type { Logger } from '#shared/log.js';
import type { Metrics } from '#shared/metrics.js';
import { createApp } from '../functions/handlers/app.js';
import type { Master } from '../functions/master/master.js';
import { startTicker, type HostedConnection } from '../frameworks/common/hosting.js';
import { inProcess } from '../sdk/queue-scheduler.js';
import type { SqsHandler } from './event-source.js';
import { frameworkCredential } from './framework-credential.js';
import type { FrameworkQueues } from './framework-queues.js';

/** How the framework reaches the master here: in process, as its principal, as this user. */
export async function localConnection(
  master: Master,
  url: string,
  principal: string,
  logger: Logger,
): Promise<HostedConnection & { metrics: Metrics }> {
  const credentials = await frameworkCredential(master, principal);
  return {
    master: url,
    fetch: inProcess(createApp(master)),
    user: userInfo().username,
    logger,
    metrics: master.metrics,
    ...(credentials ? { credentials } : {}),
  };
}

export interface LocalHosting {
  /** The framework's name in logs: `Jobs`, `Services`. */
  readonly label: string;
  readonly connection: HostedConnection;
  /** The name it subscribes with (its queue's). */
  readonly name: string;
  readonly handler: SqsHandler;
  readonly visibilityTimeoutSeconds: number;
  readonly pollers: number;
  /** Takes up or makes the subscription (the framework's start). */
  readonly start: () => Promise<void>;
  readonly ticker: { tick(): Promise<unknown>; idle(): Promise<void> };
  readonly tickMs: number;
}

/** Registers the framework's queue, starts it, and runs its timer; `stop` ends the timer. */
export async function hostLocally(
  queues: FrameworkQueues,
  hosting: LocalHosting,
): Promise<{ queueUrl: string; stop(): Promise<void> }> {
  const registered = await queues.register({
    name: hosting.name,
    principal: hosting.connection.credentials?.principal ?? '',
    handler: hosting.handler,
    visibilityTimeoutSeconds: hosting.visibilityTimeoutSeconds,
    pollers: hosting.pollers,
  });
  await hosting.start();
  const timer = startTicker(hosting.ticker, hosting.tickMs, (error) =>
    hosting.connection.logger?.error(`${hosting.label} timer failed`, { error: String(error) }),
  );
  return { queueUrl: registered.queueUrl, stop: () => timer.stop() };
}
