/**
 * cdk-nag (AwsSolutions) findings that are deliberate, each acknowledged on the narrowest construct
 * with its reason. A new finding fails `cdk synth` (infra/app.ts) and the template tests.
 */
import { Stack, Validations, type CfnElement } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';
import type { AgentFleet } from './agents.js';
import type { MantleRestApi } from './api.js';
import type { MantleFunction } from './functions.js';
import type { MantleJobs } from './jobs.js';
import type { MantleQueues } from './queues.js';
import type { MantleServices } from './services.js';
import type { ClusterSettings } from './settings.js';

/** The parts of the stack whose findings are acknowledged (MantleStack passes itself). */
export interface NaggedStack {
  readonly settings: ClusterSettings;
  readonly queues: MantleQueues;
  readonly functions: Readonly<Record<string, MantleFunction>>;
  readonly fleet: AgentFleet;
  readonly restApi?: MantleRestApi;
  readonly jobs: MantleJobs;
  readonly services: MantleServices;
}

function acknowledge(scope: IConstruct, id: string, reason: string): void {
  Validations.of(scope).acknowledge({ id, reason });
}

export function suppressFindings(stack: NaggedStack): void {
  functionFindings(stack);
  fleetFindings(stack);
  frameworkTableFindings(stack);
  if (stack.restApi) apiFindings(stack, stack.restApi);
}

function functionFindings(stack: NaggedStack): void {
  for (const [key, fn] of Object.entries(stack.functions)) {
    // The sweeper's and the fleet tick's roles acknowledge `Resource::*` for their describe calls too (below).
    if (key !== 'Sweeper' && key !== 'FleetTick') {
      acknowledge(
        fn.role,
        'AwsSolutions-IAM5[Resource::*]',
        'X-Ray active tracing: xray:PutTraceSegments and xray:PutTelemetryRecords support no resource-level permissions',
      );
    }
    acknowledge(
      fn,
      'AwsSolutions-L1',
      'Node.js 22 is the runtime Mantle targets and tests (its SDK and dependency versions are pinned for it); ' +
        'moving to a newer runtime is a deliberate upgrade, not a drift',
    );
  }
  acknowledge(
    stack.queues.failedInvocations,
    'AwsSolutions-SQS3',
    'This queue is itself a dead-letter queue: the on-failure destination of the scheduled and event-driven ' +
      'functions and the dead-letter queue of their EventBridge targets (cdk-nag only recognises redrive policies)',
  );
}

function fleetFindings(stack: NaggedStack): void {
  const group = stack.fleet.group;
  const groupArn = `Resource::arn:<AWS::Partition>:autoscaling:<AWS::Region>:<AWS::AccountId>:autoScalingGroup:*:autoScalingGroupName/<${Stack.of(group).getLogicalId(group.node.defaultChild as CfnElement)}>`;
  for (const key of ['Status', 'FleetTick', 'Lifecycle']) {
    const fn = stack.functions[key];
    if (!fn) continue;
    acknowledge(
      fn.role,
      `AwsSolutions-IAM5[${groupArn}]`,
      "The agents' Auto Scaling group by name: the wildcard is the group's generated id, which CloudFormation " +
        'does not expose',
    );
  }
  const describe = 'Resource::*';
  const sweeper = stack.functions.Sweeper;
  if (sweeper) {
    acknowledge(
      sweeper.role,
      `AwsSolutions-IAM5[${describe}]`,
      "ec2:DescribeInstances (is a silent agent's instance gone?) and X-Ray's trace uploads support no " +
        'resource-level permissions',
    );
  }
  const fleetTick = stack.functions.FleetTick;
  if (fleetTick) {
    acknowledge(
      fleetTick.role,
      `AwsSolutions-IAM5[${describe}]`,
      "autoscaling:DescribeAutoScalingGroups (which instances are protected from scale-in) and X-Ray's trace " +
        'uploads support no resource-level permissions',
    );
  }
  if (stack.settings.ecrRepositories.length > 0) {
    acknowledge(
      stack.fleet.role,
      'AwsSolutions-IAM5[Resource::*]',
      'ecr:GetAuthorizationToken supports no resource-level permissions; pulls are limited to the ecrRepositories setting',
    );
    const wildcards = stack.settings.ecrRepositories.filter((repository) => repository.endsWith('*'));
    for (const repository of wildcards) {
      const arn = repository.startsWith('arn:')
        ? repository
        : `arn:<AWS::Partition>:ecr:<AWS::Region>:<AWS::AccountId>:repository/${repository}`;
      acknowledge(
        stack.fleet.role,
        `AwsSolutions-IAM5[Resource::${arn}]`,
        'A repository prefix the operator named in ecrRepositories',
      );
    }
  }
  acknowledge(
    group,
    'AwsSolutions-EC26',
    "The launch template encrypts the root volume (gp3, encrypted); the rule cannot follow the group's " +
      'mixed-instances launch template reference',
  );
}

/** Each hosted framework's table indexes: its store queries them, all declared with the table. */
function frameworkTableFindings(stack: NaggedStack): void {
  for (const [kind, { table }] of [
    ['jobs', stack.jobs],
    ['services', stack.services],
  ] as const) {
    const indexes = `AwsSolutions-IAM5[Resource::<${Stack.of(table).getLogicalId(table.node.defaultChild as CfnElement)}.Arn>/index/*]`;
    for (const fn of Object.values(stack.functions)) {
      acknowledge(
        fn.role,
        indexes,
        `The ${kind} table's indexes: its store queries them, all declared with the table (frameworks/${kind}/tables.ts)`,
      );
    }
  }
}

function apiFindings(stack: NaggedStack, rest: MantleRestApi): void {
  acknowledge(
    rest.api,
    'AwsSolutions-APIG2',
    'The app validates every request itself and answers with the Mesos status codes and messages frameworks ' +
      'expect; API Gateway models would answer differently',
  );
  const cloudWatchRole = rest.api.node.tryFindChild('CloudWatchRole');
  if (cloudWatchRole) {
    acknowledge(
      cloudWatchRole,
      'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs]',
      "API Gateway's account-level logging role: AWS's managed policy is the documented one for it",
    );
  }
  acknowledge(
    rest.api,
    'AwsSolutions-COG4',
    "Callers are Mesos frameworks, operators and agents with the registrar's principals (HTTP Basic or Bearer, " +
      'as Mesos does), checked by the Lambda authorizer; there are no Cognito users',
  );
  for (const method of rest.publicMethods) {
    acknowledge(
      method,
      'AwsSolutions-APIG4',
      "Health checks (/health, /master/health, Marathon's /ping) answer without credentials, as in Mesos and " +
        "Marathon; so do the web UI's static " +
        'page and files (/, /ui/..., /assets/...), which hold no data: the data it shows comes from authorized routes',
    );
  }
  if (!stack.settings.webAclArn) {
    acknowledge(
      rest.api,
      'AwsSolutions-APIG3',
      'WAF is optional (a web ACL costs $5/month plus its rules): set the webAclArn setting to associate one',
    );
  }
}
