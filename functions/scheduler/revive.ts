/** REVIVE: the roles named (all, when none is) are unsuppressed and their filters cleared, as in Mesos. */
import type { FrameworkRecord } from '../registrar/index.js';
import type { Master } from '../master/master.js';
import { ACCEPTED, badRequest, type CallResponse } from './responses.js';
import type { CallOf } from './validation.js';

export async function revive(
  master: Pick<Master, 'registrar' | 'allocation' | 'metrics'>,
  framework: FrameworkRecord,
  call: CallOf<'REVIVE'>,
): Promise<CallResponse> {
  const { frameworkId } = framework;
  const roles = call.revive?.roles ?? [];
  const result = await master.registrar.frameworks.revive(frameworkId, roles);
  if (!result.ok) return badRequest(result.error.message);
  await master.registrar.filters.clear(frameworkId, roles.length > 0 ? roles : undefined);
  master.metrics.increment('master/messages_revive_offers');
  await master.allocation.request({ reason: 'REVIVE', frameworkId });
  return ACCEPTED;
}
