/**
 * The Jobs service the master's Lambda serves at /api/jobs/v1: built once per container over the jobs
 * table named by MANTLE_JOBS_TABLE (the stack sets it where Jobs is deployed) and the registrar's roles
 * (a queue's weight and quota). Without the variable there is none, and the routes answer 503.
 */
import { createAwsClients } from '#shared/aws/clients.js';
import { createJobsService, type JobsService } from '../../frameworks/jobs/service.js';
import { JobsStore } from '../../frameworks/jobs/store.js';
import { JOBS_TABLE_ENV } from '../../frameworks/jobs/tables.js';
import type { Master } from '../master/master.js';

export function jobsFromEnvironment(
  master: Pick<Master, 'registrar' | 'logger' | 'metrics'>,
  env: NodeJS.ProcessEnv = process.env,
): JobsService | undefined {
  const table = env[JOBS_TABLE_ENV];
  if (!table) return undefined;
  const store = new JobsStore({ documents: createAwsClients().documents, table, metrics: master.metrics });
  return createJobsService({ store, roles: master.registrar.roles, logger: master.logger, metrics: master.metrics });
}
