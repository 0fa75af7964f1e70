/**
 * Mantle Jobs on the local cluster, hosted as the CDK stack hosts it in AWS: its table, its principal
 * `mantle-jobs` (with authentication on), its handler on its named framework queue (the event-source poller
 * standing in for Lambda's), one subscription kept in its table (a restarted cluster resubscribes with the
 * kept framework id), and its timer (every second, standing in for the EventBridge schedule). It calls the
 * master's app in process: the same routes and authentication as over HTTP.
 */
import { userInfo } from 'node:os';
import { createApp } from '../functions/handlers/app.js';
import type { Master } from '../functions/master/master.js';
import type { AwsClients } from '#shared/aws/clients.js';
import { createLogger } from '#shared/log.js';
import { inProcess } from '../sdk/queue-scheduler.js';
import { createJobsTable } from '../frameworks/jobs/bootstrap.js';
import { JobsEngine } from '../frameworks/jobs/engine.js';
import { JOBS_FRAMEWORK_NAME, JOBS_PRINCIPAL, JobsFramework } from '../frameworks/jobs/framework.js';
import type { FaultHooks, OfferSettings } from '../frameworks/jobs/offers.js';
import { createJobsService, type JobsService } from '../frameworks/jobs/service.js';
import { JobsStore } from '../frameworks/jobs/store.js';
import { jobsTableName } from '../frameworks/jobs/tables.js';
import { JobsTicker, startTicker } from '../frameworks/jobs/ticker.js';
import type { SqsHandler } from './event-source.js';
import type { FrameworkQueues } from './framework-queues.js';
import { frameworkCredential } from './framework-credential.js';

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
  const credentials = await frameworkCredential(master, JOBS_PRINCIPAL);
  const framework = new JobsFramework({
    engine,
    master: url,
    fetch: inProcess(createApp(master)),
    user: userInfo().username,
    logger,
    metrics: master.metrics,
    ...(credentials ? { credentials } : {}),
    ...(options.settings ? { settings: options.settings } : {}),
    ...(options.faults ? { faults: options.faults } : {}),
  });
  const registered = await queues.register({
    name: JOBS_FRAMEWORK_NAME,
    principal: credentials?.principal ?? '',
    handler: options.wrapHandler ? options.wrapHandler(framework.handler()) : framework.handler(),
    visibilityTimeoutSeconds: options.visibilityTimeoutSeconds ?? 120,
    // Its handler is safe to run concurrently; updates come one message group per task. Lambda would run many
    // at once for a backlog; eight pollers keep a backlog of 10,000 jobs' updates moving here.
    pollers: 8,
  });
  await framework.start({ resubscribe: true });
  const service = createJobsService({
    store,
    roles: master.registrar.roles,
    logger,
    metrics: master.metrics,
    actions: () => framework,
    ...(master.taskLogs ? { taskLogs: master.taskLogs } : {}),
  });
  const ticker = new JobsTicker(framework);
  const timer = startTicker(ticker, options.tickMs ?? 1000, (error) =>
    logger.error('Jobs timer failed', { error: String(error) }),
  );
  return {
    service,
    framework,
    ticker,
    store,
    queueUrl: registered.queueUrl,
    stop: () => timer.stop(),
  };
}
