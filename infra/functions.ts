/**
 * One of the master's Lambdas: a NodejsFunction bundled by local esbuild (infra/bundling.ts), Node 22
 * on arm64, with its own role (least privilege: only what the stack grants it, plus writing its own
 * log group) and its own log group with a retention, so that logs do not accumulate forever; traced by
 * X-Ray (active tracing).
 */
import { RemovalPolicy, type Duration } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { join } from 'node:path';
import {
  LAMBDA_BUNDLING,
  LAMBDA_ENTRIES,
  PROJECT_ROOT,
  UI_BUNDLING,
  UI_FUNCTIONS,
  type LambdaName,
} from './bundling.js';

export interface MantleFunctionProps {
  readonly name: LambdaName;
  readonly description: string;
  readonly memorySize: number;
  readonly timeout: Duration;
  readonly environment: Readonly<Record<string, string>>;
  readonly reservedConcurrentExecutions?: number;
  /** Where failed asynchronous invocations (schedules, EventBridge) go after Lambda's retries. */
  readonly onFailure?: lambda.IDestination;
}

export class MantleFunction extends Construct {
  readonly function: NodejsFunction;
  readonly role: iam.Role;
  readonly logGroup: logs.LogGroup;

  constructor(scope: Construct, id: string, props: MantleFunctionProps) {
    super(scope, id);
    const { entry, handler } = LAMBDA_ENTRIES[props.name];
    this.role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `Mantle ${props.name} function`,
    });
    this.logGroup = new logs.LogGroup(this, 'Logs', {
      retention: logs.RetentionDays.ONE_MONTH,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.logGroup.grantWrite(this.role);
    this.function = new NodejsFunction(this, 'Function', {
      entry: join(PROJECT_ROOT, entry),
      handler,
      projectRoot: PROJECT_ROOT,
      depsLockFilePath: join(PROJECT_ROOT, 'package-lock.json'),
      runtime: lambda.Runtime.NODEJS_22_X,
      architecture: lambda.Architecture.ARM_64,
      description: props.description,
      memorySize: props.memorySize,
      timeout: props.timeout,
      role: this.role,
      logGroup: this.logGroup,
      // JSON logs without Lambda's START/END/REPORT lines: at a heartbeat every 15 s per agent those
      // three lines alone would cost more in ingestion than the budget allows an idle agent.
      // X-Ray: each invocation traced (Powertools Tracer, shared/tracing.ts), with its DynamoDB and SQS calls.
      tracing: lambda.Tracing.ACTIVE,
      loggingFormat: lambda.LoggingFormat.JSON,
      systemLogLevelV2: lambda.SystemLogLevel.WARN,
      applicationLogLevelV2: lambda.ApplicationLogLevel.INFO,
      environment: {
        ...props.environment,
        NODE_OPTIONS: '--enable-source-maps',
        POWERTOOLS_SERVICE_NAME: props.name,
        POWERTOOLS_LOG_LEVEL: 'INFO',
      },
      bundling: UI_FUNCTIONS.includes(props.name) ? UI_BUNDLING : LAMBDA_BUNDLING,
      ...(props.reservedConcurrentExecutions !== undefined
        ? { reservedConcurrentExecutions: props.reservedConcurrentExecutions }
        : {}),
      ...(props.onFailure ? { onFailure: props.onFailure, retryAttempts: 2 } : {}),
    });
  }
}
