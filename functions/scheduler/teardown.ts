/** TEARDOWN: the framework is removed at once, its tasks killed (see master/lifecycle.ts). */
import type { FrameworkRecord } from '../registrar/index.js';
import { removeFramework } from '../master/lifecycle.js';
import type { Master } from '../master/master.js';
import { ACCEPTED, type CallResponse } from './responses.js';

export async function teardown(master: Master, framework: FrameworkRecord): Promise<CallResponse> {
  await removeFramework(master, framework.frameworkId, 'TEARDOWN');
  return ACCEPTED;
}
