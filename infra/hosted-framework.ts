/**
 * A built-in framework hosted on AWS as Mantle Jobs and Mantle Services are (docs/jobs.md, docs/services.md): its
 * table (declared from the definition the local cluster creates: keys, sparse indexes, time to live, on demand,
 * point-in-time recovery, protected like the registrar's), its named framework event queue with its dead-letter
 * queue (infra/framework-queue.ts; infra/monitoring.ts alarms on its depth), the function fed by that queue
 * (partial batch failures), and its ticker on a one-minute EventBridge schedule. Both functions run the master's
 * app in process (the same routes and checks as over HTTP, without the API's round trip) as the framework's
 * principal, whose credential the deployer keeps in an SSM SecureString (no secret in the template). The API
 * functions serve the framework's REST API, so they get the table and the credential too. Each function gets
 * only the table actions the framework's store uses, on its own table and its indexes.
 */
import { Aws, CfnOutput, Duration, RemovalPolicy, type Stack } from 'aws-cdk-lib';
import { AttributeType, Billing, TableV2, type Attribute } from 'aws-cdk-lib/aws-dynamodb';
import * as events from 'aws-cdk-lib/aws-events';
import * as iam from 'aws-cdk-lib/aws-iam';
import type { KeyAttribute, TableDefinition } from '../frameworks/common/table.js';
import { FrameworkQueue } from './framework-queue.js';
import type { LambdaName } from './bundling.js';
import type { MantleFunction, MantleFunctionProps } from './functions.js';

/** Which hosted framework: names its variables (MANTLE_JOBS_*), table id, parameter and stack output. */
export type HostedKind = 'jobs' | 'services';

export interface HostedFrameworkSpec {
  readonly kind: HostedKind;
  /** Its principal and the name it subscribes with (frameworks/<kind>/framework.ts). */
  readonly principal: string;
  readonly frameworkName: string;
  /** Its table's definition and name, and the variable that carries the name into the functions. */
  readonly table: { readonly definition: TableDefinition; readonly name: string; readonly environment: string };
  /** What its store does to the table (no more). */
  readonly tableActions: readonly string[];
  readonly descriptions: { readonly framework: string; readonly ticker: string };
}

type FunctionFactory = (
  key: string,
  props: Omit<MantleFunctionProps, 'environment'> & { environment?: Record<string, string> },
) => MantleFunction;

export interface HostedFrameworkProps {
  readonly clusterName: string;
  readonly deletionProtection: boolean;
  /** Makes a master function (the stack's environment, its own role, its errors alarmed). */
  readonly makeFunction: FunctionFactory;
  /** The Lambda entries (infra/bundling.ts) of the framework's queue handler and of its ticker. */
  readonly entries: { readonly framework: LambdaName; readonly ticker: LambdaName };
  /** The functions that serve the REST API (the app): they read and write the framework's table. */
  readonly apiFunctions: readonly MantleFunction[];
  /** What the master's app may do (the framework's functions run it in process, as the API function does). */
  readonly grantApp: (fn: MantleFunction) => void;
  /** Schedules' targets: where failed invocations go. */
  readonly scheduleTarget: (fn: MantleFunction) => events.IRuleTarget;
}

export interface HostedFramework {
  readonly table: TableV2;
  readonly queue: FrameworkQueue;
  readonly framework: MantleFunction;
  readonly ticker: MantleFunction;
}

const HANDLER_TIMEOUT = Duration.seconds(60);
const TICKER_TIMEOUT = Duration.seconds(60);

/** `Jobs`, `Services`: the prefix of the constructs' ids and of the stack's credential output. */
export function hostedLabel(kind: HostedKind): string {
  return `${kind.charAt(0).toUpperCase()}${kind.slice(1)}`;
}

/** The SSM SecureString holding `<principal> <secret>` of the framework's principal. */
export function credentialParameter(clusterName: string, kind: HostedKind): string {
  return `/mantle/${clusterName}/${kind}-credential`;
}

function attribute(key: KeyAttribute): Attribute {
  return { name: key.name, type: key.type === 'S' ? AttributeType.STRING : AttributeType.NUMBER };
}

/** The framework's table, as its definition says: keys, the sparse indexes (all attributes projected). */
export function frameworkTable(scope: Stack, kind: HostedKind, spec: HostedFrameworkSpec['table'], protect: boolean) {
  return new TableV2(scope, `Table-${kind}`, {
    tableName: spec.name,
    partitionKey: attribute(spec.definition.partitionKey),
    sortKey: attribute(spec.definition.sortKey),
    globalSecondaryIndexes: spec.definition.indexes.map((index) => ({
      indexName: index.name,
      partitionKey: attribute(index.partitionKey),
      sortKey: attribute(index.sortKey),
    })),
    timeToLiveAttribute: spec.definition.timeToLiveAttribute,
    billing: Billing.onDemand(),
    pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
    deletionProtection: protect,
    removalPolicy: protect ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
  });
}

/** The store's actions, on the table and its indexes (queries read the indexes). */
export function grantFrameworkTable(role: iam.IRole, table: TableV2, actions: readonly string[]): void {
  role.addToPrincipalPolicy(
    new iam.PolicyStatement({ actions: [...actions], resources: [table.tableArn, `${table.tableArn}/index/*`] }),
  );
}

/** The table, the framework's queue and its handler, the ticker, their grants, the credential's command (an output). */
export function addHostedFramework(
  scope: Stack,
  spec: HostedFrameworkSpec,
  props: HostedFrameworkProps,
): HostedFramework {
  const label = hostedLabel(spec.kind);
  const prefix = `MANTLE_${spec.kind.toUpperCase()}`;
  const table = frameworkTable(scope, spec.kind, spec.table, props.deletionProtection);
  const credential = credentialParameter(props.clusterName, spec.kind);
  const environment = {
    [spec.table.environment]: table.tableName,
    [`${prefix}_PRINCIPAL`]: spec.principal,
    [`${prefix}_CREDENTIAL_PARAMETER`]: credential,
  };
  const common = { memorySize: 512, environment };
  const framework = props.makeFunction(label, {
    ...common,
    name: props.entries.framework,
    description: spec.descriptions.framework,
    timeout: HANDLER_TIMEOUT,
  });
  const ticker = props.makeFunction(`${label}Ticker`, {
    ...common,
    name: props.entries.ticker,
    description: spec.descriptions.ticker,
    timeout: TICKER_TIMEOUT,
  });
  const queue = new FrameworkQueue(scope, `${label}Queue`, {
    clusterName: props.clusterName,
    principal: spec.principal,
    name: spec.frameworkName,
    handler: framework.function,
    visibilityTimeout: Duration.seconds(HANDLER_TIMEOUT.toSeconds() * 6),
  });
  const readCredential = new iam.PolicyStatement({
    actions: ['ssm:GetParameter'],
    resources: [scope.formatArn({ service: 'ssm', resource: 'parameter', resourceName: credential.slice(1) })],
  });
  for (const fn of [framework, ticker]) {
    props.grantApp(fn);
    grantFrameworkTable(fn.role, table, spec.tableActions);
    fn.role.addToPrincipalPolicy(readCredential);
  }
  // The API's functions host the same framework (its routes act through it): same credential.
  for (const fn of props.apiFunctions) {
    for (const [name, value] of Object.entries(environment)) fn.function.addEnvironment(name, value);
    grantFrameworkTable(fn.role, table, spec.tableActions);
    fn.role.addToPrincipalPolicy(readCredential);
  }
  new events.Rule(scope, `${label}TickerSchedule`, {
    description: `Mantle ${props.clusterName}: the ${label} ticker`,
    schedule: events.Schedule.rate(Duration.minutes(1)),
    targets: [props.scheduleTarget(ticker)],
  });
  new CfnOutput(scope, `${label}Credential`, {
    description: `Before ${label} runs: create the ${spec.principal} principal and keep its credential where ${label}' functions read it`,
    value: credentialCommand(props.clusterName, spec.kind, spec.principal),
  });
  return { table, queue, framework, ticker };
}

/** The command that creates the framework's principal and keeps its credential where its functions read it. */
export function credentialCommand(clusterName: string, kind: HostedKind, principal: string): string {
  return (
    `AWS_REGION=${Aws.REGION} node bin/mantle.js principal create --cluster ${clusterName} --kind framework ` +
    `--name ${principal} ` +
    `| sed -n 's/^ *MANTLE_PRINCIPAL=\\([^ ]*\\) MANTLE_SECRET=\\(.*\\)$/\\1 \\2/p' ` +
    `| aws ssm put-parameter --region ${Aws.REGION} --type SecureString --name ${credentialParameter(clusterName, kind)} --value file:///dev/stdin`
  );
}
