import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { MantleStack } from '../../infra/mantle-stack.js';
import { clusterSettings } from '../../infra/settings.js';
import { TABLE_DEFINITIONS, tableNames } from '../../functions/registrar/tables.js';

function template(deletionProtection?: boolean): Template {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  const context: Record<string, unknown> = { cluster: 'prod', deletionProtection };
  const stack = new MantleStack(app, 'Test', { settings: clusterSettings((key) => context[key]) });
  return Template.fromStack(stack);
}

describe('the CDK stack declares the registrar tables from the shared definitions', () => {
  it('has one on-demand table per definition, with the same keys, TTL and point-in-time recovery', () => {
    const t = template();
    const names = tableNames('prod');
    // The registrar's tables, the jobs table and the services table (test/unit/infra-jobs.test.ts, infra-services.test.ts).
    t.resourceCountIs('AWS::DynamoDB::GlobalTable', TABLE_DEFINITIONS.length + 2);
    for (const definition of TABLE_DEFINITIONS) {
      const keys = [definition.partitionKey, ...(definition.sortKey ? [definition.sortKey] : [])];
      t.hasResourceProperties('AWS::DynamoDB::GlobalTable', {
        TableName: names[definition.id],
        BillingMode: 'PAY_PER_REQUEST',
        KeySchema: [
          { AttributeName: definition.partitionKey.name, KeyType: 'HASH' },
          ...(definition.sortKey ? [{ AttributeName: definition.sortKey.name, KeyType: 'RANGE' }] : []),
        ],
        AttributeDefinitions: keys.map((key) => ({ AttributeName: key.name, AttributeType: key.type })),
        Replicas: [
          {
            PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
            DeletionProtectionEnabled: true,
          },
        ],
        ...(definition.timeToLiveAttribute
          ? { TimeToLiveSpecification: { AttributeName: definition.timeToLiveAttribute, Enabled: true } }
          : {}),
      });
    }
  });

  it('retains protected tables and can drop protection for throwaway clusters', () => {
    expect(JSON.stringify(template().toJSON())).toContain('"DeletionPolicy":"Retain"');
    const unprotected = template(false);
    unprotected.hasResourceProperties('AWS::DynamoDB::GlobalTable', {
      Replicas: [{ DeletionProtectionEnabled: false }],
    });
    expect(JSON.stringify(unprotected.toJSON())).toContain('"DeletionPolicy":"Delete"');
  });
});
