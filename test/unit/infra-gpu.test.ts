/**
 * The stack's parts for GPU training (bundling skipped): ECR pulls with the agents' instance role
 * limited to the repositories the settings name, and the agents' security group open between agents
 * for multi-node training (NCCL's ephemeral ports, or everything for EFA); cdk-nag finds nothing new.
 */
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { describe, expect, it } from 'vitest';
import { MantleStack } from '../../infra/mantle-stack.js';
import { clusterSettings, SettingsError } from '../../infra/settings.js';

type Json = Record<string, unknown>;

function build(context: Record<string, unknown>): { stack: MantleStack; template: Template } {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  const stack = new MantleStack(app, 'Test', { settings: clusterSettings((key) => context[key]) });
  return { stack, template: Template.fromStack(stack) };
}

function ofType(template: Template, type: string): Json[] {
  return Object.values(template.toJSON().Resources as Record<string, { Type: string; Properties: Json }>)
    .filter((r) => r.Type === type)
    .map((r) => r.Properties);
}

/** The statements of the agents' role's policies. */
function agentStatements(template: Template): Array<{ Action: string | string[]; Resource: unknown }> {
  const role = Object.entries(template.toJSON().Resources as Record<string, { Type: string }>).find(
    ([id, r]) => r.Type === 'AWS::IAM::Role' && id.startsWith('AgentsAgentRole'),
  )?.[0];
  return ofType(template, 'AWS::IAM::Policy')
    .filter((policy) => JSON.stringify(policy.Roles).includes(`"${role}"`))
    .flatMap(
      (policy) => (policy.PolicyDocument as { Statement: Array<{ Action: string; Resource: unknown }> }).Statement,
    );
}

const ecrActions = (template: Template) =>
  agentStatements(template).filter((s) => JSON.stringify(s.Action).includes('ecr:'));

function nagViolations(stack: MantleStack): string[] {
  const report = new AwsSolutionsChecks().validateScope(stack);
  return report.violations.map(
    (v) => `${v.ruleName}: ${v.violatingResources.map((r) => r.resourceLogicalId).join(',')}`,
  );
}

describe('ECR pulls with the instance role', () => {
  it('grants nothing of ECR without ecrRepositories', () => {
    expect(ecrActions(build({}).template)).toEqual([]);
  });

  it('grants GetAuthorizationToken on * (AWS requires it) and pulls on the named repositories only', () => {
    const { stack, template } = build({
      ecrRepositories: 'team/train,ml/*,arn:aws:ecr:us-west-2:210987654321:repository/shared/base',
    });
    const statements = ecrActions(template);
    expect(statements).toHaveLength(2);
    expect(statements[0]).toMatchObject({ Action: 'ecr:GetAuthorizationToken', Resource: '*' });
    expect(statements[1]?.Action).toEqual(['ecr:BatchGetImage', 'ecr:GetDownloadUrlForLayer']);
    const resources = JSON.stringify(statements[1]?.Resource);
    expect(resources).toContain(':repository/team/train"');
    expect(resources).toContain(':repository/ml/*"');
    expect(resources).toContain('"arn:aws:ecr:us-west-2:210987654321:repository/shared/base"');
    expect((statements[1]?.Resource as unknown[]).length).toBe(3);
    expect(nagViolations(stack)).toEqual([]);
  });

  it.each(['*', 'Team/Train', 'a//b', 'arn:aws:s3:::bucket'])('refuses the repository %j', (repository) => {
    expect(() => build({ ecrRepositories: repository })).toThrow(SettingsError);
  });
});

describe('traffic between agents', () => {
  const rules = (template: Template) =>
    ofType(template, 'AWS::EC2::SecurityGroupIngress').map((rule) => {
      expect(rule.SourceSecurityGroupId).toEqual(rule.GroupId);
      return [rule.IpProtocol, rule.FromPort, rule.ToPort];
    });

  it("opens the task ports and NCCL's ephemeral ports between agents, and nothing from elsewhere", () => {
    const { template } = build({});
    expect(rules(template).sort()).toEqual([
      ['tcp', 31000, 32000],
      ['tcp', 32768, 60999],
      ['udp', 31000, 32000],
    ]);
    for (const group of ofType(template, 'AWS::EC2::SecurityGroup')) expect(group.SecurityGroupIngress).toBeUndefined();
  });

  it('opens everything between agents with agentPeerTraffic: all (EFA requires it)', () => {
    const { stack, template } = build({ agentPeerTraffic: 'all' });
    expect(rules(template)).toEqual([['-1', undefined, undefined]]);
    expect(nagViolations(stack)).toEqual([]);
    expect(() => build({ agentPeerTraffic: 'some' })).toThrow(/agentPeerTraffic must be tasks or all/);
  });
});
