/**
 * The EventBridge events the fleet reacts to: the agents' Auto Scaling group terminating an instance
 * (its termination lifecycle hook), EC2 announcing a Spot reclaim, and instances stopping or shutting
 * down. Only the fields Mantle reads are checked.
 */
import { z } from 'zod';

export const LIFECYCLE_ACTION = 'EC2 Instance-terminate Lifecycle Action';
export const SPOT_INTERRUPTION = 'EC2 Spot Instance Interruption Warning';
export const STATE_CHANGE = 'EC2 Instance State-change Notification';

/** The states whose state-change events the stack routes here: the first sign an instance is going. */
export const LEAVING_STATES = ['stopping', 'shutting-down'] as const;

export const FleetEventSchema = z.discriminatedUnion('detail-type', [
  z.object({
    'detail-type': z.literal(LIFECYCLE_ACTION),
    source: z.literal('aws.autoscaling'),
    detail: z.object({
      AutoScalingGroupName: z.string(),
      LifecycleHookName: z.string(),
      EC2InstanceId: z.string(),
      LifecycleTransition: z.literal('autoscaling:EC2_INSTANCE_TERMINATING'),
    }),
  }),
  z.object({
    'detail-type': z.literal(SPOT_INTERRUPTION),
    source: z.literal('aws.ec2'),
    detail: z.object({ 'instance-id': z.string(), 'instance-action': z.string() }),
  }),
  z.object({
    'detail-type': z.literal(STATE_CHANGE),
    source: z.literal('aws.ec2'),
    detail: z.object({ 'instance-id': z.string(), state: z.string() }),
  }),
]);
export type FleetEvent = z.infer<typeof FleetEventSchema>;
