/** The allocator Lambda: allocation passes triggered through the allocation queue (built in allocation.ts). */
import { allocationHandlerFromEnvironment } from './allocation.js';

export const handler = allocationHandlerFromEnvironment();
