/**
 * The CDK stack's template (bundling skipped; the bundles are tested in test/contract/bundles.test.ts):
 * the streaming route, the authorizer on every route that needs one, the GPU fleet (launch template
 * with IMDSv2, mixed-instances group, lifecycle hook, scaling on the demand signal), dead-letter queues
 * and their alarms, least-privilege IAM, and cdk-nag's AwsSolutions checks.
 */
import { App } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { beforeAll, describe, expect, it } from 'vitest';
import { LIFECYCLE_HOOK_NAME } from '../../infra/agents.js';
import { STAGE_NAME } from '../../infra/api.js';
import { MantleStack } from '../../infra/mantle-stack.js';
import { clusterSettings, DEFAULT_AGENT_AMI_PARAMETER, lifecycleWaitSeconds } from '../../infra/settings.js';
import { AGENT_QUEUE_TAG } from '../../functions/fleet/agent-queues.js';
import { LIFECYCLE_ACTION, SPOT_INTERRUPTION, STATE_CHANGE } from '../../functions/fleet/eventbridge.js';
import { FLEET_METRICS, METRICS_NAMESPACE } from '../../functions/master/cloudwatch.js';
import { API_ROUTES } from '../../functions/master/routes.js';
import { TABLE_DEFINITIONS, tableEnvironmentVariable } from '../../functions/registrar/tables.js';

type Json = Record<string, unknown>;
interface Resource {
  Type: string;
  Properties: Json;
}

function build(context: Record<string, unknown>): { stack: MantleStack; template: Template } {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  const stack = new MantleStack(app, 'Test', { settings: clusterSettings((key) => context[key]) });
  return { stack, template: Template.fromStack(stack) };
}

function resources(template: Template, type: string): Array<[string, Resource]> {
  return Object.entries(template.toJSON().Resources as Record<string, Resource>).filter(([, r]) => r.Type === type);
}

function logicalId(template: Template, type: string, match: (resource: Resource) => boolean): string {
  const found = resources(template, type).filter(([, r]) => match(r));
  expect(found, `exactly one ${type}`).toHaveLength(1);
  return (found[0] as [string, Resource])[0];
}

/** The function whose logical id starts with the construct id given to MantleFunction. */
function findFunction(template: Template, key: string): string {
  const ids = resources(template, 'AWS::Lambda::Function')
    .map(([id]) => id)
    .filter((id) => id.startsWith(`${key}Function`));
  expect(ids, `the ${key} function`).toHaveLength(1);
  return ids[0] as string;
}

/** The resource ids `value` mentions through Ref or Fn::GetAtt. */
function referenced(value: unknown, into = new Set<string>()): Set<string> {
  if (Array.isArray(value)) value.forEach((item) => referenced(item, into));
  else if (value && typeof value === 'object') {
    for (const [key, inner] of Object.entries(value)) {
      if (key === 'Ref' && typeof inner === 'string') into.add(inner);
      else if (key === 'Fn::GetAtt') into.add((inner as string[])[0] as string);
      else referenced(inner, into);
    }
  }
  return into;
}

let base: { stack: MantleStack; template: Template };
let spot: { stack: MantleStack; template: Template };
let functionUrl: { stack: MantleStack; template: Template };
beforeAll(() => {
  base = build({ cluster: 'prod' });
  spot = build({
    cluster: 'gpu',
    spot: 'true',
    minAgents: '1',
    maxAgents: '20',
    agentInstanceTypes: 'g6.xlarge,g6.12xlarge',
    webAclArn: 'arn:aws:wafv2:us-east-1:123456789012:regional/webacl/mantle/abc',
    domainName: 'mesos.example.com',
    certificateArn: 'arn:aws:acm:us-east-1:123456789012:certificate/abc',
    alarmEmail: 'ops@example.com',
    acls: '{"host_paths":["/data"]}',
    filterGpuResources: 'false',
    agentResources: 'cpus:48;mem:190000;gpus:4',
  });
  functionUrl = build({ cluster: 'cheap', endpoint: 'function-url' });
});

describe('the REST API', () => {
  it('streams the scheduler and operator routes from the streaming entry point and buffers the others', () => {
    const t = base.template;
    const scheduler = findFunction(t, 'Scheduler');
    const api = findFunction(t, 'Api');
    t.hasResourceProperties('AWS::Lambda::Function', {
      Handler: 'index.streamingHandler',
      Runtime: 'nodejs22.x',
      Architectures: ['arm64'],
    });
    const methods = resources(t, 'AWS::ApiGateway::Method');
    const streaming = methods.filter(([, m]) => (m.Properties.Integration as Json).ResponseTransferMode === 'STREAM');
    // SUBSCRIBE on the scheduler API and on the operator API, the files API's download (a file, page by page), and
    // Marathon's event stream (/v2/events).
    expect(streaming).toHaveLength(API_ROUTES.filter((route) => route.streaming).length);
    expect(streaming.map(([, m]) => m.Properties.HttpMethod).sort()).toEqual(['GET', 'GET', 'POST', 'POST']);
    for (const [, method] of streaming) {
      const integration = method.Properties.Integration as Json;
      expect(JSON.stringify(integration.Uri)).toContain('/response-streaming-invocations');
      expect(referenced(integration.Uri)).toContain(scheduler);
      expect(integration.TimeoutInMillis).toBe(15 * 60 * 1000);
    }
    const streamed = new Set(streaming.map(([, m]) => m));
    for (const [, method] of methods.filter(([, m]) => !streamed.has(m))) {
      const uri = (method.Properties.Integration as Json).Uri;
      expect(JSON.stringify(uri)).toContain('/invocations');
      expect(referenced(uri)).toContain(api);
    }
  });

  it('passes protobuf bodies and answers as binary (base64 to and from the Lambda), JSON as text', () => {
    base.template.hasResourceProperties('AWS::ApiGateway::RestApi', { BinaryMediaTypes: ['application/x-protobuf'] });
  });

  it('puts the authorizer on every framework, operator and agent route; only health and the UI are public', () => {
    const t = base.template;
    const authorizer = logicalId(t, 'AWS::ApiGateway::Authorizer', () => true);
    t.hasResourceProperties('AWS::ApiGateway::Authorizer', {
      Type: 'TOKEN',
      IdentitySource: 'method.request.header.Authorization',
    });
    const authorizerFunction = findFunction(t, 'Authorizer');
    expect(referenced(resources(t, 'AWS::ApiGateway::Authorizer')[0]?.[1].Properties.AuthorizerUri)).toContain(
      authorizerFunction,
    );
    const methods = resources(t, 'AWS::ApiGateway::Method');
    expect(methods).toHaveLength(API_ROUTES.length);
    const byPath = new Map(
      resources(t, 'AWS::ApiGateway::Resource').map(([id, r]) => [id, r.Properties.PathPart as string]),
    );
    for (const [, method] of methods) {
      // A method on the API's root resource has no path part of its own: the UI's GET /.
      const last = byPath.get([...referenced(method.Properties.ResourceId)][0] as string) ?? '';
      const route = API_ROUTES.find((r) => r.method === method.Properties.HttpMethod && r.path.endsWith(`/${last}`));
      expect(route, `a route for ${String(method.Properties.HttpMethod)} …/${String(last)}`).toBeDefined();
      if (route?.callers === 'public') {
        expect(route.path).toMatch(/health$|^\/$|^\/ui|^\/assets\/|^\/favicon\.svg$|^\/ping$/);
        expect(method.Properties.AuthorizationType).toBe('NONE');
      } else {
        expect(method.Properties.AuthorizationType).toBe('CUSTOM');
        expect(referenced(method.Properties.AuthorizerId)).toContain(authorizer);
      }
    }
  });

  it("answers refusals the way the app does (401 with Mesos's realm, 403) and throttles the stage", () => {
    const t = base.template;
    t.hasResourceProperties('AWS::ApiGateway::GatewayResponse', {
      ResponseType: 'UNAUTHORIZED',
      StatusCode: '401',
      ResponseParameters: { 'gatewayresponse.header.WWW-Authenticate': `'Basic realm="mesos-master-scheduler"'` },
    });
    t.hasResourceProperties('AWS::ApiGateway::GatewayResponse', { ResponseType: 'ACCESS_DENIED', StatusCode: '403' });
    t.hasResourceProperties('AWS::ApiGateway::Stage', {
      StageName: STAGE_NAME,
      MethodSettings: [Match.objectLike({ ThrottlingRateLimit: 200, ThrottlingBurstLimit: 400 })],
      AccessLogSetting: Match.objectLike({ DestinationArn: Match.anyValue() }),
    });
    t.resourceCountIs('AWS::WAFv2::WebACLAssociation', 0);
    spot.template.resourceCountIs('AWS::WAFv2::WebACLAssociation', 1);
    spot.template.hasResourceProperties('AWS::ApiGateway::DomainName', {
      DomainName: 'mesos.example.com',
      SecurityPolicy: 'TLS_1_2',
    });
  });

  it('can be a function URL instead: streamed, every route, no API Gateway and no authorizer', () => {
    const t = functionUrl.template;
    t.resourceCountIs('AWS::ApiGateway::RestApi', 0);
    t.hasResourceProperties('AWS::Lambda::Url', { AuthType: 'NONE', InvokeMode: 'RESPONSE_STREAM' });
    const url = logicalId(t, 'AWS::Lambda::Url', () => true);
    expect(referenced(resources(t, 'AWS::Lambda::Url')[0]?.[1].Properties.TargetFunctionArn)).toContain(
      findFunction(t, 'Scheduler'),
    );
    expect(
      resources(t, 'AWS::Lambda::Function')
        .map(([id]) => id)
        .some((id) => id.startsWith('Authorizer')),
    ).toBe(false);
    // The URL is public; the app behind it authenticates every call but the health checks.
    const scheduler = resources(t, 'AWS::Lambda::Function').find(([id]) => id === findFunction(t, 'Scheduler'));
    const env = (scheduler?.[1].Properties.Environment as { Variables: Record<string, unknown> }).Variables;
    expect(env.MANTLE_AUTHENTICATE).toBe('true');
    // The agents are pointed at it.
    const template = resources(t, 'AWS::EC2::LaunchTemplate')[0]?.[1] as Resource;
    expect(referenced((template.Properties.LaunchTemplateData as Json).UserData)).toContain(url);
  });
});

describe('the Lambdas', () => {
  it('each has its own role, log group and the environment the master reads', () => {
    const t = base.template;
    const fns = resources(t, 'AWS::Lambda::Function');
    // The master's nine, and the framework and ticker functions of Jobs and of Services.
    expect(fns.length).toBe(13);
    for (const [id, fn] of fns) {
      const env = (fn.Properties.Environment as { Variables: Record<string, unknown> }).Variables;
      expect(env.NODE_OPTIONS, id).toBe('--enable-source-maps');
      const logGroup = [...referenced(fn.Properties.LoggingConfig)][0];
      expect(
        resources(t, 'AWS::Logs::LogGroup').map(([logId]) => logId),
        id,
      ).toContain(logGroup);
      // Every function (the authorizer too) knows how agents prove their instance: the agents role's sessions.
      const agentRole = logicalId(t, 'AWS::IAM::Role', (r) => JSON.stringify(r).includes('GPU agents'));
      expect(env.MANTLE_AGENT_IDENTITY, id).toBe('aws-sts');
      expect(env.MANTLE_AGENT_ROLE_NAME, id).toEqual({ Ref: agentRole });
      expect(env.MANTLE_AGENT_ROLE_ID, id).toEqual({ 'Fn::GetAtt': [agentRole, 'RoleId'] });
      expect(env.MANTLE_AGENT_ACCOUNT, id).toEqual({ Ref: 'AWS::AccountId' });
      if (id.startsWith('Authorizer')) continue;
      expect(env.MANTLE_CLUSTER, id).toBe('prod');
      expect(env.MANTLE_AUTHENTICATE, id).toBe('true');
      for (const table of TABLE_DEFINITIONS) expect(env[tableEnvironmentVariable(table.id)], id).toBeDefined();
      expect(env.MANTLE_STATUS_QUEUE_URL, id).toBeDefined();
      expect(env.MANTLE_HEARTBEAT_QUEUE_URL, id).toBeDefined();
      expect(env.MANTLE_ALLOCATION_QUEUE_URL, id).toBeDefined();
    }
    // The cluster's ACLs: the master's safe defaults unless the acls setting says otherwise.
    const acls = (built: Template) =>
      resources(built, 'AWS::Lambda::Function')
        .filter(([id]) => id === findFunction(built, 'Scheduler'))
        .map(([, fn]) => (fn.Properties.Environment as { Variables: Record<string, unknown> }).Variables.MANTLE_ACLS);
    expect(acls(t)).toEqual([undefined]);
    expect(JSON.parse(acls(spot.template)[0] as string)).toMatchObject({ host_paths: ['/data'], privileged: false });
    // The GPU filter (Mesos --filter_gpu_resources) reaches every master function: on unless turned off.
    const variable = (built: Template, key: string, name: string) =>
      (
        (resources(built, 'AWS::Lambda::Function').find(([id]) => id === findFunction(built, key))?.[1] as Resource)
          .Properties.Environment as { Variables: Record<string, unknown> }
      ).Variables[name];
    for (const key of ['Allocator', 'FleetTick', 'Scheduler']) {
      expect(variable(t, key, 'MANTLE_FILTER_GPU_RESOURCES'), key).toBe('true');
      expect(variable(spot.template, key, 'MANTLE_FILTER_GPU_RESOURCES'), key).toBe('false');
    }
    expect(variable(t, 'FleetTick', 'MANTLE_FLEET_AGENT_RESOURCES')).toBe('cpus:4;mem:14000;gpus:1');
    expect(variable(spot.template, 'FleetTick', 'MANTLE_FLEET_AGENT_RESOURCES')).toBe('cpus:48;mem:190000;gpus:4');
    for (const key of ['FleetTick', 'Lifecycle', 'Status']) {
      const [, fn] = fns.find(([id]) => id === findFunction(t, key)) as [string, Resource];
      const env = (fn.Properties.Environment as { Variables: Record<string, unknown> }).Variables;
      expect(env.MANTLE_AGENT_LIFECYCLE_HOOK).toBe(LIFECYCLE_HOOK_NAME);
      expect(referenced(env.MANTLE_AGENT_ASG_NAME)).toContain(
        logicalId(t, 'AWS::AutoScaling::AutoScalingGroup', () => true),
      );
    }
  });

  it('traces every function with X-Ray (active tracing), allowed to send its segments', () => {
    for (const { template } of [base, spot, functionUrl]) {
      const fns = resources(template, 'AWS::Lambda::Function');
      expect(fns.length).toBeGreaterThan(0);
      for (const [id, fn] of fns) {
        expect(fn.Properties.TracingConfig, id).toEqual({ Mode: 'Active' });
        const role = [...referenced(fn.Properties.Role)][0] as string;
        const grants = resources(template, 'AWS::IAM::Policy')
          .filter(([, policy]) => referenced(policy.Properties.Roles).has(role))
          .flatMap(([, policy]) => (policy.Properties.PolicyDocument as { Statement: Json[] }).Statement)
          .flatMap((statement) => [statement.Action].flat());
        expect(grants, id).toEqual(expect.arrayContaining(['xray:PutTraceSegments', 'xray:PutTelemetryRecords']));
      }
    }
  });

  it('gives the allocator reserved concurrency and feeds the SQS handlers with partial batch failures', () => {
    const t = base.template;
    t.hasResourceProperties('AWS::Lambda::Function', {
      Handler: 'index.handler',
      ReservedConcurrentExecutions: 2,
      MemorySize: 1024,
    });
    for (const [queue, fn] of [
      ['Status', 'Status'],
      ['Allocation', 'Allocator'],
    ] as const) {
      const mapping = resources(t, 'AWS::Lambda::EventSourceMapping').find(([, m]) =>
        referenced(m.Properties.FunctionName).has(findFunction(t, fn)),
      )?.[1] as Resource;
      expect(mapping.Properties.FunctionResponseTypes).toEqual(['ReportBatchItemFailures']);
      expect([...referenced(mapping.Properties.EventSourceArn)][0]).toMatch(new RegExp(`^Queues${queue}`));
    }
  });

  it('feeds the heartbeat handler big batches through a batching window', () => {
    const t = base.template;
    const mapping = resources(t, 'AWS::Lambda::EventSourceMapping').find(([, m]) =>
      referenced(m.Properties.FunctionName).has(findFunction(t, 'Heartbeats')),
    )?.[1] as Resource;
    expect(mapping.Properties).toMatchObject({ BatchSize: 1000, MaximumBatchingWindowInSeconds: 20 });
    expect([...referenced(mapping.Properties.EventSourceArn)][0]).toMatch(/^QueuesHeartbeats/);
  });

  it('runs the sweeper, the fleet tick and the periodic allocation pass every minute', () => {
    const t = base.template;
    const rules = resources(t, 'AWS::Events::Rule').filter(
      ([, r]) => r.Properties.ScheduleExpression === 'rate(1 minute)',
    );
    const targets = rules.map(([, r]) => (r.Properties.Targets as Json[])[0] as Json);
    expect(targets.some((target) => referenced(target.Arn).has(findFunction(t, 'Sweeper')))).toBe(true);
    expect(targets.some((target) => referenced(target.Arn).has(findFunction(t, 'FleetTick')))).toBe(true);
    const periodic = targets.find((target) => target.Input !== undefined) as Json;
    expect(JSON.parse(periodic.Input as string)).toEqual({ reason: 'PERIODIC' });
    expect([...referenced(periodic.Arn)][0]).toMatch(/^QueuesAllocation/);
  });
});

describe('queues, dead letters and alarms', () => {
  it('redrives the status, heartbeat and allocation queues to dead-letter queues, and alarms on each', () => {
    const t = base.template;
    const queues = new Map(resources(t, 'AWS::SQS::Queue'));
    const id = (name: string) => [...queues].find(([, q]) => q.Properties.QueueName === name)?.[0] as string;
    t.hasResourceProperties('AWS::SQS::Queue', {
      QueueName: 'prod-status.fifo',
      FifoQueue: true,
      RedrivePolicy: {
        deadLetterTargetArn: { 'Fn::GetAtt': [id('prod-status-dlq.fifo'), 'Arn'] },
        maxReceiveCount: 10,
      },
    });
    t.hasResourceProperties('AWS::SQS::Queue', {
      QueueName: 'prod-allocation',
      RedrivePolicy: { deadLetterTargetArn: { 'Fn::GetAtt': [id('prod-allocation-dlq'), 'Arn'] }, maxReceiveCount: 5 },
    });
    t.hasResourceProperties('AWS::SQS::Queue', {
      QueueName: 'prod-heartbeats',
      MessageRetentionPeriod: 300,
      RedrivePolicy: { deadLetterTargetArn: { 'Fn::GetAtt': [id('prod-heartbeats-dlq'), 'Arn'] }, maxReceiveCount: 5 },
    });
    const topic = logicalId(t, 'AWS::SNS::Topic', () => true);
    const alarms = resources(t, 'AWS::CloudWatch::Alarm');
    for (const name of [
      'prod-status-dlq.fifo',
      'prod-allocation-dlq',
      'prod-heartbeats-dlq',
      'prod-failed-invocations',
    ]) {
      const alarm = alarms.find(
        ([, a]) =>
          a.Properties.MetricName === 'ApproximateNumberOfMessagesVisible' &&
          referenced(a.Properties.Dimensions).has(id(name)),
      );
      expect(alarm, `an alarm on ${name}`).toBeDefined();
      expect(referenced(alarm?.[1].Properties.AlarmActions)).toContain(topic);
    }
  });

  it('sends failed scheduled and event-driven invocations to the failed-invocations queue', () => {
    const t = base.template;
    const failed = resources(t, 'AWS::SQS::Queue').find(
      ([, q]) => q.Properties.QueueName === 'prod-failed-invocations',
    )?.[0] as string;
    for (const key of ['Sweeper', 'FleetTick', 'Lifecycle']) {
      const config = resources(t, 'AWS::Lambda::EventInvokeConfig').find(([, c]) =>
        referenced(c.Properties.FunctionName).has(findFunction(t, key)),
      )?.[1] as Resource;
      expect(referenced(config.Properties.DestinationConfig)).toContain(failed);
    }
    for (const [, rule] of resources(t, 'AWS::Events::Rule')) {
      expect(referenced((rule.Properties.Targets as Json[])[0]?.DeadLetterConfig)).toContain(failed);
    }
  });
});

describe('the GPU agent fleet', () => {
  it("lets agents reach each other only on the tasks' ports range and NCCL's ephemeral ports", () => {
    const rules = resources(base.template, 'AWS::EC2::SecurityGroupIngress').map(([, r]) => r.Properties);
    expect(rules.map((rule) => [rule.IpProtocol, rule.FromPort, rule.ToPort]).sort()).toEqual([
      ['tcp', 31000, 32000],
      ['tcp', 32768, 60999],
      ['udp', 31000, 32000],
    ]);
    for (const rule of rules) expect(rule.SourceSecurityGroupId).toEqual(rule.GroupId);
  });

  it('launches from the GPU AMI parameter with IMDSv2 required and an encrypted gp3 root', () => {
    const t = base.template;
    const parameters = t.toJSON().Parameters as Record<string, { Type: string; Default: string }>;
    const ami = Object.entries(parameters).find(([, p]) => p.Default === DEFAULT_AGENT_AMI_PARAMETER);
    expect(ami?.[1].Type).toBe('AWS::SSM::Parameter::Value<AWS::EC2::Image::Id>');
    t.hasResourceProperties('AWS::EC2::LaunchTemplate', {
      LaunchTemplateData: Match.objectLike({
        ImageId: { Ref: ami?.[0] },
        MetadataOptions: { HttpTokens: 'required', HttpPutResponseHopLimit: 1 },
        BlockDeviceMappings: [
          { DeviceName: '/dev/xvda', Ebs: Match.objectLike({ VolumeType: 'gp3', Encrypted: true, VolumeSize: 150 }) },
        ],
      }),
    });
  });

  it('installs Node, Docker and the NVIDIA toolkit, the agent from its asset, and runs it under systemd', () => {
    const template = resources(base.template, 'AWS::EC2::LaunchTemplate')[0]?.[1] as Resource;
    const parts = (
      ((template.Properties.LaunchTemplateData as Json).UserData as Json)['Fn::Base64'] as {
        'Fn::Join': [string, unknown[]];
      }
    )['Fn::Join'][1];
    const script = parts.map((part) => (typeof part === 'string' ? part : '<token>')).join('');
    for (const expected of [
      'dnf install -y nodejs22',
      'nvidia-ctk runtime configure --runtime=docker',
      'aws s3 cp',
      'unzip -o /opt/mantle/agent.zip',
      'MANTLE_AGENT_ATTRIBUTES=instance_id:$INSTANCE_ID',
      'MANTLE_AGENT_AUTHENTICATEE=aws_sts',
      'MANTLE_AGENT_CLUSTER=prod',
      'ExecStart=/usr/bin/node-22 --enable-source-maps /opt/mantle/agent/index.mjs',
      'systemctl enable --now mantle-agent',
    ]) {
      expect(script).toContain(expected);
    }
    // The master URL is the REST API's stage.
    expect(referenced(parts)).toContain(logicalId(base.template, 'AWS::ApiGateway::RestApi', () => true));
  });

  it('runs a mixed-instances group across the subnets, on demand or on Spot', () => {
    base.template.hasResourceProperties('AWS::AutoScaling::AutoScalingGroup', {
      MinSize: '0',
      MaxSize: '8',
      MixedInstancesPolicy: {
        InstancesDistribution: { OnDemandPercentageAboveBaseCapacity: 100 },
        LaunchTemplate: Match.objectLike({
          Overrides: ['g6.xlarge', 'g5.xlarge', 'g6.2xlarge', 'g5.2xlarge'].map((InstanceType) => ({ InstanceType })),
        }),
      },
    });
    const group = resources(base.template, 'AWS::AutoScaling::AutoScalingGroup')[0]?.[1] as Resource;
    const subnets = resources(base.template, 'AWS::EC2::Subnet').map(([id]) => id);
    expect(subnets.length).toBeGreaterThanOrEqual(2);
    expect([...referenced(group.Properties.VPCZoneIdentifier)].sort()).toEqual(subnets.sort());
    spot.template.hasResourceProperties('AWS::AutoScaling::AutoScalingGroup', {
      MinSize: '1',
      MaxSize: '20',
      CapacityRebalance: true,
      MixedInstancesPolicy: {
        InstancesDistribution: {
          OnDemandBaseCapacity: 0,
          OnDemandPercentageAboveBaseCapacity: 0,
          SpotAllocationStrategy: 'price-capacity-optimized',
        },
        LaunchTemplate: Match.objectLike({
          Overrides: [{ InstanceType: 'g6.xlarge' }, { InstanceType: 'g6.12xlarge' }],
        }),
      },
    });
  });

  it('scales out by the agents the pending demand needs and in by one idle agent', () => {
    const t = base.template;
    const alarms = resources(t, 'AWS::CloudWatch::Alarm');
    const demand = alarms.find(([, a]) => a.Properties.MetricName === FLEET_METRICS.agentsNeeded)?.[1] as Resource;
    expect(demand.Properties).toMatchObject({
      Namespace: METRICS_NAMESPACE,
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      EvaluationPeriods: 1,
      Dimensions: expect.arrayContaining([
        { Name: 'cluster', Value: 'prod' },
        { Name: 'service', Value: 'fleet' },
      ]) as unknown,
    });
    const scaleOut = [...referenced(demand.Properties.AlarmActions)][0] as string;
    t.hasResource('AWS::AutoScaling::ScalingPolicy', {
      Properties: Match.objectLike({
        PolicyType: 'StepScaling',
        AdjustmentType: 'ChangeInCapacity',
        StepAdjustments: [
          { MetricIntervalLowerBound: 0, MetricIntervalUpperBound: 1, ScalingAdjustment: 1 },
          { MetricIntervalLowerBound: 1, MetricIntervalUpperBound: 2, ScalingAdjustment: 2 },
          { MetricIntervalLowerBound: 2, MetricIntervalUpperBound: 3, ScalingAdjustment: 3 },
          { MetricIntervalLowerBound: 3, MetricIntervalUpperBound: 5, ScalingAdjustment: 4 },
          { MetricIntervalLowerBound: 5, MetricIntervalUpperBound: 7, ScalingAdjustment: 6 },
          { MetricIntervalLowerBound: 7, MetricIntervalUpperBound: 11, ScalingAdjustment: 8 },
          { MetricIntervalLowerBound: 11, MetricIntervalUpperBound: 15, ScalingAdjustment: 12 },
          { MetricIntervalLowerBound: 15, ScalingAdjustment: 16 },
        ],
      }),
    });
    expect(resources(t, 'AWS::AutoScaling::ScalingPolicy').map(([id]) => id)).toContain(scaleOut);
    const idle = alarms.find(([, a]) => a.Properties.MetricName === FLEET_METRICS.scaleInCandidates)?.[1] as Resource;
    expect(idle.Properties).toMatchObject({ EvaluationPeriods: 15, DatapointsToAlarm: 15, Threshold: 1 });
    const scaleIn = resources(t, 'AWS::AutoScaling::ScalingPolicy').find(
      ([id]) => id === [...referenced(idle.Properties.AlarmActions)][0],
    )?.[1] as Resource;
    expect(scaleIn.Properties.StepAdjustments).toEqual([{ MetricIntervalLowerBound: 0, ScalingAdjustment: -1 }]);
  });

  it('holds leaving instances in a termination lifecycle hook that the drain completes', () => {
    const t = base.template;
    t.hasResourceProperties('AWS::AutoScaling::LifecycleHook', {
      LifecycleHookName: LIFECYCLE_HOOK_NAME,
      LifecycleTransition: 'autoscaling:EC2_INSTANCE_TERMINATING',
      DefaultResult: 'CONTINUE',
      HeartbeatTimeout: lifecycleWaitSeconds(3600, 60),
    });
    const group = logicalId(t, 'AWS::AutoScaling::AutoScalingGroup', () => true);
    const lifecycle = findFunction(t, 'Lifecycle');
    const rules = resources(t, 'AWS::Events::Rule').filter(([, r]) => r.Properties.EventPattern !== undefined);
    const patterns = rules.map(([, r]) => r.Properties.EventPattern as Json);
    expect(patterns).toContainEqual({
      source: ['aws.autoscaling'],
      'detail-type': [LIFECYCLE_ACTION],
      detail: { AutoScalingGroupName: [{ Ref: group }] },
    });
    expect(patterns).toContainEqual({ source: ['aws.ec2'], 'detail-type': [SPOT_INTERRUPTION] });
    expect(patterns).toContainEqual({
      source: ['aws.ec2'],
      'detail-type': [STATE_CHANGE],
      detail: { state: ['stopping', 'shutting-down'] },
    });
    for (const [, rule] of rules) {
      expect(referenced((rule.Properties.Targets as Json[])[0]?.Arn)).toContain(lifecycle);
    }
  });
});

describe('IAM', () => {
  // Actions without resource-level permissions: describe calls, and X-Ray's segment uploads.
  const DESCRIBE_ONLY = new Set([
    'ec2:DescribeInstances',
    'autoscaling:DescribeAutoScalingGroups',
    'xray:PutTraceSegments',
    'xray:PutTelemetryRecords',
  ]);

  it('names every action (no wildcards); only calls without resource-level permissions get "*"', () => {
    for (const { template } of [base, spot, functionUrl]) {
      for (const [id, policy] of resources(template, 'AWS::IAM::Policy')) {
        const statements = (policy.Properties.PolicyDocument as { Statement: Json[] }).Statement;
        for (const statement of statements) {
          const actions = [statement.Action].flat() as string[];
          for (const action of actions) expect(action, id).not.toContain('*');
          if (statement.Resource === '*')
            for (const action of actions) expect(DESCRIBE_ONLY, `${id} ${action}`).toContain(action);
        }
      }
    }
  });

  it('grants PartiQL updates to the allocator on the agents table and the status handler on the tasks table alone', () => {
    const granted = resources(base.template, 'AWS::IAM::Policy').flatMap(([id, policy]) =>
      (policy.Properties.PolicyDocument as { Statement: Json[] }).Statement.filter((statement) =>
        ([statement.Action].flat() as string[]).includes('dynamodb:PartiQLUpdate'),
      ).map((statement) => ({ id, tables: [...referenced(statement.Resource)] })),
    );
    expect(granted).toHaveLength(2);
    const allocator = granted.find((grant) => /^Allocator/.test(grant.id));
    const status = granted.find((grant) => /^Status/.test(grant.id));
    expect(allocator?.tables).toHaveLength(1);
    expect(allocator?.tables[0]).toMatch(/^Tableagents/);
    expect(status?.tables).toHaveLength(1);
    expect(status?.tables[0]).toMatch(/^Tabletasks/);
  });

  it("grants PartiQL inserts to the functions that run the master's app alone, on the task rows and TaskInfos", () => {
    const granted = resources(base.template, 'AWS::IAM::Policy').flatMap(([id, policy]) =>
      (policy.Properties.PolicyDocument as { Statement: Json[] }).Statement.filter((statement) =>
        ([statement.Action].flat() as string[]).includes('dynamodb:PartiQLInsert'),
      ).map((statement) => ({ id, tables: [...referenced(statement.Resource)].sort() })),
    );
    expect(granted.length).toBeGreaterThan(0);
    for (const grant of granted) {
      expect(grant.id).toMatch(/^(Scheduler|Api|Jobs|JobsTicker|Services|ServicesTicker)Role/);
      expect(grant.tables).toEqual([expect.stringMatching(/^Tabletaskinfos/), expect.stringMatching(/^Tabletasks/)]);
    }
  });

  it('lets each agent read only its own command queue, and keeps the credential out of the template', () => {
    const t = base.template;
    // What an agent sends: status updates and heartbeats, to those two queues only.
    const queueId = (name: string) =>
      resources(t, 'AWS::SQS::Queue').find(([, q]) => q.Properties.QueueName === name)?.[0] as string;
    t.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Action: 'sqs:SendMessage',
            Resource: [
              { 'Fn::GetAtt': [queueId('prod-status.fifo'), 'Arn'] },
              { 'Fn::GetAtt': [queueId('prod-heartbeats'), 'Arn'] },
            ],
          }),
        ]),
      },
    });
    t.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Action: ['sqs:ReceiveMessage', 'sqs:DeleteMessage', 'sqs:ChangeMessageVisibility'],
            Condition: { StringEquals: { [`aws:ResourceTag/${AGENT_QUEUE_TAG}`]: '${aws:userid}' } },
            Resource: { 'Fn::Join': ['', Match.arrayWith([':prod-agent-????????????????????????.fifo'])] },
          }),
        ]),
      },
    });
    const json = JSON.stringify(t.toJSON());
    expect(json).not.toMatch(/SecretsManager|AWS::SSM::Parameter"/);
    expect(json).not.toMatch(/MANTLE_AGENT_SECRET|MANTLE_SECRET=[A-Za-z0-9]/);
    const outputs = t.toJSON().Outputs as Record<string, { Value: unknown }>;
    expect(JSON.stringify(outputs.FirstOperatorCredential?.Value)).toContain(
      'principal create --cluster prod --kind operator',
    );
    // Agents hold no credential: they prove their instance role's session.
    expect(outputs.AgentCredential).toBeUndefined();
    expect(outputs.ApiUrl).toBeDefined();
  });
});

describe('the template', () => {
  it('has no dependency cycle (CloudFormation would refuse it), whatever the settings', () => {
    for (const { template } of [base, spot, functionUrl]) {
      const all = template.toJSON().Resources as Record<string, Resource & { DependsOn?: string | string[] }>;
      const edges = new Map(
        Object.entries(all).map(([id, r]) => [
          id,
          [...referenced(r.Properties), ...[r.DependsOn ?? []].flat()].filter((target) => target in all),
        ]),
      );
      const state = new Map<string, 'visiting' | 'done'>();
      const visit = (id: string, path: string[]): void => {
        if (state.get(id) === 'done') return;
        expect(state.get(id), `cycle: ${[...path, id].join(' -> ')}`).not.toBe('visiting');
        state.set(id, 'visiting');
        for (const next of edges.get(id) ?? []) visit(next, [...path, id]);
        state.set(id, 'done');
      };
      for (const id of edges.keys()) visit(id, []);
    }
  });
});

describe('cdk-nag', () => {
  it('finds nothing unacknowledged in AwsSolutions, whatever the settings', () => {
    for (const { stack } of [base, spot, functionUrl]) {
      const report = new AwsSolutionsChecks().validateScope(stack);
      expect(
        report.violations.map(
          (v) => `${v.ruleName}: ${v.violatingResources.map((r) => r.resourceLogicalId).join(',')}`,
        ),
      ).toEqual([]);
      expect(report.success).toBe(true);
    }
  });
});

describe('the dashboard', () => {
  it('shows agents, demand, offers, tasks by state, allocation pass time, queue depths and errors', () => {
    const dashboard = resources(base.template, 'AWS::CloudWatch::Dashboard')[0]?.[1] as Resource;
    const body = JSON.stringify(dashboard.Properties.DashboardBody);
    for (const expected of [
      FLEET_METRICS.activeAgents,
      FLEET_METRICS.agentsNeeded,
      FLEET_METRICS.pendingTasks,
      FLEET_METRICS.pendingGpus,
      FLEET_METRICS.unplaceableTasks,
      FLEET_METRICS.outstandingOffers,
      FLEET_METRICS.activeTasks,
      'SEARCH(',
      'Allocation pass time',
      'ApproximateNumberOfMessagesVisible',
      'Errors',
      '5XXError',
    ]) {
      expect(body).toContain(expected);
    }
  });
});
