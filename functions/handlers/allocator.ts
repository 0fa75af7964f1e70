/** The allocator Lambda: allocation passes triggered through the allocation queue (built in allocation.ts). */
import { allocationHandlerFromEnvironment } from './allocation.js';
import { createLogger } from '#shared/log.js';
import { traced } from '#shared/tracing.js';

const logger = createLogger('allocator');
export const handler = traced(allocationHandlerFromEnvironment(process.env, logger), logger);
