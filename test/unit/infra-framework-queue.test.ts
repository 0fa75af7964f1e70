/**
 * The CDK construct for a first-party queue-delivered framework's queue (issue 12), and the master's grants on the
 * named framework queues: the queue the master will find by name, its dead-letter queue, and the handler's event
 * source with partial batch failures.
 */
import { App, Duration, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { describe, expect, it } from 'vitest';
import { queueNames } from '#shared/queues/queues.js';
import { FrameworkQueue } from '../../infra/framework-queue.js';
import { grantRuntimeQueues, QUEUE_LIFECYCLE, SEND } from '../../infra/permissions.js';

function synth(extra: Partial<ConstructorParameters<typeof FrameworkQueue>[2]> = {}) {
  const stack = new Stack(new App(), 'Test');
  const handler = new lambda.Function(stack, 'Jobs', {
    runtime: lambda.Runtime.NODEJS_22_X,
    handler: 'index.handler',
    code: lambda.Code.fromInline('exports.handler = async () => ({ batchItemFailures: [] });'),
  });
  const hosted = new FrameworkQueue(stack, 'JobsQueue', {
    clusterName: 'prod',
    principal: 'mantle-jobs',
    name: 'jobs',
    handler,
    ...extra,
  });
  return { stack, hosted, template: Template.fromStack(stack) };
}

describe('a framework queue', () => {
  it("is the master's named FIFO queue, with a dead-letter queue, feeding the handler with partial failures", () => {
    const { template } = synth();
    const name = queueNames.frameworkDelivery('prod', 'mantle-jobs', 'jobs');
    template.hasResourceProperties('AWS::SQS::Queue', {
      QueueName: name,
      FifoQueue: true,
      VisibilityTimeout: 360,
      MessageRetentionPeriod: 4 * 24 * 3600,
      SqsManagedSseEnabled: true,
      RedrivePolicy: { maxReceiveCount: 5, deadLetterTargetArn: Match.anyValue() },
    });
    template.hasResourceProperties('AWS::SQS::Queue', {
      QueueName: queueNames.deadLetter(name),
      FifoQueue: true,
      MessageRetentionPeriod: 14 * 24 * 3600,
    });
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      BatchSize: 10,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
    });
    // SSL only, as every other queue of the stack.
    template.hasResourceProperties('AWS::SQS::QueuePolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
        ]),
      },
    });
  });

  it('takes the visibility timeout, receive count and batch size it is given', () => {
    const { template } = synth({ visibilityTimeout: Duration.minutes(15), maxReceiveCount: 3, batchSize: 1 });
    template.hasResourceProperties('AWS::SQS::Queue', {
      VisibilityTimeout: 900,
      RedrivePolicy: { maxReceiveCount: 3, deadLetterTargetArn: Match.anyValue() },
    });
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', { BatchSize: 1 });
  });
});

describe("the master's grants on framework queues", () => {
  it('cover the named queues (fwq-) beside the per-framework ones, and finding a queue by name', () => {
    const stack = new Stack(new App(), 'Grants');
    const role = new iam.Role(stack, 'Scheduler', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
    grantRuntimeQueues(role, stack, 'prod', 'framework', [...QUEUE_LIFECYCLE, ...SEND]);
    const statement = Template.fromStack(stack).toJSON() as {
      Resources: Record<
        string,
        { Type: string; Properties: { PolicyDocument: { Statement: Array<{ Action: string[]; Resource: unknown }> } } }
      >;
    };
    const policy = Object.values(statement.Resources).find((r) => r.Type === 'AWS::IAM::Policy');
    const [grant] = policy?.Properties.PolicyDocument.Statement ?? [];
    expect(grant?.Action).toContain('sqs:GetQueueUrl');
    const resources = JSON.stringify(grant?.Resource);
    expect(resources).toContain(':prod-fw-????????????????????????.fifo');
    expect(resources).toContain(':prod-fwq-????????????????????????.fifo');
  });
});
