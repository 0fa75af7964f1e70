/**
 * The tasks' output in AWS (docs/operator.md "Task output"): one CloudWatch Logs group per cluster,
 * `/mantle/<cluster>/tasks`, with a retention. The agents' role may only create streams in it and put
 * events (they learn its name at registration); the functions that serve the files API and Jobs' logs
 * may only list and read its streams. Nothing else is granted on it.
 */
import { RemovalPolicy } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import { taskLogGroup } from '#shared/task-logs/names.js';
import type { MantleFunction } from './functions.js';

/** What the agents do with the group: streams created on first use, events appended. */
export const TASK_LOG_WRITE = ['logs:CreateLogStream', 'logs:PutLogEvents'] as const;
/** What the master does: find a run's streams (browse, `latest`) and read them by page. */
export const TASK_LOG_READ = ['logs:DescribeLogStreams', 'logs:GetLogEvents'] as const;

export interface TaskLogsProps {
  readonly clusterName: string;
  readonly retention: logs.RetentionDays;
  readonly deletionProtection: boolean;
  readonly agentRole: iam.IRole;
  readonly readers: readonly MantleFunction[];
}

export function addTaskLogs(scope: Construct, props: TaskLogsProps): logs.LogGroup {
  const group = new logs.LogGroup(scope, 'TaskLogs', {
    logGroupName: taskLogGroup(props.clusterName),
    retention: props.retention,
    removalPolicy: props.deletionProtection ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
  });
  // The group's ARN ends in ':*', which covers its streams: every action here is on this group alone.
  props.agentRole.addToPrincipalPolicy(
    new iam.PolicyStatement({ actions: [...TASK_LOG_WRITE], resources: [group.logGroupArn] }),
  );
  for (const reader of props.readers) {
    reader.role.addToPrincipalPolicy(
      new iam.PolicyStatement({ actions: [...TASK_LOG_READ], resources: [group.logGroupArn] }),
    );
  }
  return group;
}
