/** The allocator Lambda: allocation passes triggered through the allocation queue (shared/allocator). */
import { allocationHandlerFromEnvironment } from './allocation.js';

export const handler = allocationHandlerFromEnvironment();
