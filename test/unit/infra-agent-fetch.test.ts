/**
 * The agents' S3 reads in the CDK stack: the instance role reads the agent bundle and, when the
 * `fetchBuckets` setting names buckets, the objects of those buckets (the fetcher's s3:// URIs); nothing
 * else of S3, and no bucket at all when none is named.
 */
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { MantleStack } from '../../infra/mantle-stack.js';
import { clusterSettings, SettingsError } from '../../infra/settings.js';

interface Statement {
  Action: string | string[];
  Resource: unknown;
}
interface Resource {
  Type: string;
  Properties: { Roles: Array<{ Ref: string }>; PolicyDocument: { Statement: Statement[] } };
}

/** The S3 statements of the agents' role, with the bundle's (an asset, named by CDK) left out. */
function agentS3Statements(context: Record<string, unknown>): Statement[] {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  const stack = new MantleStack(app, 'Test', { settings: clusterSettings((key) => context[key]) });
  const resources = Template.fromStack(stack).toJSON().Resources as Record<string, Resource>;
  const role = Object.keys(resources).find(
    (id) => id.startsWith('AgentsAgentRole') && resources[id]?.Type === 'AWS::IAM::Role',
  );
  return Object.values(resources)
    .filter((r) => r.Type === 'AWS::IAM::Policy' && r.Properties.Roles.some((ref) => ref.Ref === role))
    .flatMap((r) => r.Properties.PolicyDocument.Statement)
    .filter((statement) => [statement.Action].flat().some((action) => action.startsWith('s3:')))
    .filter((statement) => !JSON.stringify(statement.Resource).includes('cdk-'));
}

describe("the agents' S3 reads", () => {
  it('read only the objects of the buckets named in fetchBuckets', () => {
    expect(agentS3Statements({})).toEqual([]);
    expect(agentS3Statements({ fetchBuckets: 'models,datasets.eu' })).toEqual([
      {
        Action: 's3:GetObject',
        Effect: 'Allow',
        Resource: [
          { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':s3:::models/*']] },
          { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':s3:::datasets.eu/*']] },
        ],
      },
    ]);
  });

  it('refuses what is not a bucket name', () => {
    for (const bad of ['Models', 'a', 'bucket/*', '*']) {
      expect(() => clusterSettings((key) => (key === 'fetchBuckets' ? bad : undefined))).toThrow(SettingsError);
    }
  });
});
