/**
 * GET_PENDING_REASONS on the scheduler API, Mantle's extension (docs/scheduler-api.md): the framework's
 * own pending reasons, per role, as the operator call shows them (functions/operator/pending-calls.ts),
 * answered synchronously (200, JSON): `{"type":"GET_PENDING_REASONS","get_pending_reasons":{…}}`.
 */
import type { Master } from '../master/master.js';
import type { FrameworkRecord, PendingRecord } from '../registrar/index.js';
import type { CallResponse } from './responses.js';

/** Mesos `TimeInfo`. */
function timeInfo(ms: number): { nanoseconds: number } {
  return { nanoseconds: ms * 1_000_000 };
}

/** A stored reason in the Mesos JSON dialect: snake_case, ids as `{value}`, times as TimeInfo. */
export function pendingReasonJson(record: PendingRecord): Record<string, unknown> {
  return {
    framework_id: { value: record.frameworkId },
    role: record.role,
    code: record.code,
    message: record.message,
    agents: record.agents,
    ...(record.filteredUntil !== undefined ? { filtered_until: timeInfo(record.filteredUntil) } : {}),
    ...(record.quota ? { quota: { role: record.quota.role, resources: record.quota.resources } } : {}),
    since: timeInfo(record.since),
    updated_at: timeInfo(record.at),
  };
}

export async function pendingReasons(master: Master, framework: FrameworkRecord): Promise<CallResponse> {
  const reasons = await master.registrar.pending.list(framework.frameworkId);
  return {
    status: 200,
    json: {
      type: 'GET_PENDING_REASONS',
      get_pending_reasons: { reasons: reasons.map(pendingReasonJson) },
    },
  };
}
