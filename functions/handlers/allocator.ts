/** The allocator Lambda: allocation passes triggered through the allocation queue (built in allocation.ts). */
import { allocationHandlerFromEnvironment } from './allocation.js';
import { traced } from '#shared/tracing.js';

export const handler = traced(allocationHandlerFromEnvironment());
