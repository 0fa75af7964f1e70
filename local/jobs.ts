/**
 * Mantle Jobs on the local cluster, hosted as the CDK stack hosts it in AWS (local/hosting.ts): its table, its
 * principal `mantle-jobs`, its handler on its named framework queue, one subscription kept in its table, and
 * its timer (every second).
 */
import type { Master } from '../functions/master/master.js';
import { roleQuotaSource } from '../functions/operator/role-quotas.js';
import type { AwsClients } from '#shared/aws/clients.js';
import { createLogger } from '#shared/log.js';
import { createJobsTable } from '../frameworks/jobs/bootstrap.js';
import { JobsEngine } from '../frameworks/jobs/engine.js';
import { JOBS_FRAMEWORK_NAME, JOBS_PRINCIPAL, JobsFramework } from '../frameworks/jobs/framework.js';
import type { FaultHooks, OfferSettings } from '../frameworks/jobs/offers.js';
import { createJobsService, type JobsService } from '../frameworks/jobs/service.js';
import { JobsStore } from '../frameworks/jobs/store.js';
import { jobsTableName } from '../frameworks/jobs/tables.js';
import { JobsTicker } from '../frameworks/jobs/ticker.js';
import type { SqsHandler } from './event-source.js';
import type { FrameworkQueues } from './framework-queues.js';
import { hostLocally, localConnection } from './hosting.js';

export interface LocalJobsOptions {
  /** The timer's period (default 1 s). */
  readonly tickMs?: number;
  readonly settings?: Partial<OfferSettings>;
  /** Tests: throw between writes, as a handler killed there would stop. */
  readonly faults?: FaultHooks;
  /** Tests: wrap the queue handler (to deliver batches twice, as a queue may). */
  readonly wrapHandler?: (handler: SqsHandler) => SqsHandler;
  /** How long an attempt may go unheard of before it is reconciled (default 20 s). */
  readonly launchCheckMs?: number;
  /**
   * How long a batch handed to the handler stays invisible (default 120 s: a batch of offers with thousands of
   * jobs waiting, on a busy machine, takes tens of seconds): a batch that fails comes back after it. Tests of
   * handler faults shorten it.
   */
  readonly visibilityTimeoutSeconds?: number;
}

export interface LocalJobs {
  readonly service: JobsService;
  readonly framework: JobsFramework;
  readonly ticker: JobsTicker;
  readonly store: JobsStore;
  readonly queueUrl: string;
  stop(): Promise<void>;
}

export async function startLocalJobs(
  master: Master,
  queues: FrameworkQueues,
  clients: AwsClients,
  url: string,
  options: LocalJobsOptions = {},
): Promise<LocalJobs> {
  const logger = createLogger('mantle-jobs');
  const table = jobsTableName(master.config.cluster);
  await createJobsTable(clients.dynamodb, table);
  const store = new JobsStore({ documents: clients.documents, table, metrics: master.metrics });
  const engine = new JobsEngine({
    store,
    now: Date.now,
    logger,
    ...(options.launchCheckMs === undefined ? {} : { launchCheckMs: options.launchCheckMs }),
  });
  const connection = await localConnection(master, url, JOBS_PRINCIPAL, logger);
  const framework = new JobsFramework({
    quotas: roleQuotaSource(master.registrar),
    ...connection,
    engine,
    ...(options.settings ? { settings: options.settings } : {}),
    ...(options.faults ? { faults: options.faults } : {}),
  });
  const ticker = new JobsTicker(framework);
  const hosted = await hostLocally(queues, {
    label: 'Jobs',
    connection,
    name: JOBS_FRAMEWORK_NAME,
    handler: options.wrapHandler ? options.wrapHandler(framework.handler()) : framework.handler(),
    visibilityTimeoutSeconds: options.visibilityTimeoutSeconds ?? 120,
    // Its handler is safe to run concurrently; updates come one message group per task. Lambda would run many
    // at once for a backlog; eight pollers keep a backlog of 10,000 jobs' updates moving here.
    pollers: 8,
    start: () => framework.start({ resubscribe: true }),
    ticker,
    tickMs: options.tickMs ?? 1000,
  });
  const service = createJobsService({
    store,
    roles: master.registrar.roles,
    logger,
    metrics: master.metrics,
    actions: () => framework,
    ...(master.taskLogs ? { taskLogs: master.taskLogs } : {}),
  });
  return { service, framework, ticker, store, queueUrl: hosted.queueUrl, stop: () => hosted.stop() };
}
