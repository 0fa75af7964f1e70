/** The allocator Lambda: allocation passes triggered through the allocation queue (shared/allocator). */
import { allocationHandlerFromEnvironment } from '../shared/allocator/handler.js';

export const handler = allocationHandlerFromEnvironment();
