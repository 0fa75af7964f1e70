/**
 * The GPU agents' Auto Scaling group, as the master uses it: letting a drained instance go (its
 * termination lifecycle action) and keeping busy instances out of scale-in (instance protection), so
 * that the group scales in by idle agents first.
 */
import {
  AutoScalingClient,
  CompleteLifecycleActionCommand,
  DescribeAutoScalingGroupsCommand,
  SetInstanceProtectionCommand,
} from '@aws-sdk/client-auto-scaling';
import type { LifecycleActions } from './hooks.js';

export interface ScaleInProtection {
  /** In-service instances of the group and whether each is protected from scale-in. */
  instances(): Promise<Map<string, boolean>>;
  setProtection(instanceIds: readonly string[], protect: boolean): Promise<void>;
}

// SetInstanceProtection takes at most 50 instances per call.
const PROTECTION_BATCH = 50;

export class AgentAutoScalingGroup implements LifecycleActions, ScaleInProtection {
  constructor(
    readonly groupName: string,
    readonly lifecycleHookName: string,
    private readonly client: AutoScalingClient = new AutoScalingClient({}),
  ) {}

  async complete(instanceId: string): Promise<boolean> {
    try {
      await this.client.send(
        new CompleteLifecycleActionCommand({
          AutoScalingGroupName: this.groupName,
          LifecycleHookName: this.lifecycleHookName,
          InstanceId: instanceId,
          LifecycleActionResult: 'CONTINUE',
        }),
      );
      return true;
    } catch (error) {
      if ((error as Error).name === 'ValidationError' && /No active Lifecycle Action/i.test((error as Error).message)) {
        return false;
      }
      throw error;
    }
  }

  async instances(): Promise<Map<string, boolean>> {
    const result = await this.client.send(
      new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [this.groupName] }),
    );
    const instances = new Map<string, boolean>();
    for (const instance of result.AutoScalingGroups?.[0]?.Instances ?? []) {
      if (instance.InstanceId && instance.LifecycleState === 'InService') {
        instances.set(instance.InstanceId, instance.ProtectedFromScaleIn === true);
      }
    }
    return instances;
  }

  async setProtection(instanceIds: readonly string[], protect: boolean): Promise<void> {
    for (let i = 0; i < instanceIds.length; i += PROTECTION_BATCH) {
      await this.client.send(
        new SetInstanceProtectionCommand({
          AutoScalingGroupName: this.groupName,
          InstanceIds: instanceIds.slice(i, i + PROTECTION_BATCH),
          ProtectedFromScaleIn: protect,
        }),
      );
    }
  }
}

/** The group named by MANTLE_AGENT_ASG_NAME and MANTLE_AGENT_LIFECYCLE_HOOK (set by the CDK stack). */
export function agentGroupFromEnvironment(env: NodeJS.ProcessEnv = process.env): AgentAutoScalingGroup {
  const groupName = env.MANTLE_AGENT_ASG_NAME;
  const hookName = env.MANTLE_AGENT_LIFECYCLE_HOOK;
  if (!groupName || !hookName) throw new Error('MANTLE_AGENT_ASG_NAME and MANTLE_AGENT_LIFECYCLE_HOOK must be set');
  return new AgentAutoScalingGroup(groupName, hookName);
}
