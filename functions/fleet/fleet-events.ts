/**
 * What the fleet's EventBridge events do (functions/fleet/eventbridge.ts): the termination lifecycle hook and
 * Spot interruption notices start draining the instance's agents (functions/fleet/drain.ts); an
 * instance stopping or shutting down takes its agents with it at once (functions/fleet/instances.ts).
 */
import type { EventBridgeEvent } from 'aws-lambda';
import { drainInstance, type DrainSettings } from './drain.js';
import { instanceLost } from './instances.js';
import type { Master } from '../master/master.js';
import type { AgentAutoScalingGroup } from './autoscaling.js';
import { FleetEventSchema, LIFECYCLE_ACTION, SPOT_INTERRUPTION } from './eventbridge.js';

export type FleetEventOutcome =
  | { readonly kind: 'ignored'; readonly why: string }
  | { readonly kind: 'draining'; readonly instanceId: string; readonly agents: number; readonly completed: boolean }
  | { readonly kind: 'lost'; readonly instanceId: string; readonly agentsGone: number };

export async function handleFleetEvent(
  master: Master,
  group: Pick<AgentAutoScalingGroup, 'groupName' | 'lifecycleHookName' | 'complete'>,
  settings: DrainSettings,
  event: EventBridgeEvent<string, unknown>,
): Promise<FleetEventOutcome> {
  const parsed = FleetEventSchema.safeParse(event);
  if (!parsed.success) {
    // The stack's rules route nothing else here; retrying cannot make an unknown event known.
    master.logger.error('Ignoring an unexpected event', { detailType: event['detail-type'], source: event.source });
    return { kind: 'ignored', why: 'not a fleet event' };
  }
  const fleetEvent = parsed.data;
  switch (fleetEvent['detail-type']) {
    case LIFECYCLE_ACTION: {
      const { detail } = fleetEvent;
      if (detail.AutoScalingGroupName !== group.groupName || detail.LifecycleHookName !== group.lifecycleHookName) {
        master.logger.warn('Ignoring a lifecycle action of another group or hook', { ...detail });
        return { kind: 'ignored', why: 'another group or hook' };
      }
      const outcome = await drainInstance(master, group, settings, detail.EC2InstanceId, 'SCALE_IN');
      return {
        kind: 'draining',
        instanceId: detail.EC2InstanceId,
        agents: outcome.draining,
        completed: outcome.completed,
      };
    }
    case SPOT_INTERRUPTION: {
      const instanceId = fleetEvent.detail['instance-id'];
      const outcome = await drainInstance(master, group, settings, instanceId, 'SPOT_INTERRUPTION');
      return { kind: 'draining', instanceId, agents: outcome.draining, completed: outcome.completed };
    }
    default: {
      const { 'instance-id': instanceId, state } = fleetEvent.detail;
      return { kind: 'lost', instanceId, agentsGone: await instanceLost(master, instanceId, state) };
    }
  }
}
