/** SUPPRESS: no offers for the roles named (all, when none is) until REVIVE. */
import type { FrameworkRecord } from '../registrar/index.js';
import type { Master } from '../master/master.js';
import { ACCEPTED, badRequest, type CallResponse } from './responses.js';
import type { CallOf } from './validation.js';

export async function suppress(
  master: Pick<Master, 'registrar' | 'metrics'>,
  framework: FrameworkRecord,
  call: CallOf<'SUPPRESS'>,
): Promise<CallResponse> {
  const result = await master.registrar.frameworks.suppress(framework.frameworkId, call.suppress?.roles ?? []);
  if (!result.ok) return badRequest(result.error.message);
  master.metrics.increment('master/messages_suppress_offers');
  return ACCEPTED;
}
