/** Lambda entry point of the heartbeat handler (SQS event source on the heartbeat queue). */
import { createHeartbeatHandler } from './heartbeats.js';
import { masterFromEnvironment } from './master-from-env.js';
import { traced } from '#shared/tracing.js';

const master = masterFromEnvironment();
export const handler = traced(createHeartbeatHandler(master), master.logger);
