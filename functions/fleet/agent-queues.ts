/**
 * Each agent may read only its own command queue. The queues are created at runtime, named after an
 * agent id the master assigns, so the agents' instance role cannot name them; instead it may receive
 * from a `<cluster>-agent-*` queue only when the queue's tag equals the caller's `aws:userid`, which
 * for an instance role is `<role id>:<instance id>`. The master tags each agent's queue with that at
 * registration (attribute-based access control, SQS ABAC).
 */
import { TagQueueCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { AgentQueueTagger } from './hooks.js';
import { instanceIdOf } from './instance-id.js';

export const AGENT_QUEUE_TAG = 'mantle-agent-session';

/** The `aws:userid` of the agents' role on one instance (EC2 names the role session after the instance). */
export function agentSessionId(roleId: string, instanceId: string): string {
  return `${roleId}:${instanceId}`;
}

/**
 * Tags an agent's command queue for the instance it runs on. In AWS the stack sets
 * MANTLE_AGENT_ROLE_ID; elsewhere (the local cluster, tests) there is nothing to restrict: undefined.
 * An agent that reports no instance id gets no tag, so nothing (no role) may read its queue.
 */
export function agentQueueTaggerFromEnvironment(
  sqs: SQSClient,
  env: NodeJS.ProcessEnv = process.env,
): AgentQueueTagger | undefined {
  const roleId = env.MANTLE_AGENT_ROLE_ID;
  if (!roleId) return undefined;
  return async (commandQueueUrl, agent) => {
    const instanceId = instanceIdOf(agent);
    if (instanceId === undefined) return;
    await sqs.send(
      new TagQueueCommand({
        QueueUrl: commandQueueUrl,
        Tags: { [AGENT_QUEUE_TAG]: agentSessionId(roleId, instanceId) },
      }),
    );
  };
}
