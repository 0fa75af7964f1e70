/**
 * Least-privilege grants, written out action by action (no wildcard actions on data resources): the
 * registrar's tables, the fixed queues, and the queues the master creates at runtime, scoped to their
 * name patterns (`<cluster>-agent-<24 hex>.fifo`, `<cluster>-fw-<24 hex>.fifo`, and the queue-delivered frameworks'
 * `<cluster>-fwq-<24 hex>.fifo`).
 */
import { Aws, type Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type { TableV2 } from 'aws-cdk-lib/aws-dynamodb';
import type * as sqs from 'aws-cdk-lib/aws-sqs';

/**
 * What the registrar does (functions/registrar): single-item reads and conditional writes, batch reads and
 * writes, a principal's deletion, queries, scans (test/unit/infra-permissions.test.ts checks it against the code).
 */
export const REGISTRAR_ACTIONS = [
  'dynamodb:GetItem',
  'dynamodb:BatchGetItem',
  'dynamodb:PutItem',
  'dynamodb:UpdateItem',
  'dynamodb:DeleteItem',
  'dynamodb:BatchWriteItem',
  'dynamodb:Query',
  'dynamodb:Scan',
] as const;

export type RuntimeQueue = 'agent' | 'framework' | 'framework-delivery';

/** The ARN pattern of the runtime queues of one kind (`?` is exactly one character: the digest). */
export function runtimeQueueArn(stack: Stack, clusterName: string, kind: RuntimeQueue): string {
  const infix = { agent: 'agent', framework: 'fw', 'framework-delivery': 'fwq' }[kind];
  return stack.formatArn({
    service: 'sqs',
    resource: `${clusterName}-${infix}-${'?'.repeat(24)}.fifo`,
    region: Aws.REGION,
    account: Aws.ACCOUNT_ID,
  });
}

export function grantTables(
  role: iam.IRole,
  tables: readonly TableV2[],
  actions: readonly string[] = REGISTRAR_ACTIONS,
): void {
  role.addToPrincipalPolicy(
    new iam.PolicyStatement({ actions: [...actions], resources: tables.map((table) => table.tableArn) }),
  );
}

export function grantQueues(role: iam.IRole, queues: readonly sqs.IQueue[], actions: readonly string[]): void {
  role.addToPrincipalPolicy(
    new iam.PolicyStatement({ actions: [...actions], resources: queues.map((queue) => queue.queueArn) }),
  );
}

export function grantRuntimeQueues(
  role: iam.IRole,
  stack: Stack,
  clusterName: string,
  kind: RuntimeQueue,
  actions: readonly string[],
): void {
  role.addToPrincipalPolicy(
    new iam.PolicyStatement({ actions: [...actions], resources: runtimeQueueArns(stack, clusterName, kind) }),
  );
}

/** A framework's events go to its own queue or, queue-delivered, to its named one: a grant for one is for both. */
function runtimeQueueArns(stack: Stack, clusterName: string, kind: RuntimeQueue): string[] {
  const kinds: RuntimeQueue[] = kind === 'framework' ? ['framework', 'framework-delivery'] : [kind];
  return kinds.map((each) => runtimeQueueArn(stack, clusterName, each));
}

/**
 * Finding or creating a runtime queue (with its TLS-only policy and its kind's dead-letter queue), and
 * deleting it when its agent or framework is gone.
 */
export const QUEUE_LIFECYCLE = [
  'sqs:GetQueueUrl',
  'sqs:CreateQueue',
  'sqs:GetQueueAttributes',
  'sqs:SetQueueAttributes',
  'sqs:DeleteQueue',
] as const;
export const SEND = ['sqs:SendMessage'] as const;
export const CONSUME = ['sqs:ReceiveMessage', 'sqs:DeleteMessage', 'sqs:ChangeMessageVisibility'] as const;
