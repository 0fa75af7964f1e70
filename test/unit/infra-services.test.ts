/**
 * Mantle Services in the CDK stack (infra/services.ts over infra/hosted-framework.ts), beside Mantle Jobs as the
 * stack hosts both: the services table from frameworks/services/tables.ts (keys, its index, TTL, on demand,
 * recoverable, protected), the `services` framework's named queue with its dead-letter queue feeding the Services
 * function with partial batch failures, the ticker every minute, least privilege (the store's actions on the
 * services table and its index only, never the jobs table; the credential's own parameter), and
 * MANTLE_SERVICES_TABLE for the API functions, which serve Marathon's v2 API.
 */
import { App, Duration, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import type * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import { describe, expect, it } from 'vitest';
import { SERVICES_TABLE, SERVICES_TABLE_ENV } from '../../frameworks/services/tables.js';
import { queueNames } from '#shared/queues/queues.js';
import { MantleFunction } from '../../infra/functions.js';
import type { HostedFrameworkProps } from '../../infra/hosted-framework.js';
import { addJobs } from '../../infra/jobs.js';
import {
  addServices,
  SERVICES_TABLE_ACTIONS,
  servicesCredentialCommand,
  servicesCredentialParameter,
  type MantleServices,
} from '../../infra/services.js';

type Json = Record<string, unknown>;
interface Resource {
  Type: string;
  Properties: Json;
  DeletionPolicy?: string;
}

const granted: MantleFunction[] = [];

function synth(deletionProtection = true): { services: MantleServices; template: Template } {
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
  const hosting: Omit<HostedFrameworkProps, 'entries'> = {
    clusterName: 'prod',
    deletionProtection,
    makeFunction: make as never,
    apiFunctions: [api],
    grantApp: (fn) => granted.push(fn),
    scheduleTarget: (fn) => new targets.LambdaFunction(fn.function) as events.IRuleTarget,
  };
  addJobs(stack, { ...hosting, entries: { framework: 'jobs', ticker: 'jobsTicker' } });
  const services = addServices(stack, { ...hosting, entries: { framework: 'services', ticker: 'servicesTicker' } });
  return { services, template: Template.fromStack(stack) };
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
    .filter(([, policy]) => JSON.stringify(policy.Properties.Roles).includes(`"${prefix}`))
    .flatMap(([, policy]) => (policy.Properties.PolicyDocument as { Statement: never[] }).Statement);
}

describe('the services table', () => {
  it('has the keys, index and TTL of frameworks/services/tables.ts, on demand, recoverable and protected', () => {
    const { template } = synth();
    template.hasResource('AWS::DynamoDB::GlobalTable', {
      Properties: Match.objectLike({
        TableName: 'prod-services',
        BillingMode: 'PAY_PER_REQUEST',
        KeySchema: [
          { AttributeName: 'pk', KeyType: 'HASH' },
          { AttributeName: 'sk', KeyType: 'RANGE' },
        ],
        GlobalSecondaryIndexes: SERVICES_TABLE.indexes.map((index) => ({
          IndexName: index.name,
          KeySchema: [
            { AttributeName: index.partitionKey.name, KeyType: 'HASH' },
            { AttributeName: index.sortKey.name, KeyType: 'RANGE' },
          ],
          Projection: { ProjectionType: 'ALL' },
        })),
        TimeToLiveSpecification: { AttributeName: SERVICES_TABLE.timeToLiveAttribute, Enabled: true },
        Replicas: [
          Match.objectLike({
            PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
            DeletionProtectionEnabled: true,
          }),
        ],
      }),
      DeletionPolicy: 'Retain',
    });
    const unprotected = resources(synth(false).template, 'AWS::DynamoDB::GlobalTable').find(
      ([, table]) => table.Properties.TableName === 'prod-services',
    );
    expect(unprotected?.[1].DeletionPolicy).toBe('Delete');
  });
});

describe('the services framework', () => {
  it("has the master's named queue for principal mantle-services, a dead-letter queue, and feeds the Services function", () => {
    const { template, services } = synth();
    const name = queueNames.frameworkDelivery('prod', 'mantle-services', 'services');
    template.hasResourceProperties('AWS::SQS::Queue', {
      QueueName: name,
      FifoQueue: true,
      VisibilityTimeout: 360,
      RedrivePolicy: { maxReceiveCount: 5, deadLetterTargetArn: Match.anyValue() },
    });
    template.hasResourceProperties('AWS::SQS::Queue', { QueueName: queueNames.deadLetter(name), FifoQueue: true });
    const mappings = resources(template, 'AWS::Lambda::EventSourceMapping').filter(([, m]) =>
      JSON.stringify(m.Properties.FunctionName).includes('ServicesFunction'),
    );
    expect(mappings).toHaveLength(1);
    expect(mappings[0]?.[1].Properties.FunctionResponseTypes).toEqual(['ReportBatchItemFailures']);
    expect(JSON.stringify(mappings[0]?.[1].Properties.EventSourceArn)).toContain('ServicesQueue');
    expect(services.queue.deadLetters).toBeDefined();
    template.hasResourceProperties('AWS::Lambda::Function', { Handler: 'index.servicesEventsHandler' });
    template.hasResourceProperties('AWS::Lambda::Function', { Handler: 'index.servicesTickerHandler' });
  });

  it('runs the ticker every minute', () => {
    const { template } = synth();
    const rules = resources(template, 'AWS::Events::Rule').filter(([id]) => id.startsWith('ServicesTickerSchedule'));
    expect(rules).toHaveLength(1);
    expect(rules[0]?.[1].Properties.ScheduleExpression).toBe('rate(1 minute)');
    expect(JSON.stringify(rules[0]?.[1].Properties.Targets)).toContain('ServicesTickerFunction');
  });

  it("gives the Services functions the table, the master app's rights (they run it in process) and their credential's place", () => {
    const { template, services } = synth();
    expect(granted.slice(-2)).toEqual([services.framework, services.ticker]);
    for (const prefix of ['ServicesFunction', 'ServicesTickerFunction']) {
      expect(variables(template, prefix)).toMatchObject({
        MANTLE_SERVICES_PRINCIPAL: 'mantle-services',
        MANTLE_SERVICES_CREDENTIAL_PARAMETER: '/mantle/prod/services-credential',
      });
      expect(JSON.stringify(variables(template, prefix)[SERVICES_TABLE_ENV])).toContain('Tableservices');
      // Only its own framework's settings: no jobs table, no Jobs credential.
      expect(Object.keys(variables(template, prefix)).filter((key) => key.startsWith('MANTLE_JOBS'))).toEqual([]);
    }
    // The API's function serves /v2 (and /api/jobs/v1): both tables, both credentials.
    expect(JSON.stringify(variables(template, 'ApiFunction')[SERVICES_TABLE_ENV])).toContain('Tableservices');
    expect(variables(template, 'ApiFunction')).toMatchObject({ MANTLE_SERVICES_PRINCIPAL: 'mantle-services' });
    expect(servicesCredentialParameter('prod')).toBe('/mantle/prod/services-credential');
    const command = servicesCredentialCommand('prod');
    expect(command).toContain('--kind framework --name mantle-services');
    expect(command).toContain('--name /mantle/prod/services-credential');
    const outputs = template.toJSON().Outputs as Record<string, { Value: unknown }>;
    expect(JSON.stringify(outputs.ServicesCredential?.Value)).toContain('mantle-services');
  });
});

describe('least privilege', () => {
  it("grants the store's actions on the services table and its index only, and its own credential's parameter", () => {
    const { template } = synth();
    const dynamodb = (role: string) =>
      statements(template, role).filter((s) => JSON.stringify(s.Action).includes('dynamodb:'));
    for (const role of ['ServicesRole', 'ServicesTickerRole']) {
      const granted = dynamodb(role);
      expect(granted, role).toHaveLength(1);
      expect([...(granted[0]?.Action as string[])].sort(), role).toEqual([...SERVICES_TABLE_ACTIONS].sort());
      const on = JSON.stringify(granted[0]?.Resource);
      expect(on, role).toContain('Tableservices');
      expect(on, role).toContain('/index/*');
      expect(on, role).not.toContain('Tablejobs');
      const ssm = statements(template, role).filter((s) => JSON.stringify(s.Action).includes('ssm:'));
      expect(ssm, role).toHaveLength(1);
      expect(ssm[0]?.Action, role).toBe('ssm:GetParameter');
      expect(JSON.stringify(ssm[0]?.Resource), role).toContain('parameter/mantle/prod/services-credential');
      expect(JSON.stringify(ssm[0]?.Resource), role).not.toContain('jobs-credential');
    }
    // The Jobs functions, in turn, never get the services table or credential.
    for (const role of ['JobsRole', 'JobsTickerRole']) {
      expect(JSON.stringify(statements(template, role)), role).not.toMatch(/Tableservices|services-credential/);
    }
    // The API's function: one statement per table, each on its own table.
    const api = dynamodb('ApiRole');
    expect(api).toHaveLength(2);
    expect(api.filter((s) => JSON.stringify(s.Resource).includes('Tableservices'))).toHaveLength(1);
    // The services store updates nothing in place, so it may not.
    expect(SERVICES_TABLE_ACTIONS).not.toContain('dynamodb:UpdateItem');
    const all = resources(template, 'AWS::IAM::Policy').flatMap(([, p]) =>
      (p.Properties.PolicyDocument as { Statement: Array<{ Action: string | string[] }> }).Statement.flatMap((s) =>
        Array.isArray(s.Action) ? s.Action : [s.Action],
      ),
    );
    expect(all.filter((action) => action.endsWith('*'))).toEqual([]);
  });
});
