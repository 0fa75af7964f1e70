/**
 * The GPU agent fleet: public subnets (no NAT gateway: it would cost more than an idle cluster), a
 * launch template (the GPU AMI from an SSM parameter, gp3 root, IMDSv2 required, the agent from its
 * asset as a systemd service), and an Auto Scaling group across the subnets with a mixed-instances
 * policy (on-demand, or Spot with capacity rebalancing). It scales out on the agents the master's pending
 * demand needs, from zero, and in by one idle agent at a time; a termination lifecycle hook holds every
 * leaving instance until the master has drained its agent (functions/fleet/drain.ts).
 */
import { AssetHashType, DockerImage, Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as autoscaling from 'aws-cdk-lib/aws-autoscaling';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cwActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3assets from 'aws-cdk-lib/aws-s3-assets';
import type * as sns from 'aws-cdk-lib/aws-sns';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { join } from 'node:path';
import { AGENT_QUEUE_TAG } from '../functions/fleet/agent-queues.js';
import { SCALE_OUT_STEPS } from '../functions/fleet/demand.js';
import { FLEET_METRICS, FLEET_SERVICE, METRICS_NAMESPACE, metricDimensions } from '../functions/master/cloudwatch.js';
import { buildAgentBundle, PROJECT_ROOT } from './bundling.js';
import { CONSUME, runtimeQueueArn } from './permissions.js';
import { lifecycleWaitSeconds, type ClusterSettings } from './settings.js';
import { agentSetupCommands } from './user-data.js';

/** The agents' default `ports` resource (agent/detect.ts): the host ports tasks get. */
const TASK_PORTS = { begin: 31000, end: 32000 } as const;
/** Linux's default `net.ipv4.ip_local_port_range`, where NCCL's and PyTorch's listeners land. */
export const EPHEMERAL_PORTS = { begin: 32768, end: 60999 } as const;

export const LIFECYCLE_HOOK_NAME = 'mantle-drain';
/** A GPU instance boots, installs and registers in a few minutes; until then it counts as warming up. */
export const INSTANCE_WARMUP = Duration.minutes(10);
/** Idle agents are let go after this many minutes without pending demand. */
export const SCALE_IN_AFTER_MINUTES = 15;

export interface AgentFleetProps {
  readonly settings: ClusterSettings;
  readonly masterUrl: string;
  readonly statusQueue: sqs.IQueue;
  readonly heartbeatQueue: sqs.IQueue;
  readonly alarmTopic: sns.ITopic;
}

export class AgentFleet extends Construct {
  readonly vpc: ec2.Vpc;
  readonly role: iam.Role;
  readonly group: autoscaling.AutoScalingGroup;
  readonly lifecycleHookName = LIFECYCLE_HOOK_NAME;
  readonly agentsNeeded: cloudwatch.Metric;
  readonly scaleInCandidates: cloudwatch.Metric;
  readonly demandAlarm: cloudwatch.Alarm;
  readonly idleAlarm: cloudwatch.Alarm;

  constructor(scope: Construct, id: string, props: AgentFleetProps) {
    super(scope, id);
    const { settings } = props;
    this.vpc = this.network(settings);
    const securityGroup = this.peerSecurityGroup(settings);
    const bundle = this.agentBundle();
    this.role = this.agentRole(props, bundle);
    const template = this.launchTemplate(props, bundle, securityGroup);
    this.group = this.autoScalingGroup(props, template);
    const dimensions = metricDimensions(FLEET_SERVICE, settings.clusterName);
    this.agentsNeeded = new cloudwatch.Metric({
      namespace: METRICS_NAMESPACE,
      metricName: FLEET_METRICS.agentsNeeded,
      dimensionsMap: dimensions,
      statistic: 'Maximum',
      period: Duration.minutes(1),
    });
    this.scaleInCandidates = new cloudwatch.Metric({
      namespace: METRICS_NAMESPACE,
      metricName: FLEET_METRICS.scaleInCandidates,
      dimensionsMap: dimensions,
      statistic: 'Minimum',
      period: Duration.minutes(1),
    });
    this.demandAlarm = this.scaleOut(settings);
    this.idleAlarm = this.scaleIn(settings);
  }

  /**
   * Agents call out (the master's API, SQS, S3, SSM, package mirrors); the only ingress is from other
   * agents: the task ports range (a task reaches a service's tasks at their host ports) and, for
   * multi-node training, the Linux ephemeral ports (NCCL's bootstrap and socket transport and PyTorch's
   * workers listen on ports the kernel picks), or everything with `agentPeerTraffic: all` (EFA).
   */
  private peerSecurityGroup(settings: ClusterSettings): ec2.SecurityGroup {
    const securityGroup = new ec2.SecurityGroup(this, 'AgentSecurityGroup', {
      vpc: this.vpc,
      allowAllOutbound: true,
      description: `Mantle ${settings.clusterName} GPU agents`,
    });
    if (settings.agentPeerTraffic === 'all') {
      securityGroup.addIngressRule(securityGroup, ec2.Port.allTraffic(), 'Everything between agents (EFA, NCCL)');
      return securityGroup;
    }
    for (const port of [
      ec2.Port.tcpRange(TASK_PORTS.begin, TASK_PORTS.end),
      ec2.Port.udpRange(TASK_PORTS.begin, TASK_PORTS.end),
    ]) {
      securityGroup.addIngressRule(securityGroup, port, "Tasks' host ports, from other agents' tasks");
    }
    securityGroup.addIngressRule(
      securityGroup,
      ec2.Port.tcpRange(EPHEMERAL_PORTS.begin, EPHEMERAL_PORTS.end),
      "Multi-node training: NCCL's and PyTorch's listeners on ephemeral ports, from other agents' tasks",
    );
    return securityGroup;
  }

  /** Public subnets only (no NAT to pay for), and a log of rejected traffic. */
  private network(settings: ClusterSettings): ec2.Vpc {
    const vpc = new ec2.Vpc(this, 'Vpc', {
      natGateways: 0,
      subnetConfiguration: [{ name: 'agents', subnetType: ec2.SubnetType.PUBLIC, cidrMask: 20 }],
      ...(settings.availabilityZones ? { availabilityZones: [...settings.availabilityZones] } : { maxAzs: 3 }),
      restrictDefaultSecurityGroup: false,
    });
    vpc.addFlowLog('RejectedTraffic', {
      trafficType: ec2.FlowLogTrafficType.REJECT,
      destination: ec2.FlowLogDestination.toCloudWatchLogs(
        new logs.LogGroup(this, 'FlowLogs', {
          retention: logs.RetentionDays.ONE_MONTH,
          removalPolicy: RemovalPolicy.DESTROY,
        }),
      ),
    });
    return vpc;
  }

  /** The agent, bundled here (esbuild) and fetched by each instance at boot. */
  private agentBundle(): s3assets.Asset {
    return new s3assets.Asset(this, 'AgentBundle', {
      path: join(PROJECT_ROOT, 'agent'),
      // Hash what was built: the bundle depends on shared/ and the lock file as much as on agent/.
      assetHashType: AssetHashType.OUTPUT,
      bundling: {
        // Never used: the local build below always succeeds or throws.
        image: DockerImage.fromRegistry('public.ecr.aws/docker/library/node:22'),
        local: {
          tryBundle(outputDir: string): boolean {
            buildAgentBundle(outputDir);
            return true;
          },
        },
      },
    });
  }

  private agentRole(props: AgentFleetProps, bundle: s3assets.Asset): iam.Role {
    const { settings } = props;
    const stack = Stack.of(this);
    const role = new iam.Role(this, 'AgentRole', {
      assumedBy: new iam.ServicePrincipal('ec2.amazonaws.com'),
      description: `Mantle ${settings.clusterName} GPU agents`,
    });
    role.addToPolicy(
      new iam.PolicyStatement({
        actions: ['sqs:SendMessage'],
        resources: [props.statusQueue.queueArn, props.heartbeatQueue.queueArn],
      }),
    );
    // Its own command queue only: the master tags each agent's queue with the aws:userid of the role
    // session on that agent's instance (functions/fleet/agent-queues.ts).
    role.addToPolicy(
      new iam.PolicyStatement({
        actions: [...CONSUME],
        resources: [runtimeQueueArn(stack, settings.clusterName, 'agent')],
        conditions: { StringEquals: { [`aws:ResourceTag/${AGENT_QUEUE_TAG}`]: '${aws:userid}' } },
      }),
    );
    role.addToPolicy(
      new iam.PolicyStatement({
        actions: ['s3:GetObject'],
        resources: [bundle.bucket.arnForObjects(bundle.s3ObjectKey)],
      }),
    );
    this.ecrPull(role, settings.ecrRepositories);
    // The fetcher's s3:// URIs: objects of the buckets named in the settings, read only.
    if (settings.fetchBuckets.length > 0) {
      role.addToPolicy(
        new iam.PolicyStatement({
          actions: ['s3:GetObject'],
          resources: settings.fetchBuckets.map((bucket) => `arn:${stack.partition}:s3:::${bucket}/*`),
        }),
      );
    }
    return role;
  }

  /** Image pulls from the repositories named in settings (agent/containerizer/registry-auth.ts). */
  private ecrPull(role: iam.Role, repositories: readonly string[]): void {
    if (repositories.length === 0) return;
    const stack = Stack.of(this);
    // GetAuthorizationToken supports no resource-level permission: AWS requires `*`.
    role.addToPolicy(new iam.PolicyStatement({ actions: ['ecr:GetAuthorizationToken'], resources: ['*'] }));
    role.addToPolicy(
      new iam.PolicyStatement({
        actions: ['ecr:BatchGetImage', 'ecr:GetDownloadUrlForLayer'],
        resources: repositories.map((repository) =>
          repository.startsWith('arn:')
            ? repository
            : stack.formatArn({ service: 'ecr', resource: 'repository', resourceName: repository }),
        ),
      }),
    );
  }

  /** The GPU AMI, IMDSv2 only, an encrypted gp3 root, and the user data that installs and runs the agent. */
  private launchTemplate(
    props: AgentFleetProps,
    bundle: s3assets.Asset,
    securityGroup: ec2.SecurityGroup,
  ): ec2.LaunchTemplate {
    const { settings } = props;
    const userData = ec2.UserData.forLinux();
    userData.addCommands(
      ...agentSetupCommands({
        masterUrl: props.masterUrl,
        region: Stack.of(this).region,
        cluster: settings.clusterName,
        bundleUrl: bundle.s3ObjectUrl,
        bundleZip: '/opt/mantle/agent.zip',
      }),
    );
    return new ec2.LaunchTemplate(this, 'AgentTemplate', {
      machineImage: ec2.MachineImage.fromSsmParameter(settings.agentAmiParameter),
      role: this.role,
      securityGroup,
      userData,
      requireImdsv2: true,
      httpPutResponseHopLimit: 1,
      associatePublicIpAddress: true,
      blockDevices: [
        {
          deviceName: '/dev/xvda',
          volume: ec2.BlockDeviceVolume.ebs(settings.rootVolumeGiB, {
            volumeType: ec2.EbsDeviceVolumeType.GP3,
            encrypted: true,
            deleteOnTermination: true,
          }),
        },
      ],
    });
  }

  /** A mixed-instances group (on demand or Spot) with the drain's termination lifecycle hook. */
  private autoScalingGroup(props: AgentFleetProps, template: ec2.LaunchTemplate): autoscaling.AutoScalingGroup {
    const { settings } = props;
    const group = new autoscaling.AutoScalingGroup(this, 'Agents', {
      vpc: this.vpc,
      vpcSubnets: { subnetType: ec2.SubnetType.PUBLIC },
      minCapacity: settings.minAgents,
      maxCapacity: settings.maxAgents,
      mixedInstancesPolicy: {
        launchTemplate: template,
        launchTemplateOverrides: settings.agentInstanceTypes.map((type) => ({
          instanceType: new ec2.InstanceType(type),
        })),
        instancesDistribution: settings.spot
          ? {
              onDemandBaseCapacity: 0,
              onDemandPercentageAboveBaseCapacity: 0,
              spotAllocationStrategy: autoscaling.SpotAllocationStrategy.PRICE_CAPACITY_OPTIMIZED,
            }
          : { onDemandPercentageAboveBaseCapacity: 100 },
      },
      capacityRebalance: settings.spot,
      defaultInstanceWarmup: INSTANCE_WARMUP,
      newInstancesProtectedFromScaleIn: false,
      groupMetrics: [autoscaling.GroupMetrics.all()],
      notifications: [{ topic: props.alarmTopic }],
    });
    group.addLifecycleHook('Drain', {
      lifecycleHookName: LIFECYCLE_HOOK_NAME,
      lifecycleTransition: autoscaling.LifecycleTransition.INSTANCE_TERMINATING,
      heartbeatTimeout: Duration.seconds(
        lifecycleWaitSeconds(settings.drainGraceSeconds, settings.drainKillGraceSeconds),
      ),
      // If the master never answers, the termination goes on: the hook only ever delays it.
      defaultResult: autoscaling.DefaultResult.CONTINUE,
    });
    return group;
  }

  /**
   * Out: by as many agents as the pending demand needs (up to 16 at a time). Step scaling counts the
   * instances still warming up against an adjustment, so a signal that stays up while they boot adds
   * only what they do not cover.
   */
  private scaleOut(settings: ClusterSettings): cloudwatch.Alarm {
    const scaleOut = new autoscaling.StepScalingAction(this, 'ScaleOut', {
      autoScalingGroup: this.group,
      adjustmentType: autoscaling.AdjustmentType.CHANGE_IN_CAPACITY,
      metricAggregationType: autoscaling.MetricAggregationType.MAXIMUM,
      estimatedInstanceWarmup: INSTANCE_WARMUP,
    });
    // Bounds are relative to the alarm's threshold of 1 agent: [0, 1) is 1 agent needed, [1, 2) two, ...
    SCALE_OUT_STEPS.forEach(([needed, adjustment], i) => {
      const next = SCALE_OUT_STEPS[i + 1]?.[0];
      scaleOut.addAdjustment({
        lowerBound: needed - 1,
        ...(next !== undefined ? { upperBound: next - 1 } : {}),
        adjustment,
      });
    });
    const alarm = new cloudwatch.Alarm(this, 'PendingDemand', {
      alarmDescription: `Mantle ${settings.clusterName}: pending tasks need more agents (scales out)`,
      metric: this.agentsNeeded,
      threshold: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    alarm.addAlarmAction(new cwActions.AutoScalingAction(scaleOut));
    return alarm;
  }

  /**
   * In: one idle agent at a time, after a quarter of an hour with idle agents and nothing pending.
   * Busy instances are protected from scale-in by the fleet tick, so the group picks an idle one.
   */
  private scaleIn(settings: ClusterSettings): cloudwatch.Alarm {
    const scaleIn = new autoscaling.StepScalingAction(this, 'ScaleIn', {
      autoScalingGroup: this.group,
      adjustmentType: autoscaling.AdjustmentType.CHANGE_IN_CAPACITY,
      metricAggregationType: autoscaling.MetricAggregationType.MINIMUM,
    });
    scaleIn.addAdjustment({ lowerBound: 0, adjustment: -1 });
    const alarm = new cloudwatch.Alarm(this, 'IdleAgents', {
      alarmDescription: `Mantle ${settings.clusterName}: idle agents and no pending demand (scales in)`,
      metric: this.scaleInCandidates,
      threshold: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: SCALE_IN_AFTER_MINUTES,
      datapointsToAlarm: SCALE_IN_AFTER_MINUTES,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    alarm.addAlarmAction(new cwActions.AutoScalingAction(scaleIn));
    return alarm;
  }
}
