/**
 * Mantle Jobs on AWS (docs/jobs.md), hosted as infra/hosted-framework.ts hosts a built-in framework: the jobs
 * table (frameworks/jobs/tables.ts), the `jobs` framework's queue and its Jobs function, and the ticker every
 * minute (schedules, retries' backoff, timeouts, the REQUEST of pending demand), both functions/handlers/jobs.ts,
 * as the `mantle-jobs` principal.
 */
import { JOBS_TABLE, JOBS_TABLE_ENV, jobsTableName } from '../frameworks/jobs/tables.js';
import {
  addHostedFramework,
  credentialCommand,
  credentialParameter,
  type HostedFramework,
  type HostedFrameworkProps,
} from './hosted-framework.js';

/** The Jobs framework's principal and the name it subscribes with (frameworks/jobs/framework.ts). */
export const JOBS_PRINCIPAL = 'mantle-jobs';
export const JOBS_FRAMEWORK_NAME = 'jobs';

/** What the jobs store does (frameworks/jobs/store.ts): item reads and conditional writes, transactions, queries. */
export const JOBS_TABLE_ACTIONS = [
  'dynamodb:GetItem',
  'dynamodb:PutItem',
  'dynamodb:UpdateItem',
  'dynamodb:DeleteItem',
  'dynamodb:ConditionCheckItem',
  'dynamodb:BatchWriteItem',
  'dynamodb:Query',
] as const;

export type JobsProps = HostedFrameworkProps;
export type MantleJobs = HostedFramework;

/** The SSM SecureString holding `<principal> <secret>` of the Jobs framework's principal. */
export function jobsCredentialParameter(clusterName: string): string {
  return credentialParameter(clusterName, 'jobs');
}

/** Jobs: the table, the framework's queue and its handler, the ticker, their grants. */
export function addJobs(scope: Parameters<typeof addHostedFramework>[0], props: JobsProps): MantleJobs {
  return addHostedFramework(
    scope,
    {
      kind: 'jobs',
      principal: JOBS_PRINCIPAL,
      frameworkName: JOBS_FRAMEWORK_NAME,
      table: { definition: JOBS_TABLE, name: jobsTableName(props.clusterName), environment: JOBS_TABLE_ENV },
      tableActions: JOBS_TABLE_ACTIONS,
      descriptions: {
        framework: "Mantle Jobs: the jobs framework's events (its queue): offers, launches, updates",
        ticker: "Mantle Jobs' timer, every minute: schedules, retries, timeouts, the pending demand",
      },
    },
    props,
  );
}

/** The command that creates the Jobs principal and keeps its credential where the Jobs functions read it. */
export function jobsCredentialCommand(clusterName: string): string {
  return credentialCommand(clusterName, 'jobs', JOBS_PRINCIPAL);
}
