/** Lambda entry point of the status handler (SQS event source on the status FIFO queue). */
import { masterFromEnvironment } from './master-from-env.js';
import { createStatusHandler } from './status.js';

export const handler = createStatusHandler(masterFromEnvironment());
