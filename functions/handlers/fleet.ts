/** Lambda entry point of the fleet tick (EventBridge schedule): demand metrics, drains, scale-in protection. */
import { agentGroupFromEnvironment } from '../fleet/autoscaling.js';
import { fleetTick } from '../fleet/tick.js';
import { demandSettingsFromEnvironment } from '../fleet/demand.js';
import { publishFleetGauges } from '../master/cloudwatch.js';
import { drainSettingsFromEnvironment } from '../fleet/drain.js';
import { masterFromEnvironment } from './master-from-env.js';
import { tracedFunction } from '#shared/tracing.js';

const group = agentGroupFromEnvironment();
const settings = drainSettingsFromEnvironment();
const demand = demandSettingsFromEnvironment();

const master = masterFromEnvironment();

export const handler = tracedFunction(async (): Promise<void> => {
  const report = await fleetTick(master, group, settings, publishFleetGauges, demand);
  master.logger.info('Fleet tick', {
    ...report.gauges,
    released: report.released,
    protected: report.protected,
    unprotected: report.unprotected,
  });
}, master.logger);
