/**
 * What the master asks of the EC2 fleet, in AWS only (the local cluster has no fleet). Types only: the
 * master's context names these hooks without depending on the AWS adapters that implement them
 * (fleet/autoscaling.ts, fleet/agent-queues.ts).
 */
export interface LifecycleActions {
  /**
   * Lets a terminating instance go on (CONTINUE). False when no lifecycle action of the hook waits for
   * it: already completed, timed out, or an instance the group did not terminate (a Spot reclaim).
   */
  complete(instanceId: string): Promise<boolean>;
}

/**
 * Lets only the agent's instance read its command queue (SQS ABAC, see fleet/agent-queues.ts): tags it
 * with the role session `<role id>:<instance id>` the agent is bound to.
 */
export type AgentQueueTagger = (commandQueueUrl: string, session: string) => Promise<void>;

export interface FleetHooks {
  /** Completes an instance's termination lifecycle action once its agent has drained. */
  readonly lifecycle?: LifecycleActions;
  /** Lets only the agent's instance read its command queue. */
  readonly tagAgentQueue?: AgentQueueTagger;
}
