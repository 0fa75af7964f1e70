/**
 * Each agent may read only its own command queue. The queues are created at runtime, named after an
 * agent id the master assigns, so the agents' instance role cannot name them; instead it may receive
 * from a `<cluster>-agent-*` queue only when the queue's tag equals the caller's `aws:userid`, which
 * for an instance role is `<role id>:<instance id>`. The master tags each agent's queue with the role
 * session registration bound the agent to (attribute-based access control, SQS ABAC): derived from the
 * agent's proven AWS identity, or, with a shared agent principal, from the instance it reports.
 */
import { TagQueueCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { AgentQueueTagger } from './hooks.js';

export { agentSessionId } from './instance-id.js';

export const AGENT_QUEUE_TAG = 'mantle-agent-session';

/**
 * Tags agents' command queues, in AWS: the stack sets MANTLE_AGENT_ROLE_ID. Elsewhere (the local
 * cluster, tests) there is nothing to restrict: undefined. An agent bound to no instance gets no tag,
 * so nothing (no role) may read its queue.
 */
export function agentQueueTaggerFromEnvironment(
  sqs: SQSClient,
  env: NodeJS.ProcessEnv = process.env,
): AgentQueueTagger | undefined {
  if (!env.MANTLE_AGENT_ROLE_ID) return undefined;
  return async (commandQueueUrl, session) => {
    await sqs.send(new TagQueueCommand({ QueueUrl: commandQueueUrl, Tags: { [AGENT_QUEUE_TAG]: session } }));
  };
}
