/** Lambda entry point of the sweeper, invoked on a schedule (EventBridge). */
import { sweep } from '../shared/master/sweeper.js';
import { masterFromEnvironment } from './master-from-env.js';

export async function handler(): Promise<void> {
  const master = masterFromEnvironment();
  const report = await sweep(master);
  master.logger.info('Sweep done', { ...report });
}
