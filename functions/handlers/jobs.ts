/**
 * Lambda entry points of Mantle Jobs (frameworks/jobs/), in the master's bundle:
 * - `jobsEventsHandler`: the SQS event source of the Jobs framework's named queue (ReportBatchItemFailures on);
 * - `jobsTickerHandler`: the Jobs timer, invoked by an EventBridge schedule (every minute at most; each
 *   invocation ticks every `MANTLE_JOBS_TICK_SECONDS`, default 5 s, until shortly before the minute is up);
 * - `jobsFromEnvironment()`: the service (for the REST API's routes), framework and timer of this container.
 *
 * Environment: the master's (master-from-env.ts), MANTLE_JOBS_TABLE, and with authentication on the
 * `mantle-jobs` principal's credential (hosted-credential.ts: an SSM SecureString in AWS). The framework calls
 * the master at MANTLE_MASTER when set (HTTP), else the master's app in process (same routes, same checks).
 */
import type { SQSEvent, SQSBatchResponse } from 'aws-lambda';
import { createAwsClients } from '#shared/aws/clients.js';
import { createLogger } from '#shared/log.js';
import { JobsEngine } from '../../frameworks/jobs/engine.js';
import { JobsFramework } from '../../frameworks/jobs/framework.js';
import { createJobsService, type JobsService } from '../../frameworks/jobs/service.js';
import { JobsStore } from '../../frameworks/jobs/store.js';
import { jobsTableFromEnvironment } from '../../frameworks/jobs/tables.js';
import { JobsTicker, type TickSummary } from '../../frameworks/jobs/ticker.js';
import { inProcess } from '../../sdk/queue-scheduler.js';
import { tickRepeatedly } from '../../frameworks/common/hosting.js';
import { roleQuotaSource } from '../operator/role-quotas.js';
import { createApp } from './app.js';
import { hostedCredential } from './hosted-credential.js';
import { masterFromEnvironment } from './master-from-env.js';

export interface HostedJobs {
  readonly service: JobsService;
  readonly framework: JobsFramework;
  readonly ticker: JobsTicker;
}

let hosted: Promise<HostedJobs> | undefined;

async function build(env: NodeJS.ProcessEnv): Promise<HostedJobs> {
  const master = masterFromEnvironment(env);
  const logger = createLogger('mantle-jobs');
  const store = new JobsStore({
    documents: createAwsClients().documents,
    table: jobsTableFromEnvironment(env),
    metrics: master.metrics,
  });
  const engine = new JobsEngine({ store, now: Date.now, logger });
  const credentials = await hostedCredential('jobs', env);
  const framework = new JobsFramework({
    quotas: roleQuotaSource(master.registrar),
    engine,
    master: env.MANTLE_MASTER ?? 'http://mantle.internal',
    ...(env.MANTLE_MASTER ? {} : { fetch: inProcess(createApp(master)) }),
    user: env.MANTLE_JOBS_USER ?? 'nobody',
    logger,
    metrics: master.metrics,
    ...(credentials ? { credentials } : {}),
  });
  // A handler takes up the kept subscription; only the first one ever subscribes.
  await framework.start({ resubscribe: false });
  const service = createJobsService({
    store,
    roles: master.registrar.roles,
    logger,
    metrics: master.metrics,
    actions: () => framework,
    ...(master.taskLogs ? { taskLogs: master.taskLogs } : {}),
  });
  return { service, framework, ticker: new JobsTicker(framework) };
}

/** This container's Jobs, built once (a failed build is tried again by the next invocation). */
export function jobsFromEnvironment(env: NodeJS.ProcessEnv = process.env): Promise<HostedJobs> {
  hosted ??= build(env).catch((error: unknown) => {
    hosted = undefined;
    throw error;
  });
  return hosted;
}

export async function jobsEventsHandler(event: SQSEvent): Promise<SQSBatchResponse> {
  const { framework } = await jobsFromEnvironment();
  return framework.handler()(event);
}

export async function jobsTickerHandler(): Promise<TickSummary[]> {
  const { ticker } = await jobsFromEnvironment();
  const everyMs = Number(process.env.MANTLE_JOBS_TICK_SECONDS ?? 5) * 1000;
  return tickRepeatedly(ticker, { everyMs, forMs: 50_000 });
}
