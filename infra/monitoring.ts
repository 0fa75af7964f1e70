/**
 * What an operator watches: one dashboard (agents, demand, offers, tasks by state, allocation pass
 * time, queue depths, errors) and the alarms, all notifying one SNS topic (and an address, if given).
 */
import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cwActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import type * as apigw from 'aws-cdk-lib/aws-apigateway';
import type * as autoscaling from 'aws-cdk-lib/aws-autoscaling';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import {
  FLEET_METRICS,
  FLEET_SERVICE,
  METRICS_NAMESPACE,
  STATUS_SERVICE,
  metricDimensions,
} from '../functions/master/cloudwatch.js';

export interface MonitoringProps {
  readonly clusterName: string;
  readonly alarmTopic: sns.ITopic;
  readonly functions: Readonly<Record<string, lambda.Function>>;
  readonly allocator: lambda.Function;
  readonly statusQueue: sqs.IQueue;
  readonly allocationQueue: sqs.IQueue;
  readonly deadLetterQueues: Readonly<Record<string, sqs.IQueue>>;
  readonly agents: autoscaling.AutoScalingGroup;
  readonly agentsNeeded: cloudwatch.IMetric;
  readonly scaleInCandidates: cloudwatch.IMetric;
  readonly api?: apigw.RestApi;
}

export function alarmTopic(scope: Construct, clusterName: string, email?: string): sns.Topic {
  const topic = new sns.Topic(scope, 'Alarms', { displayName: `Mantle ${clusterName} alarms`, enforceSSL: true });
  if (email) topic.addSubscription(new subscriptions.EmailSubscription(email));
  return topic;
}

export class Monitoring extends Construct {
  readonly alarms: cloudwatch.Alarm[] = [];
  readonly dashboard: cloudwatch.Dashboard;

  constructor(
    scope: Construct,
    id: string,
    private readonly props: MonitoringProps,
  ) {
    super(scope, id);
    this.addAlarms(new cwActions.SnsAction(props.alarmTopic));
    this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard', {
      dashboardName: `mantle-${props.clusterName}`,
      defaultInterval: Duration.hours(3),
      widgets: [
        this.fleetWidgets(),
        this.pipelineWidgets(),
        this.errorWidgets(),
        [new cloudwatch.AlarmStatusWidget({ title: 'Alarms', alarms: this.alarms, width: 24 })],
      ],
    });
  }

  /** A metric the fleet tick publishes. */
  private fleet(metricName: string, statistic = 'Maximum'): cloudwatch.Metric {
    return new cloudwatch.Metric({
      namespace: METRICS_NAMESPACE,
      metricName,
      dimensionsMap: metricDimensions(FLEET_SERVICE, this.props.clusterName),
      statistic,
      period: Duration.minutes(1),
    });
  }

  private addAlarms(notify: cwActions.SnsAction): void {
    const { props } = this;
    const alarm = (name: string, alarmProps: cloudwatch.AlarmProps): void => {
      const created = new cloudwatch.Alarm(this, name, {
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
        ...alarmProps,
      });
      created.addAlarmAction(notify);
      this.alarms.push(created);
    };
    for (const [name, queue] of Object.entries(props.deadLetterQueues)) {
      alarm(`${name}DeadLetters`, {
        alarmDescription: `Mantle ${props.clusterName}: messages in the ${name} dead-letter queue`,
        metric: queue.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(5), statistic: 'Maximum' }),
        threshold: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        evaluationPeriods: 1,
      });
    }
    for (const [name, fn] of Object.entries(props.functions)) {
      alarm(`${name}Errors`, {
        alarmDescription: `Mantle ${props.clusterName}: the ${name} function fails`,
        metric: fn.metricErrors({ period: Duration.minutes(5), statistic: 'Sum' }),
        threshold: 5,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        evaluationPeriods: 1,
      });
    }
    alarm('StatusBacklog', {
      alarmDescription: `Mantle ${props.clusterName}: status updates wait more than two minutes`,
      metric: props.statusQueue.metricApproximateAgeOfOldestMessage({
        period: Duration.minutes(1),
        statistic: 'Maximum',
      }),
      threshold: 120,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 3,
    });
    alarm('UnreachableAgents', {
      alarmDescription: `Mantle ${props.clusterName}: agents unreachable`,
      metric: this.fleet(FLEET_METRICS.unreachableAgents),
      threshold: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 5,
    });
    if (props.api) {
      alarm('ApiServerErrors', {
        alarmDescription: `Mantle ${props.clusterName}: the API answers 5XX`,
        metric: props.api.metricServerError({ period: Duration.minutes(5), statistic: 'Sum' }),
        threshold: 5,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        evaluationPeriods: 1,
      });
    }
  }

  /** Agents, demand, offers and tasks. */
  private fleetWidgets(): cloudwatch.IWidget[] {
    const { props } = this;
    const groupMetric = (metricName: string): cloudwatch.Metric =>
      new cloudwatch.Metric({
        namespace: 'AWS/AutoScaling',
        metricName,
        dimensionsMap: { AutoScalingGroupName: props.agents.autoScalingGroupName },
        statistic: 'Maximum',
        period: Duration.minutes(1),
      });
    return [
      new cloudwatch.GraphWidget({
        title: 'Agents',
        left: [
          this.fleet(FLEET_METRICS.activeAgents),
          this.fleet(FLEET_METRICS.drainingAgents),
          this.fleet(FLEET_METRICS.unreachableAgents),
          groupMetric('GroupInServiceInstances'),
          groupMetric('GroupDesiredCapacity'),
        ],
        width: 8,
      }),
      new cloudwatch.GraphWidget({
        title: 'Demand (scaling signals)',
        left: [props.agentsNeeded, props.scaleInCandidates],
        right: [
          this.fleet(FLEET_METRICS.pendingTasks),
          this.fleet(FLEET_METRICS.pendingGpus),
          this.fleet(FLEET_METRICS.unplaceableTasks),
        ],
        width: 8,
      }),
      new cloudwatch.GraphWidget({
        title: 'Offers and tasks',
        left: [this.fleet(FLEET_METRICS.outstandingOffers), this.fleet(FLEET_METRICS.activeTasks)],
        width: 8,
      }),
    ];
  }

  /** Task updates, allocation pass time, queue depths. */
  private pipelineWidgets(): cloudwatch.IWidget[] {
    const { props } = this;
    const taskUpdates = new cloudwatch.MathExpression({
      expression: `SEARCH('{${METRICS_NAMESPACE},cluster,service} cluster="${props.clusterName}" service="${STATUS_SERVICE}"', 'Sum', 60)`,
      label: '',
      period: Duration.minutes(1),
    });
    return [
      new cloudwatch.GraphWidget({ title: 'Task updates by state (per minute)', left: [taskUpdates], width: 8 }),
      new cloudwatch.GraphWidget({
        title: 'Allocation pass time (ms)',
        left: [
          props.allocator.metricDuration({ statistic: 'p50', period: Duration.minutes(1) }),
          props.allocator.metricDuration({ statistic: 'p99', period: Duration.minutes(1) }),
          props.allocator.metricDuration({ statistic: 'Maximum', period: Duration.minutes(1) }),
        ],
        width: 8,
      }),
      new cloudwatch.GraphWidget({
        title: 'Queue depths',
        left: [
          props.statusQueue.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(1) }),
          props.allocationQueue.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(1) }),
          ...Object.values(props.deadLetterQueues).map((queue) =>
            queue.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(1) }),
          ),
        ],
        width: 8,
      }),
    ];
  }

  /** Function errors and API responses. */
  private errorWidgets(): cloudwatch.IWidget[] {
    const { props } = this;
    return [
      new cloudwatch.GraphWidget({
        title: 'Function errors',
        left: Object.values(props.functions).map((fn) => fn.metricErrors({ period: Duration.minutes(1) })),
        width: 12,
      }),
      new cloudwatch.GraphWidget({
        title: 'API responses',
        left: props.api
          ? [
              props.api.metricCount({ period: Duration.minutes(1) }),
              props.api.metricClientError({ period: Duration.minutes(1) }),
              props.api.metricServerError({ period: Duration.minutes(1) }),
            ]
          : Object.values(props.functions).map((fn) => fn.metricInvocations({ period: Duration.minutes(1) })),
        width: 12,
      }),
    ];
  }
}
