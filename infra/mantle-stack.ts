/**
 * One Mantle cluster on AWS (docs/deploy.md): the registrar's tables (from the definitions the local
 * cluster uses), the master's queues, its Lambdas (infra/functions.ts) and their least-privilege
 * grants, the HTTP front door (infra/api.ts), the schedules and EventBridge rules, the GPU agent fleet
 * (infra/agents.ts), and the dashboard and alarms (infra/monitoring.ts). Settings: infra/settings.ts.
 */
import { Aws, CfnOutput, Duration, Fn, RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import { AttributeType, Billing, TableV2, type Attribute } from 'aws-cdk-lib/aws-dynamodb';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as destinations from 'aws-cdk-lib/aws-lambda-destinations';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import type { Construct } from 'constructs';
import { LEAVING_STATES, LIFECYCLE_ACTION, SPOT_INTERRUPTION, STATE_CHANGE } from '../functions/fleet/eventbridge.js';
import {
  TABLE_DEFINITIONS,
  tableEnvironmentVariable,
  tableNames,
  type KeyAttribute,
  type TableId,
} from '../functions/registrar/tables.js';
import { AgentFleet } from './agents.js';
import { MantleRestApi } from './api.js';
import { MantleFunction, type MantleFunctionProps } from './functions.js';
import type { HostedFrameworkProps } from './hosted-framework.js';
import { addJobs, type MantleJobs } from './jobs.js';
import { alarmTopic, Monitoring } from './monitoring.js';
import { suppressFindings } from './nag.js';
import { CONSUME, grantQueues, grantRuntimeQueues, grantTables, QUEUE_LIFECYCLE, SEND } from './permissions.js';
import { MantleQueues } from './queues.js';
import { addServices, type MantleServices } from './services.js';
import { addTaskLogs } from './task-logs.js';
import { taskLogGroup } from '#shared/task-logs/names.js';
import { HEARTBEAT_BATCH_SIZE, HEARTBEAT_BATCHING_WINDOW_SECONDS, type ClusterSettings } from './settings.js';

export interface MantleStackProps extends StackProps {
  readonly settings: ClusterSettings;
}

function attribute(key: KeyAttribute): Attribute {
  return { name: key.name, type: key.type === 'S' ? AttributeType.STRING : AttributeType.NUMBER };
}

const STATUS_TIMEOUT = Duration.seconds(30);
const ALLOCATOR_TIMEOUT = Duration.seconds(60);
const HEARTBEATS_TIMEOUT = Duration.seconds(30);
/** Two passes at once are safe (optimistic concurrency) and enough; more would only conflict. */
export const ALLOCATOR_CONCURRENCY = 2;

/** The master's functions, by role. */
interface MasterFunctions {
  readonly scheduler: MantleFunction;
  /** The buffered routes' function, behind API Gateway only. */
  readonly api?: MantleFunction;
  readonly status: MantleFunction;
  readonly allocator: MantleFunction;
  readonly sweeper: MantleFunction;
  readonly fleetTick: MantleFunction;
  readonly lifecycle: MantleFunction;
}

export class MantleStack extends Stack {
  readonly settings: ClusterSettings;
  readonly tables: Readonly<Record<TableId, TableV2>>;
  readonly queues: MantleQueues;
  readonly functions: Record<string, MantleFunction> = {};
  readonly fleet: AgentFleet;
  readonly restApi?: MantleRestApi;
  readonly masterUrl: string;
  readonly jobs: MantleJobs;
  readonly services: MantleServices;
  /** What every master function reads (functions/handlers/master-from-env.ts). */
  private readonly masterEnvironment: Record<string, string>;

  constructor(scope: Construct, id: string, props: MantleStackProps) {
    super(scope, id, props);
    const { settings } = props;
    this.settings = settings;
    const cluster = settings.clusterName;
    this.tables = this.registrarTables();
    this.queues = new MantleQueues(this, 'Queues', {
      clusterName: cluster,
      statusVisibility: Duration.seconds(STATUS_TIMEOUT.toSeconds() * 6),
      allocationVisibility: Duration.seconds(ALLOCATOR_TIMEOUT.toSeconds() * 6),
      heartbeatVisibility: Duration.seconds(HEARTBEATS_TIMEOUT.toSeconds() * 6 + HEARTBEAT_BATCHING_WINDOW_SECONDS),
    });
    const topic = alarmTopic(this, cluster, settings.alarmEmail);
    this.masterEnvironment = this.masterEnvironmentOf();
    const failed = new destinations.SqsDestination(this.queues.failedInvocations);
    const functions: MasterFunctions = {
      ...this.apiFunctions(),
      ...this.queueFunctions(),
      ...this.timedFunctions(failed),
    };
    const front = this.frontDoor(functions);
    if (front.restApi) this.restApi = front.restApi;
    this.masterUrl = front.masterUrl;
    this.fleet = new AgentFleet(this, 'Agents', {
      settings,
      masterUrl: this.masterUrl,
      statusQueue: this.queues.status,
      heartbeatQueue: this.queues.heartbeats,
      alarmTopic: topic,
    });
    const hosting: Omit<HostedFrameworkProps, 'entries'> = {
      clusterName: cluster,
      deletionProtection: settings.deletionProtection,
      makeFunction: (key, fnProps) => this.masterFunction(key, fnProps),
      apiFunctions: [functions.scheduler, ...(functions.api ? [functions.api] : [])],
      grantApp: (fn) => this.grantApp(fn),
      scheduleTarget: (fn) => this.scheduleTarget(fn),
    };
    this.jobs = addJobs(this, { ...hosting, entries: { framework: 'jobs', ticker: 'jobsTicker' } });
    this.services = addServices(this, { ...hosting, entries: { framework: 'services', ticker: 'servicesTicker' } });
    this.wireFleet(functions);
    addTaskLogs(this, {
      clusterName: cluster,
      retention: logs.RetentionDays.ONE_MONTH,
      deletionProtection: settings.deletionProtection,
      agentRole: this.fleet.role,
      readers: [functions.scheduler, ...(functions.api ? [functions.api] : [])],
    });
    this.schedule(functions);
    const monitoring = new Monitoring(this, 'Monitoring', {
      clusterName: cluster,
      alarmTopic: topic,
      functions: Object.fromEntries(Object.entries(this.functions).map(([key, fn]) => [key, fn.function])),
      allocator: functions.allocator.function,
      statusQueue: this.queues.status,
      allocationQueue: this.queues.allocation,
      deadLetterQueues: {
        ...this.queues.deadLetterQueues,
        Jobs: this.jobs.queue.deadLetters,
        Services: this.services.queue.deadLetters,
      },
      agents: this.fleet.group,
      agentsNeeded: this.fleet.agentsNeeded,
      scaleInCandidates: this.fleet.scaleInCandidates,
      ...(this.restApi ? { api: this.restApi.api } : {}),
    });
    this.outputs(monitoring);
    suppressFindings(this);
  }

  /** The registrar's tables, from the definitions the local cluster uses. */
  private registrarTables(): Record<TableId, TableV2> {
    const names = tableNames(this.settings.clusterName);
    const protect = this.settings.deletionProtection;
    const tables = {} as Record<TableId, TableV2>;
    for (const definition of TABLE_DEFINITIONS) {
      tables[definition.id] = new TableV2(this, `Table-${definition.id}`, {
        tableName: names[definition.id],
        partitionKey: attribute(definition.partitionKey),
        ...(definition.sortKey ? { sortKey: attribute(definition.sortKey) } : {}),
        billing: Billing.onDemand(),
        pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
        ...(definition.timeToLiveAttribute ? { timeToLiveAttribute: definition.timeToLiveAttribute } : {}),
        deletionProtection: protect,
        removalPolicy: protect ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
      });
    }
    return tables;
  }

  private masterEnvironmentOf(): Record<string, string> {
    const { settings, tables, queues } = this;
    // The id every master-assigned id starts with: the stack's own UUID, stable across updates.
    const clusterId = Fn.select(2, Fn.split('/', Aws.STACK_ID));
    return {
      MANTLE_CLUSTER: settings.clusterName,
      MANTLE_CLUSTER_ID: clusterId,
      ...Object.fromEntries(TABLE_DEFINITIONS.map((t) => [tableEnvironmentVariable(t.id), tables[t.id].tableName])),
      MANTLE_STATUS_QUEUE_URL: queues.status.queueUrl,
      MANTLE_HEARTBEAT_QUEUE_URL: queues.heartbeats.queueUrl,
      MANTLE_ALLOCATION_QUEUE_URL: queues.allocation.queueUrl,
      MANTLE_AUTHENTICATE: 'true',
      ...(settings.acls ? { MANTLE_ACLS: settings.acls } : {}),
      MANTLE_AGENT_PING_TIMEOUT_SECONDS: String(settings.agentPingTimeoutSeconds),
      MANTLE_MAX_AGENT_PING_TIMEOUTS: String(settings.maxAgentPingTimeouts),
      MANTLE_MAX_FRAMEWORKS_PER_PRINCIPAL: String(settings.maxFrameworksPerPrincipal),
      MANTLE_MAX_STREAMS_PER_PRINCIPAL: String(settings.maxStreamsPerPrincipal),
      MANTLE_FILTER_GPU_RESOURCES: String(settings.filterGpuResources),
      MANTLE_TASK_LOG_GROUP: taskLogGroup(settings.clusterName),
    };
  }

  /** One master function, with the master's environment (plus its own) and its own role. */
  private masterFunction(
    key: string,
    props: Omit<MantleFunctionProps, 'environment'> & { environment?: Record<string, string> },
  ): MantleFunction {
    const made = new MantleFunction(this, key, {
      ...props,
      environment: { ...this.masterEnvironment, ...props.environment },
    });
    this.functions[key] = made;
    return made;
  }

  private get allTables(): TableV2[] {
    return Object.values(this.tables);
  }

  /** The HTTP API's functions: the scheduler route (streamed) and, behind API Gateway, the buffered ones. */
  private apiFunctions(): Pick<MasterFunctions, 'scheduler' | 'api'> {
    const { settings } = this;
    const scheduler = this.masterFunction('Scheduler', {
      name: 'scheduler',
      description: 'Mesos scheduler API (SUBSCRIBE streams); every route when served by its function URL',
      memorySize: 256,
      timeout: Duration.minutes(15),
    });
    const api =
      settings.endpoint === 'api-gateway'
        ? this.masterFunction('Api', {
            name: 'api',
            description: "The agents' API, health and metrics (buffered routes)",
            memorySize: 512,
            timeout: Duration.seconds(29),
          })
        : undefined;
    for (const fn of [scheduler, ...(api ? [api] : [])]) this.grantApp(fn);
    return { scheduler, ...(api ? { api } : {}) };
  }

  /** What the master's app does: the registrar, allocation triggers, the framework and agent queues. */
  private grantApp(fn: MantleFunction): void {
    const cluster = this.settings.clusterName;
    grantTables(fn.role, this.allTables);
    // An ACCEPT's task rows and TaskInfos are inserted together, as PartiQL inserts (functions/registrar/tasks.ts).
    grantTables(fn.role, [this.tables.tasks, this.tables.taskinfos], ['dynamodb:PartiQLInsert']);
    grantQueues(fn.role, [this.queues.allocation], SEND);
    grantRuntimeQueues(fn.role, this, cluster, 'framework', [...QUEUE_LIFECYCLE, ...SEND, ...CONSUME]);
    grantRuntimeQueues(fn.role, this, cluster, 'agent', [...QUEUE_LIFECYCLE, ...SEND, 'sqs:TagQueue']);
  }

  /** A schedule's or EventBridge rule's function target: retried, then kept in the failed-invocations queue. */
  private scheduleTarget(fn: MantleFunction): targets.LambdaFunction {
    return new targets.LambdaFunction(fn.function, {
      deadLetterQueue: this.queues.failedInvocations,
      retryAttempts: 4,
      maxEventAge: Duration.minutes(10),
    });
  }

  /** The SQS-driven functions: status updates, heartbeats, allocation passes. */
  private queueFunctions(): Pick<MasterFunctions, 'status' | 'allocator'> {
    const { queues } = this;
    const cluster = this.settings.clusterName;
    const status = this.masterFunction('Status', {
      name: 'status',
      description: "Agents' status updates (status FIFO queue): the task state machine, UPDATE events",
      memorySize: 256,
      timeout: STATUS_TIMEOUT,
      reservedConcurrentExecutions: this.settings.statusConcurrency,
    });
    status.function.addEventSource(
      new SqsEventSource(queues.status, {
        batchSize: 10,
        reportBatchItemFailures: true,
        maxConcurrency: this.settings.statusConcurrency,
      }),
    );
    grantTables(status.role, this.allTables);
    grantTables(status.role, [this.tables.tasks], ['dynamodb:PartiQLUpdate']); // a batch's rows: status-row-writes.ts
    grantQueues(status.role, [queues.allocation], SEND);
    grantRuntimeQueues(status.role, this, cluster, 'framework', SEND);
    grantRuntimeQueues(status.role, this, cluster, 'agent', SEND);

    const heartbeats = this.masterFunction('Heartbeats', {
      name: 'heartbeats',
      description: "Agents' heartbeats (heartbeat queue): a batch recorded in one write",
      memorySize: 256,
      timeout: HEARTBEATS_TIMEOUT,
      reservedConcurrentExecutions: this.settings.heartbeatsConcurrency,
    });
    // A batching window gathers many heartbeats per invocation: one read of their agents, one write.
    heartbeats.function.addEventSource(
      new SqsEventSource(queues.heartbeats, {
        batchSize: HEARTBEAT_BATCH_SIZE,
        maxBatchingWindow: Duration.seconds(HEARTBEAT_BATCHING_WINDOW_SECONDS),
        maxConcurrency: this.settings.heartbeatsConcurrency,
      }),
    );
    grantTables(heartbeats.role, this.allTables);
    grantRuntimeQueues(heartbeats.role, this, cluster, 'agent', SEND);

    const allocator = this.masterFunction('Allocator', {
      name: 'allocator',
      description: 'Allocation passes (hierarchical DRF) on triggers from the allocation queue',
      memorySize: 1024,
      timeout: ALLOCATOR_TIMEOUT,
      reservedConcurrentExecutions: ALLOCATOR_CONCURRENCY,
    });
    allocator.function.addEventSource(
      new SqsEventSource(queues.allocation, {
        batchSize: 10,
        maxConcurrency: ALLOCATOR_CONCURRENCY,
        reportBatchItemFailures: true,
      }),
    );
    grantTables(allocator.role, this.allTables);
    // Offers are written and taken back 25 agents a request, as PartiQL updates (functions/registrar/agents.ts).
    grantTables(allocator.role, [this.tables.agents], ['dynamodb:PartiQLUpdate']);
    grantQueues(allocator.role, [queues.allocation], SEND);
    grantRuntimeQueues(allocator.role, this, cluster, 'framework', SEND);
    return { status, allocator };
  }

  /** The scheduled and event-driven functions: the sweeper, the fleet tick, the fleet's events. */
  private timedFunctions(
    failed: destinations.SqsDestination,
  ): Pick<MasterFunctions, 'sweeper' | 'fleetTick' | 'lifecycle'> {
    const { settings, queues } = this;
    const cluster = settings.clusterName;
    const sweeper = this.masterFunction('Sweeper', {
      name: 'sweeper',
      description: "The master's timers: agent liveness, framework failover, unconfirmed launches, offer expiry",
      memorySize: 512,
      timeout: Duration.seconds(120),
      onFailure: failed,
    });
    grantTables(sweeper.role, this.allTables);
    grantQueues(sweeper.role, [queues.allocation], SEND);
    grantRuntimeQueues(sweeper.role, this, cluster, 'framework', ['sqs:DeleteQueue', ...SEND]);
    grantRuntimeQueues(sweeper.role, this, cluster, 'agent', ['sqs:DeleteQueue', ...SEND]);
    sweeper.role.addToPrincipalPolicy(
      new iam.PolicyStatement({ actions: ['ec2:DescribeInstances'], resources: ['*'] }),
    );

    const fleetSettings = {
      MANTLE_DRAIN_GRACE_SECONDS: String(settings.drainGraceSeconds),
      MANTLE_DRAIN_KILL_GRACE_SECONDS: String(settings.drainKillGraceSeconds),
      MANTLE_SPOT_KILL_GRACE_SECONDS: String(settings.spotKillGraceSeconds),
      MANTLE_FLEET_AGENT_RESOURCES: settings.agentResources,
    };
    const fleetTick = this.masterFunction('FleetTick', {
      name: 'fleet',
      description: 'Every minute: agents the pending demand needs, fleet metrics, drains, scale-in protection',
      memorySize: 256,
      timeout: Duration.seconds(60),
      onFailure: failed,
      environment: fleetSettings,
    });
    const lifecycle = this.masterFunction('Lifecycle', {
      name: 'lifecycle',
      description: 'Drains agents on scale-in and Spot interruptions; instances that stop take their agents',
      memorySize: 256,
      timeout: Duration.seconds(60),
      onFailure: failed,
      environment: fleetSettings,
    });
    for (const fn of [fleetTick, lifecycle]) {
      grantTables(fn.role, this.allTables);
      grantRuntimeQueues(fn.role, this, cluster, 'framework', SEND);
      grantRuntimeQueues(fn.role, this, cluster, 'agent', ['sqs:DeleteQueue', ...SEND]);
    }
    return { sweeper, fleetTick, lifecycle };
  }

  /** The HTTP front door: the REST API with its authorizer, or the scheduler's function URL. */
  private frontDoor(functions: MasterFunctions): { restApi?: MantleRestApi; masterUrl: string } {
    const { settings } = this;
    const { scheduler, api } = functions;
    const authorizer =
      settings.endpoint === 'api-gateway'
        ? this.masterFunction('Authorizer', {
            name: 'authorizer',
            description: 'REST API authorizer: Basic/Bearer credentials over the registrar principals',
            memorySize: 512,
            timeout: Duration.seconds(10),
          })
        : undefined;
    if (authorizer) grantTables(authorizer.role, [this.tables.principals], ['dynamodb:GetItem']);
    if (api && authorizer) {
      const restApi = new MantleRestApi(this, 'Http', {
        settings,
        buffered: api.function,
        streaming: scheduler.function,
        authorizer: authorizer.function,
      });
      return { restApi, masterUrl: restApi.url };
    }
    // Not IAM: Mesos clients speak Basic or Bearer, not SigV4. The URL is public, so the app checks every
    // route but /health itself — the same principals the REST API's authorizer checks — and cannot run
    // open: MANTLE_AUTHENTICATE is set, and its absence means on (functions/master/config.ts).
    const url = scheduler.function.addFunctionUrl({
      authType: lambda.FunctionUrlAuthType.NONE,
      invokeMode: lambda.InvokeMode.RESPONSE_STREAM,
    });
    return { masterUrl: url.url };
  }

  /** What the master's functions may do with the agents' Auto Scaling group and role. */
  private wireFleet(functions: MasterFunctions): void {
    const { fleetTick, lifecycle, status } = functions;
    const group = this.fleet.group;
    const groupEnvironment = {
      MANTLE_AGENT_ASG_NAME: group.autoScalingGroupName,
      MANTLE_AGENT_LIFECYCLE_HOOK: this.fleet.lifecycleHookName,
    };
    for (const fn of [fleetTick, lifecycle, status]) {
      for (const [key, value] of Object.entries(groupEnvironment)) fn.function.addEnvironment(key, value);
      fn.role.addToPrincipalPolicy(
        new iam.PolicyStatement({
          actions: ['autoscaling:CompleteLifecycleAction'],
          resources: [group.autoScalingGroupArn],
        }),
      );
    }
    fleetTick.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['autoscaling:SetInstanceProtection'],
        resources: [group.autoScalingGroupArn],
      }),
    );
    fleetTick.role.addToPrincipalPolicy(
      new iam.PolicyStatement({ actions: ['autoscaling:DescribeAutoScalingGroups'], resources: ['*'] }),
    );
    // Agents prove their instance with the agents role's session (functions/master/agent-identity.ts):
    // registration derives the instance and tags the agent's command queue for the session, and the
    // status and heartbeat handlers compare SQS's SenderId with it. Calling STS's GetCallerIdentity
    // with an agent's signature needs no permission of the master.
    const agentIdentity = {
      MANTLE_AGENT_IDENTITY: 'aws-sts',
      MANTLE_AGENT_ROLE_NAME: this.fleet.role.roleName,
      MANTLE_AGENT_ROLE_ID: this.fleet.role.roleId,
      MANTLE_AGENT_ACCOUNT: Aws.ACCOUNT_ID,
    };
    for (const fn of Object.values(this.functions)) {
      for (const [key, value] of Object.entries(agentIdentity)) fn.function.addEnvironment(key, value);
    }
  }

  /** The schedules (sweeper, fleet tick, periodic allocation) and the fleet's EventBridge rules. */
  private schedule(functions: MasterFunctions): void {
    const { queues } = this;
    const cluster = this.settings.clusterName;
    const group = this.fleet.group;
    const every = events.Schedule.rate(Duration.minutes(1));
    const lambdaTarget = (fn: MantleFunction) => this.scheduleTarget(fn);
    new events.Rule(this, 'SweeperSchedule', {
      description: `Mantle ${cluster}: the sweeper`,
      schedule: every,
      targets: [lambdaTarget(functions.sweeper)],
    });
    new events.Rule(this, 'FleetSchedule', {
      description: `Mantle ${cluster}: the fleet tick`,
      schedule: every,
      targets: [lambdaTarget(functions.fleetTick)],
    });
    new events.Rule(this, 'PeriodicAllocation', {
      description: `Mantle ${cluster}: the periodic allocation pass (the safety net)`,
      schedule: every,
      targets: [
        new targets.SqsQueue(queues.allocation, {
          message: events.RuleTargetInput.fromObject({ reason: 'PERIODIC' }),
          deadLetterQueue: queues.failedInvocations,
        }),
      ],
    });
    new events.Rule(this, 'TerminationLifecycle', {
      description: `Mantle ${cluster}: an agent instance is leaving the group`,
      eventPattern: {
        source: ['aws.autoscaling'],
        detailType: [LIFECYCLE_ACTION],
        detail: { AutoScalingGroupName: [group.autoScalingGroupName] },
      },
      targets: [lambdaTarget(functions.lifecycle)],
    });
    new events.Rule(this, 'SpotInterruption', {
      description: `Mantle ${cluster}: EC2 reclaims a Spot instance in two minutes`,
      eventPattern: { source: ['aws.ec2'], detailType: [SPOT_INTERRUPTION] },
      targets: [lambdaTarget(functions.lifecycle)],
    });
    new events.Rule(this, 'InstanceLeaving', {
      description: `Mantle ${cluster}: an instance is stopping or shutting down`,
      eventPattern: { source: ['aws.ec2'], detailType: [STATE_CHANGE], detail: { state: [...LEAVING_STATES] } },
      targets: [lambdaTarget(functions.lifecycle)],
    });
  }

  private outputs(monitoring: Monitoring): void {
    const cluster = this.settings.clusterName;
    new CfnOutput(this, 'ApiUrl', {
      description: 'The master: point frameworks (Mesos v1 HTTP) and `mantle execute --master` here',
      value: this.masterUrl,
    });
    new CfnOutput(this, 'FirstOperatorCredential', {
      description: 'Create the first operator principal; its secret is printed once, never stored in clear',
      value: `AWS_REGION=${Aws.REGION} node bin/mantle.js principal create --cluster ${cluster} --kind operator --name admin`,
    });
    new CfnOutput(this, 'Dashboard', {
      value: `https://${Aws.REGION}.console.aws.amazon.com/cloudwatch/home?region=${Aws.REGION}#dashboards:name=${monitoring.dashboard.dashboardName}`,
    });
  }
}
