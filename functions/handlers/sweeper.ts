/** Lambda entry point of the sweeper, invoked on a schedule (EventBridge). */
import { Ec2InstanceStates } from '../fleet/ec2.js';
import { sweep } from '../fleet/sweeper.js';
import { masterFromEnvironment } from './master-from-env.js';

const instances = new Ec2InstanceStates();

export async function handler(): Promise<void> {
  const master = masterFromEnvironment();
  const report = await sweep(master, { instances });
  master.logger.info('Sweep done', { ...report });
}
