/** REQUEST: what the framework waits for, kept as pending demand (the fleet scales out on it). */
import type { FrameworkRecord } from '../registrar/index.js';
import type { Master } from '../master/master.js';
import { ACCEPTED, badRequest, type CallResponse } from './responses.js';
import type { CallOf } from './validation.js';

export async function request(
  master: Pick<Master, 'registrar'>,
  framework: FrameworkRecord,
  call: CallOf<'REQUEST'>,
): Promise<CallResponse> {
  const result = await master.registrar.frameworks.recordRequests(framework.frameworkId, call.request.requests ?? []);
  return result.ok ? ACCEPTED : badRequest(result.error.message);
}
