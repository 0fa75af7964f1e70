/**
 * Lambda entry point for the fleet's EventBridge events: scale-in lifecycle actions and Spot
 * interruptions drain agents, instances that stop take their agents with them (functions/fleet/fleet-events.ts).
 */
import type { EventBridgeEvent } from 'aws-lambda';
import { agentGroupFromEnvironment } from '../fleet/autoscaling.js';
import { handleFleetEvent } from '../fleet/fleet-events.js';
import { drainSettingsFromEnvironment } from '../fleet/drain.js';
import { masterFromEnvironment } from './master-from-env.js';
import { tracedFunction } from '#shared/tracing.js';

const group = agentGroupFromEnvironment();
const settings = drainSettingsFromEnvironment();

const master = masterFromEnvironment();

export const handler = tracedFunction(async (event: EventBridgeEvent<string, unknown>): Promise<void> => {
  const outcome = await handleFleetEvent(master, group, settings, event);
  master.logger.info('Fleet event', { detailType: event['detail-type'], ...outcome });
}, master.logger);
