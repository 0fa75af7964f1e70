/**
 * Mantle Services on the local cluster, hosted as Jobs is (local/jobs.ts): its table, its principal
 * `mantle-services` (with authentication on), its handler on its named framework queue, one subscription kept
 * in its table, and its timer (every second, standing in for the EventBridge schedule). It calls the master's
 * app in process: the same routes and authentication as over HTTP.
 */
import { userInfo } from 'node:os';
import { createApp } from '../functions/handlers/app.js';
import type { Master } from '../functions/master/master.js';
import type { AwsClients } from '#shared/aws/clients.js';
import { createLogger } from '#shared/log.js';
import { inProcess } from '../sdk/queue-scheduler.js';
import { createTable } from '../frameworks/common/table.js';
import { ServicesEngine } from '../frameworks/services/engine.js';
import { SERVICES_FRAMEWORK_NAME, SERVICES_PRINCIPAL, ServicesFramework } from '../frameworks/services/framework.js';
import { ServicesService } from '../frameworks/services/service.js';
import { ServicesStore } from '../frameworks/services/store.js';
import { SERVICES_TABLE, servicesTableName } from '../frameworks/services/tables.js';
import { startTicker } from '../frameworks/common/hosting.js';
import { ServicesTicker } from '../frameworks/services/ticker.js';
import { frameworkCredential } from './framework-credential.js';
import type { FrameworkQueues } from './framework-queues.js';

export interface LocalServicesOptions {
  /** The timer's period (default 1 s). */
  readonly tickMs?: number;
  /** How long a task may go unheard of before it is reconciled (default 20 s). */
  readonly launchCheckMs?: number;
}

export interface LocalServices {
  readonly service: ServicesService;
  readonly framework: ServicesFramework;
  readonly ticker: ServicesTicker;
  readonly store: ServicesStore;
  stop(): Promise<void>;
}

export async function startLocalServices(
  master: Master,
  queues: FrameworkQueues,
  clients: AwsClients,
  url: string,
  options: LocalServicesOptions = {},
): Promise<LocalServices> {
  const logger = createLogger('mantle-services');
  const table = servicesTableName(master.config.cluster);
  await createTable(clients.dynamodb, table, SERVICES_TABLE);
  const store = new ServicesStore({ documents: clients.documents, table, metrics: master.metrics });
  const engine = new ServicesEngine(store, Date.now, logger);
  const credentials = await frameworkCredential(master, SERVICES_PRINCIPAL);
  const framework = new ServicesFramework({
    engine,
    master: url,
    fetch: inProcess(createApp(master)),
    user: userInfo().username,
    logger,
    metrics: master.metrics,
    ...(credentials ? { credentials } : {}),
  });
  await queues.register({
    name: SERVICES_FRAMEWORK_NAME,
    principal: credentials?.principal ?? '',
    handler: framework.handler(),
    visibilityTimeoutSeconds: 60,
    pollers: 4,
  });
  await framework.start({ resubscribe: true });
  const service = new ServicesService(engine, () => framework);
  const ticker = new ServicesTicker(framework, options.launchCheckMs);
  const timer = startTicker(ticker, options.tickMs ?? 1000, (error) =>
    logger.error('Services timer failed', { error: String(error) }),
  );
  return { service, framework, ticker, store, stop: () => timer.stop() };
}
