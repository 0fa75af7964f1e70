/**
 * The tasks' output in the CDK stack (infra/task-logs.ts): the cluster's task log group with a
 * retention; the agents' role may only create streams and put events in it; the functions serving the
 * files API may only list and read it; no other role touches it; every master function knows its name.
 */
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { MantleStack } from '../../infra/mantle-stack.js';
import { clusterSettings } from '../../infra/settings.js';
import { TASK_LOG_READ, TASK_LOG_WRITE } from '../../infra/task-logs.js';

type Json = Record<string, unknown>;
interface Resource {
  Type: string;
  Properties: Json;
}
interface Statement {
  Action: string | string[];
  Resource: unknown;
}

let template: Template;
let resources: Record<string, Resource>;

beforeAll(() => {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  const context: Record<string, unknown> = { cluster: 'prod' };
  const stack = new MantleStack(app, 'Test', { settings: clusterSettings((key) => context[key]) });
  template = Template.fromStack(stack);
  resources = template.toJSON().Resources as Record<string, Resource>;
});

const groupLogicalId = (): string =>
  Object.entries(resources).find(
    ([, r]) => r.Type === 'AWS::Logs::LogGroup' && r.Properties.LogGroupName === '/mantle/prod/tasks',
  )?.[0] as string;

/** Every statement naming a logs action, by the role its policy is attached to. */
function logStatements(): Array<{ roles: string[]; actions: string[]; resource: unknown }> {
  const found: Array<{ roles: string[]; actions: string[]; resource: unknown }> = [];
  for (const resource of Object.values(resources)) {
    if (resource.Type !== 'AWS::IAM::Policy') continue;
    const roles = (resource.Properties.Roles as Array<{ Ref: string }>).map((role) => role.Ref);
    const document = resource.Properties.PolicyDocument as { Statement: Statement[] };
    for (const statement of document.Statement) {
      const actions = [statement.Action].flat();
      if (actions.some((action) => action.startsWith('logs:')))
        found.push({ roles, actions, resource: statement.Resource });
    }
  }
  return found;
}

const roleOf = (prefix: string): string =>
  Object.entries(resources).find(([id, r]) => r.Type === 'AWS::IAM::Role' && id.startsWith(prefix))?.[0] as string;

describe('task output in the stack', () => {
  it('has one task log group per cluster, with a retention', () => {
    const id = groupLogicalId();
    expect(id).toBeDefined();
    expect(resources[id]?.Properties.RetentionInDays).toBe(30);
  });

  it('lets the agents only create streams and put events, in that group alone', () => {
    const arn = { 'Fn::GetAtt': [groupLogicalId(), 'Arn'] };
    const agentRole = roleOf('AgentsAgentRole');
    const agents = logStatements().filter((statement) => statement.roles.includes(agentRole));
    expect(agents).toEqual([{ roles: [agentRole], actions: [...TASK_LOG_WRITE], resource: arn }]);
  });

  it("lets the API's functions only list and read it, and no other role touch it", () => {
    const arn = { 'Fn::GetAtt': [groupLogicalId(), 'Arn'] };
    const readers = [roleOf('SchedulerRole'), roleOf('ApiRole')];
    const onGroup = logStatements().filter((s) => JSON.stringify(s.resource) === JSON.stringify(arn));
    const agentRole = roleOf('AgentsAgentRole');
    expect(onGroup.filter((s) => !s.roles.includes(agentRole))).toEqual(
      readers.map((role) => ({ roles: [role], actions: [...TASK_LOG_READ], resource: arn })),
    );
    // Nobody may write where the master reads, or read all of CloudWatch Logs.
    for (const statement of logStatements()) {
      expect(statement.actions).not.toContain('logs:*');
      if (statement.actions.includes('logs:GetLogEvents')) expect(statement.resource).toEqual(arn);
    }
  });

  it('tells every master function where task output is', () => {
    const functions = Object.values(resources).filter((r) => r.Type === 'AWS::Lambda::Function');
    const named = functions.filter(
      (fn) =>
        ((fn.Properties.Environment as { Variables?: Json } | undefined)?.Variables ?? {}).MANTLE_TASK_LOG_GROUP ===
        '/mantle/prod/tasks',
    );
    expect(named.length).toBeGreaterThanOrEqual(5);
  });
});
