/**
 * Mantle Services on the local cluster, hosted as the CDK stack hosts it in AWS (local/hosting.ts): its table,
 * its principal `mantle-services`, its handler on its named framework queue, one subscription kept in its
 * table, and its timer (every second).
 */
import type { Master } from '../functions/master/master.js';
import type { AwsClients } from '#shared/aws/clients.js';
import { createLogger } from '#shared/log.js';
import { createTable } from '../frameworks/common/table.js';
import { ServicesEngine } from '../frameworks/services/engine.js';
import { SERVICES_FRAMEWORK_NAME, SERVICES_PRINCIPAL, ServicesFramework } from '../frameworks/services/framework.js';
import { ServicesService } from '../frameworks/services/service.js';
import { ServicesStore } from '../frameworks/services/store.js';
import { SERVICES_TABLE, servicesTableName } from '../frameworks/services/tables.js';
import { ServicesTicker } from '../frameworks/services/ticker.js';
import type { FrameworkQueues } from './framework-queues.js';
import { hostLocally, localConnection } from './hosting.js';

export interface LocalServicesOptions {
  /** The timer's period (default 1 s). */
  readonly tickMs?: number;
  /** How long a task may go unheard of before it is first reconciled (default 120 s). */
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
  const connection = await localConnection(master, url, SERVICES_PRINCIPAL, logger);
  const framework = new ServicesFramework({ ...connection, engine });
  const ticker = new ServicesTicker(framework, options.launchCheckMs);
  const hosted = await hostLocally(queues, {
    label: 'Services',
    connection,
    name: SERVICES_FRAMEWORK_NAME,
    handler: framework.handler(),
    visibilityTimeoutSeconds: 60,
    pollers: 4,
    start: () => framework.start({ resubscribe: true }),
    ticker,
    tickMs: options.tickMs ?? 1000,
  });
  const service = new ServicesService(engine, () => framework);
  return { service, framework, ticker, store, stop: () => hosted.stop() };
}
