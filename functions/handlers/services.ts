/**
 * Lambda entry points of Mantle Services (frameworks/services/), in the master's bundle:
 * - `servicesEventsHandler`: the SQS event source of the Services framework's named queue (ReportBatchItemFailures
 *   on);
 * - `servicesTickerHandler`: the Services timer, invoked by an EventBridge schedule every minute; each invocation
 *   ticks every `MANTLE_SERVICES_TICK_SECONDS` (default 5 s) until shortly before the minute is up, and returns
 *   after one tick while no app exists (an idle Services costs one short invocation a minute);
 * - `servicesFromEnvironment()`: the service (for the Marathon API's routes), framework and timer of this
 *   container.
 *
 * Environment: the master's (master-from-env.ts), MANTLE_SERVICES_TABLE, and with authentication on the
 * `mantle-services` principal's credential (hosted-credential.ts: an SSM SecureString in AWS). The framework
 * calls the master at MANTLE_MASTER when set (HTTP), else the master's app in process (same routes, same checks).
 */
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { createAwsClients } from '#shared/aws/clients.js';
import { createLogger } from '#shared/log.js';
import { tickRepeatedly } from '../../frameworks/common/hosting.js';
import { ServicesEngine } from '../../frameworks/services/engine.js';
import { ServicesFramework } from '../../frameworks/services/framework.js';
import { ServicesService } from '../../frameworks/services/service.js';
import { ServicesStore } from '../../frameworks/services/store.js';
import { servicesTableFromEnvironment } from '../../frameworks/services/tables.js';
import { ServicesTicker, type TickSummary } from '../../frameworks/services/ticker.js';
import { inProcess } from '../../sdk/queue-scheduler.js';
import { createApp } from './app.js';
import { hostedCredential } from './hosted-credential.js';
import { masterFromEnvironment } from './master-from-env.js';

export interface HostedServices {
  readonly service: ServicesService;
  readonly framework: ServicesFramework;
  readonly ticker: ServicesTicker;
}

let hosted: Promise<HostedServices> | undefined;

async function build(env: NodeJS.ProcessEnv): Promise<HostedServices> {
  const master = masterFromEnvironment(env);
  const logger = createLogger('mantle-services');
  const store = new ServicesStore({
    documents: createAwsClients().documents,
    table: servicesTableFromEnvironment(env),
    metrics: master.metrics,
  });
  const engine = new ServicesEngine(store, Date.now, logger);
  const credentials = await hostedCredential('services', env);
  const framework = new ServicesFramework({
    engine,
    master: env.MANTLE_MASTER ?? 'http://mantle.internal',
    ...(env.MANTLE_MASTER ? {} : { fetch: inProcess(createApp(master)) }),
    user: env.MANTLE_SERVICES_USER ?? 'nobody',
    logger,
    metrics: master.metrics,
    ...(credentials ? { credentials } : {}),
  });
  // A handler takes up the kept subscription; only the first one ever subscribes.
  await framework.start({ resubscribe: false });
  const service = new ServicesService(engine, () => framework);
  return { service, framework, ticker: new ServicesTicker(framework) };
}

/** This container's Services, built once (a failed build is tried again by the next invocation). */
export function servicesFromEnvironment(env: NodeJS.ProcessEnv = process.env): Promise<HostedServices> {
  hosted ??= build(env).catch((error: unknown) => {
    hosted = undefined;
    throw error;
  });
  return hosted;
}

export async function servicesEventsHandler(event: SQSEvent): Promise<SQSBatchResponse> {
  const { framework } = await servicesFromEnvironment();
  return framework.handler()(event);
}

export async function servicesTickerHandler(): Promise<TickSummary[]> {
  const { ticker } = await servicesFromEnvironment();
  const everyMs = Number(process.env.MANTLE_SERVICES_TICK_SECONDS ?? 5) * 1000;
  return tickRepeatedly(ticker, { everyMs, forMs: 50_000, more: (summary) => summary.apps > 0 });
}
