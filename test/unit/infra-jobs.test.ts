/**
 * Mantle Jobs in the CDK stack (infra/jobs.ts): the jobs table from frameworks/jobs/tables.ts (keys and every
 * index), the `jobs` framework's named queue with its dead-letter queue feeding the Jobs function with partial
 * batch failures, the ticker every minute, least privilege (the store's actions on the jobs table and its
 * indexes only, the credential parameter), and MANTLE_JOBS_TABLE for the API functions.
 */
import { App, Duration, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import type * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import { describe, expect, it } from 'vitest';
import { JOBS_TABLE, JOBS_TABLE_ENV } from '../../frameworks/jobs/tables.js';
import { queueNames } from '#shared/queues/queues.js';
import { MantleFunction } from '../../infra/functions.js';
import {
  addJobs,
  JOBS_TABLE_ACTIONS,
  jobsCredentialCommand,
  jobsCredentialParameter,
  type MantleJobs,
} from '../../infra/jobs.js';

type Json = Record<string, unknown>;
interface Resource {
  Type: string;
  Properties: Json;
}

const granted: MantleFunction[] = [];

function synth(deletionProtection = true): { jobs: MantleJobs; api: MantleFunction; template: Template } {
  granted.length = 0;
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  const stack = new Stack(app, 'Test');
  // Any existing entry will do: bundling is skipped, and the functions' roles and settings are what is tested.
  const make = (key: string, props: { environment?: Record<string, string> } & Json) =>
    new MantleFunction(stack, key, {
      ...(props as unknown as ConstructorParameters<typeof MantleFunction>[2]),
      environment: props.environment ?? {},
    });
  const api = make('Api', { name: 'api', description: 'api', memorySize: 128, timeout: Duration.seconds(29) });
  const jobs = addJobs(stack, {
    clusterName: 'prod',
    deletionProtection,
    makeFunction: make as never,
    entries: { framework: 'fleet', ticker: 'sweeper' },
    apiFunctions: [api],
    grantApp: (fn) => granted.push(fn),
    scheduleTarget: (fn) => new targets.LambdaFunction(fn.function) as events.IRuleTarget,
  });
  return { jobs, api, template: Template.fromStack(stack) };
}

function resources(template: Template, type: string): Array<[string, Resource]> {
  return Object.entries(template.toJSON().Resources as Record<string, Resource>).filter(([, r]) => r.Type === type);
}

function variables(template: Template, logicalPrefix: string): Json {
  const [, fn] = resources(template, 'AWS::Lambda::Function').find(([id]) => id.startsWith(logicalPrefix)) as [
    string,
    Resource,
  ];
  return (fn.Properties.Environment as { Variables: Json }).Variables;
}

/** The statements of the policy attached to the role whose logical id starts with `prefix`. */
function statements(template: Template, prefix: string): Array<{ Action: string | string[]; Resource: unknown }> {
  return resources(template, 'AWS::IAM::Policy')
    .filter(([, policy]) => JSON.stringify(policy.Properties.Roles).includes(prefix))
    .flatMap(([, policy]) => (policy.Properties.PolicyDocument as { Statement: never[] }).Statement);
}

describe('the jobs table', () => {
  it('has the keys and every index of frameworks/jobs/tables.ts, on demand, recoverable and protected', () => {
    const { template } = synth();
    const indexes = JOBS_TABLE.indexes.map((index) => ({
      IndexName: index.name,
      KeySchema: [
        { AttributeName: index.partitionKey.name, KeyType: 'HASH' },
        { AttributeName: index.sortKey.name, KeyType: 'RANGE' },
      ],
      Projection: { ProjectionType: 'ALL' },
    }));
    template.hasResource('AWS::DynamoDB::GlobalTable', {
      Properties: Match.objectLike({
        TableName: 'prod-jobs',
        BillingMode: 'PAY_PER_REQUEST',
        KeySchema: [
          { AttributeName: 'pk', KeyType: 'HASH' },
          { AttributeName: 'sk', KeyType: 'RANGE' },
        ],
        GlobalSecondaryIndexes: indexes,
        TimeToLiveSpecification: { AttributeName: JOBS_TABLE.timeToLiveAttribute, Enabled: true },
        Replicas: [
          Match.objectLike({
            PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
            DeletionProtectionEnabled: true,
          }),
        ],
      }),
      DeletionPolicy: 'Retain',
    });
    expect(JOBS_TABLE.indexes.length).toBeGreaterThan(0);
    synth(false).template.hasResource('AWS::DynamoDB::GlobalTable', { DeletionPolicy: 'Delete' });
  });
});

describe('the jobs framework', () => {
  it("has the master's named queue for principal mantle-jobs, a dead-letter queue, and feeds the Jobs function", () => {
    const { template, jobs } = synth();
    const name = queueNames.frameworkDelivery('prod', 'mantle-jobs', 'jobs');
    template.hasResourceProperties('AWS::SQS::Queue', {
      QueueName: name,
      FifoQueue: true,
      VisibilityTimeout: 360,
      RedrivePolicy: { maxReceiveCount: 5, deadLetterTargetArn: Match.anyValue() },
    });
    template.hasResourceProperties('AWS::SQS::Queue', { QueueName: queueNames.deadLetter(name), FifoQueue: true });
    const [[, mapping]] = resources(template, 'AWS::Lambda::EventSourceMapping') as [[string, Resource]];
    expect(mapping.Properties.FunctionResponseTypes).toEqual(['ReportBatchItemFailures']);
    expect(JSON.stringify(mapping.Properties.FunctionName)).toContain('JobsFunction');
    expect(jobs.queue.deadLetters).toBeDefined();
  });

  it('runs the ticker every minute', () => {
    const { template } = synth();
    const [[, rule]] = resources(template, 'AWS::Events::Rule') as [[string, Resource]];
    expect(rule.Properties.ScheduleExpression).toBe('rate(1 minute)');
    expect(JSON.stringify(rule.Properties.Targets)).toContain('JobsTickerFunction');
  });

  it("gives the Jobs functions the table, the master app's rights (they run it in process) and their credential's place", () => {
    const { template, jobs } = synth();
    expect(granted).toEqual([jobs.framework, jobs.ticker]);
    for (const prefix of ['JobsFunction', 'JobsTickerFunction']) {
      expect(variables(template, prefix)).toMatchObject({
        [JOBS_TABLE_ENV]: expect.anything() as unknown,
        MANTLE_JOBS_PRINCIPAL: 'mantle-jobs',
        MANTLE_JOBS_CREDENTIAL_PARAMETER: '/mantle/prod/jobs-credential',
      });
      expect(JSON.stringify(variables(template, prefix)[JOBS_TABLE_ENV])).toContain('Tablejobs');
    }
    expect(JSON.stringify(variables(template, 'ApiFunction')[JOBS_TABLE_ENV])).toContain('Tablejobs');
    expect(jobsCredentialParameter('prod')).toBe('/mantle/prod/jobs-credential');
    expect(jobsCredentialCommand('prod')).toContain('--kind framework --name mantle-jobs');
  });
});

describe('least privilege', () => {
  it("grants the store's actions on the jobs table and its indexes, no wildcard action, the credential's parameter only to the functions hosting Jobs", () => {
    const { template } = synth();
    for (const role of ['JobsRole', 'JobsTickerRole', 'ApiRole']) {
      const granted = statements(template, role).filter((s) => JSON.stringify(s.Action).includes('dynamodb:'));
      expect(granted, role).toHaveLength(1);
      expect([...(granted[0]?.Action as string[])].sort(), role).toEqual([...JOBS_TABLE_ACTIONS].sort());
      const on = JSON.stringify(granted[0]?.Resource);
      expect(on, role).toContain('Tablejobs');
      expect(on, role).toContain('/index/*');
    }
    const ssm = (role: string) => statements(template, role).filter((s) => JSON.stringify(s.Action).includes('ssm:'));
    // The API's functions host Jobs too: its routes cancel through the framework.
    for (const role of ['JobsRole', 'JobsTickerRole', 'ApiRole']) {
      expect(ssm(role), role).toHaveLength(1);
      expect(ssm(role)[0]?.Action, role).toEqual('ssm:GetParameter');
      expect(JSON.stringify(ssm(role)[0]?.Resource), role).toContain('parameter/mantle/prod/jobs-credential');
    }
    const all = resources(template, 'AWS::IAM::Policy').flatMap(([, p]) =>
      (p.Properties.PolicyDocument as { Statement: Array<{ Action: string | string[] }> }).Statement.flatMap((s) =>
        Array.isArray(s.Action) ? s.Action : [s.Action],
      ),
    );
    expect(all.filter((action) => action.endsWith('*'))).toEqual([]);
  });
});
