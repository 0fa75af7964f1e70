/**
 * Helpers for the fleet tests: agents that run on (pretend) EC2 instances, registered over the
 * agents' HTTP API with the `instance_id` attribute the launch template's user data sets, and a task
 * running on one of them.
 */
import { randomBytes } from 'node:crypto';
import type { EventBridgeEvent } from 'aws-lambda';
import { INSTANCE_ID_ATTRIBUTE } from '../../functions/fleet/instance-id.js';
import { LIFECYCLE_ACTION, SPOT_INTERRUPTION, STATE_CHANGE } from '../../functions/fleet/eventbridge.js';
import type { TestMaster } from '../support/master.js';
import {
  commands,
  commandTask,
  launch,
  offer,
  resources,
  sendStatus,
  uuid,
  type TestAgent,
  type TestFramework,
} from '../support/scheduler.js';

export function instanceId(): string {
  return `i-${randomBytes(8).toString('hex')}`;
}

/** A registration as an agent on `instance` sends it (re-registering as `agentId`, when given). */
export function registrationOn(
  instance: string | undefined,
  options: { readonly text?: string; readonly agentId?: string } = {},
): Record<string, unknown> {
  return {
    ...(options.agentId ? { agent_id: { value: options.agentId } } : {}),
    hostname: `ip-${randomBytes(3).toString('hex')}.ec2.internal`,
    ip: '127.0.0.1',
    resources: resources(options.text ?? 'cpus:8;mem:8192;gpus:2;disk:10000;ports:[31000-31099]'),
    attributes: instance ? [{ name: INSTANCE_ID_ATTRIBUTE, type: 'TEXT', text: { value: instance } }] : [],
    containerizers: ['docker'],
    isolation: { cgroups: 'v2', gpus: 'devices-cgroup', notes: [] },
    version: 'test',
  };
}

/** POSTs a registration to the agents' API; `headers` carry its credential. */
export function postRegistration(
  tm: Pick<TestMaster, 'url'>,
  body: Record<string, unknown>,
  headers: Record<string, string> = {},
): Promise<Response> {
  return fetch(`${tm.url}/internal/v1/agents/register`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
}

export async function registerOnInstance(
  tm: TestMaster,
  instance: string,
  text = 'cpus:8;mem:8192;gpus:2;disk:10000;ports:[31000-31099]',
): Promise<TestAgent> {
  const response = await postRegistration(tm, registrationOn(instance, { text }));
  if (response.status !== 200) throw new Error(`register answered ${response.status}: ${await response.text()}`);
  const body = (await response.json()) as { agent_id: { value: string }; command_queue_url: string };
  return { agentId: body.agent_id.value, commandQueueUrl: body.command_queue_url };
}

/** Launches a task on the agent and reports it running (as the agent would). */
export async function runTask(
  tm: TestMaster,
  framework: TestFramework,
  agent: TestAgent,
  taskId: string,
  text = 'cpus:1;mem:128;gpus:1',
): Promise<void> {
  const made = await offer(tm, framework, agent, text);
  const accepted = await framework.call(
    'ACCEPT',
    launch([made.offerId], [commandTask(taskId, agent, text)], { refuse_seconds: 0 }),
  );
  if (accepted.status !== 202) throw new Error(`ACCEPT answered ${accepted.status}: ${accepted.body}`);
  const launched = await commands(tm, agent);
  if (!launched.some((command) => command.type === 'LAUNCH')) throw new Error('no LAUNCH reached the agent');
  await sendStatus(tm, agent, framework.frameworkId, {
    task_id: { value: taskId },
    state: 'TASK_RUNNING',
    uuid: uuid(),
  });
  await framework.update(taskId, 'TASK_RUNNING');
}

/** Ends a task as the agent would report it, and waits until the master has applied it. */
export async function endTask(
  tm: TestMaster,
  framework: TestFramework,
  agent: TestAgent,
  taskId: string,
  state: 'TASK_FINISHED' | 'TASK_KILLED',
): Promise<void> {
  await sendStatus(tm, agent, framework.frameworkId, { task_id: { value: taskId }, state, uuid: uuid() });
  await framework.update(taskId, state);
}

function event<T>(detailType: string, source: string, detail: T): EventBridgeEvent<string, T> {
  return {
    version: '0',
    id: randomBytes(8).toString('hex'),
    'detail-type': detailType,
    source,
    account: '123456789012',
    time: new Date().toISOString(),
    region: 'us-east-1',
    resources: [],
    detail,
  };
}

/** What EventBridge delivers when the group's termination lifecycle hook holds an instance. */
export function lifecycleEvent(group: string, hook: string, instance: string) {
  return event(LIFECYCLE_ACTION, 'aws.autoscaling', {
    LifecycleActionToken: randomBytes(16).toString('hex'),
    AutoScalingGroupName: group,
    LifecycleHookName: hook,
    EC2InstanceId: instance,
    LifecycleTransition: 'autoscaling:EC2_INSTANCE_TERMINATING',
    Origin: 'AutoScalingGroup',
    Destination: 'EC2',
  });
}

export function spotInterruptionEvent(instance: string) {
  return event(SPOT_INTERRUPTION, 'aws.ec2', { 'instance-id': instance, 'instance-action': 'terminate' });
}

export function stateChangeEvent(instance: string, state: string) {
  return event(STATE_CHANGE, 'aws.ec2', { 'instance-id': instance, state });
}
