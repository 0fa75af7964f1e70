/**
 * Mantle Jobs on AWS (docs/jobs.md): the jobs table (declared from frameworks/jobs/tables.ts, the definition the
 * local cluster creates), the `jobs` framework's named event queue with its dead-letter queue
 * (infra/framework-queue.ts; infra/monitoring.ts alarms on its depth), the Jobs function fed by that queue (partial batch failures), and the ticker
 * on a one-minute schedule (schedules, retries' backoff, timeouts, the REQUEST of pending demand), both
 * functions/handlers/jobs.ts. Both run the master's app in process (the same routes and checks as over HTTP,
 * without the API's round trip) as the `mantle-jobs` principal, whose credential the deployer keeps in an SSM
 * SecureString (no secret in the template). The API functions serve the Jobs REST API, so they get the table
 * too. Each function gets only the table actions the store uses, on the table and its indexes.
 */
import { Aws, Duration, RemovalPolicy, type Stack } from 'aws-cdk-lib';
import { AttributeType, Billing, TableV2, type Attribute } from 'aws-cdk-lib/aws-dynamodb';
import * as events from 'aws-cdk-lib/aws-events';
import * as iam from 'aws-cdk-lib/aws-iam';
import { JOBS_TABLE, JOBS_TABLE_ENV, jobsTableName, type JobsKeyAttribute } from '../frameworks/jobs/tables.js';
import { FrameworkQueue } from './framework-queue.js';
import type { LambdaName } from './bundling.js';
import type { MantleFunction, MantleFunctionProps } from './functions.js';

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

const JOBS_TIMEOUT = Duration.seconds(60);
const TICKER_TIMEOUT = Duration.seconds(60);

/** The SSM SecureString holding `<principal> <secret>` of the Jobs framework's principal. */
export function jobsCredentialParameter(clusterName: string): string {
  return `/mantle/${clusterName}/jobs-credential`;
}

type FunctionFactory = (
  key: string,
  props: Omit<MantleFunctionProps, 'environment'> & { environment?: Record<string, string> },
) => MantleFunction;

export interface JobsProps {
  readonly clusterName: string;
  readonly deletionProtection: boolean;
  /** Makes a master function (the stack's environment, its own role, its errors alarmed). */
  readonly makeFunction: FunctionFactory;
  /** The Lambda entries (infra/bundling.ts) of the Jobs framework's queue handler and of its ticker. */
  readonly entries: { readonly framework: LambdaName; readonly ticker: LambdaName };
  /** The functions that serve the REST API (the app): they read and write jobs. */
  readonly apiFunctions: readonly MantleFunction[];
  /** What the master's app may do (the Jobs functions run it in process, as the API function does). */
  readonly grantApp: (fn: MantleFunction) => void;
  /** Schedules' targets: where failed invocations go. */
  readonly scheduleTarget: (fn: MantleFunction) => events.IRuleTarget;
}

export interface MantleJobs {
  readonly table: TableV2;
  readonly queue: FrameworkQueue;
  readonly framework: MantleFunction;
  readonly ticker: MantleFunction;
}

function attribute(key: JobsKeyAttribute): Attribute {
  return { name: key.name, type: key.type === 'S' ? AttributeType.STRING : AttributeType.NUMBER };
}

/** The jobs table, as frameworks/jobs/tables.ts defines it: keys, the sparse indexes (all attributes projected). */
export function jobsTable(scope: Stack, clusterName: string, protect: boolean): TableV2 {
  return new TableV2(scope, 'Table-jobs', {
    tableName: jobsTableName(clusterName),
    partitionKey: attribute(JOBS_TABLE.partitionKey),
    sortKey: attribute(JOBS_TABLE.sortKey),
    globalSecondaryIndexes: JOBS_TABLE.indexes.map((index) => ({
      indexName: index.name,
      partitionKey: attribute(index.partitionKey),
      sortKey: attribute(index.sortKey),
    })),
    timeToLiveAttribute: JOBS_TABLE.timeToLiveAttribute,
    billing: Billing.onDemand(),
    pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
    deletionProtection: protect,
    removalPolicy: protect ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
  });
}

/** The table's store actions, on the table and its indexes (queries read the indexes). */
export function grantJobsTable(role: iam.IRole, table: TableV2): void {
  role.addToPrincipalPolicy(
    new iam.PolicyStatement({
      actions: [...JOBS_TABLE_ACTIONS],
      resources: [table.tableArn, `${table.tableArn}/index/*`],
    }),
  );
}

/** Jobs: the table, the framework's queue and its handler, the ticker, their grants and alarm. */
export function addJobs(scope: Stack, props: JobsProps): MantleJobs {
  const table = jobsTable(scope, props.clusterName, props.deletionProtection);
  const credential = jobsCredentialParameter(props.clusterName);
  const environment = {
    [JOBS_TABLE_ENV]: table.tableName,
    MANTLE_JOBS_PRINCIPAL: JOBS_PRINCIPAL,
    MANTLE_JOBS_CREDENTIAL_PARAMETER: credential,
  };
  const framework = props.makeFunction('Jobs', {
    name: props.entries.framework,
    description: "Mantle Jobs: the jobs framework's events (its queue): offers, launches, updates",
    memorySize: 512,
    timeout: JOBS_TIMEOUT,
    environment,
  });
  const ticker = props.makeFunction('JobsTicker', {
    name: props.entries.ticker,
    description: "Mantle Jobs' timer, every minute: schedules, retries, timeouts, the pending demand",
    memorySize: 512,
    timeout: TICKER_TIMEOUT,
    environment,
  });
  const queue = new FrameworkQueue(scope, 'JobsQueue', {
    clusterName: props.clusterName,
    principal: JOBS_PRINCIPAL,
    name: JOBS_FRAMEWORK_NAME,
    handler: framework.function,
    visibilityTimeout: Duration.seconds(JOBS_TIMEOUT.toSeconds() * 6),
  });
  const readCredential = new iam.PolicyStatement({
    actions: ['ssm:GetParameter'],
    resources: [scope.formatArn({ service: 'ssm', resource: 'parameter', resourceName: credential.slice(1) })],
  });
  for (const fn of [framework, ticker]) {
    props.grantApp(fn);
    grantJobsTable(fn.role, table);
    fn.role.addToPrincipalPolicy(readCredential);
  }
  // The API's functions host the same Jobs (its routes cancel through the framework): same credential.
  for (const fn of props.apiFunctions) {
    for (const [name, value] of Object.entries(environment)) fn.function.addEnvironment(name, value);
    grantJobsTable(fn.role, table);
    fn.role.addToPrincipalPolicy(readCredential);
  }
  new events.Rule(scope, 'JobsTickerSchedule', {
    description: `Mantle ${props.clusterName}: the Jobs ticker`,
    schedule: events.Schedule.rate(Duration.minutes(1)),
    targets: [props.scheduleTarget(ticker)],
  });
  return { table, queue, framework, ticker };
}

/** The command that creates the Jobs principal and keeps its credential where the Jobs functions read it. */
export function jobsCredentialCommand(clusterName: string): string {
  return (
    `AWS_REGION=${Aws.REGION} node bin/mantle.js principal create --cluster ${clusterName} --kind framework ` +
    `--name ${JOBS_PRINCIPAL} ` +
    `| sed -n 's/^ *MANTLE_PRINCIPAL=\\([^ ]*\\) MANTLE_SECRET=\\(.*\\)$/\\1 \\2/p' ` +
    `| aws ssm put-parameter --region ${Aws.REGION} --type SecureString --name ${jobsCredentialParameter(clusterName)} --value file:///dev/stdin`
  );
}
