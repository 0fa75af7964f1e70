/** Lambda entry point of the sweeper, invoked on a schedule (EventBridge). */
import { Ec2InstanceStates } from '../fleet/ec2.js';
import { sweep } from '../fleet/sweeper.js';
import { masterFromEnvironment } from './master-from-env.js';
import { tracedFunction } from '#shared/tracing.js';

const instances = new Ec2InstanceStates();

const master = masterFromEnvironment();

export const handler = tracedFunction(async (): Promise<void> => {
  const report = await sweep(master, { instances });
  master.logger.info('Sweep done', { ...report });
}, master.logger);
