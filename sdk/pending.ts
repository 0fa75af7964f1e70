/**
 * Why pending, from the SDK (docs/operator.md, "Why pending"): Mantle's GET_PENDING_REASONS, as an
 * operator (`getPendingReasons`: every framework's, and Mantle Jobs' pending jobs) or as a framework on
 * its own subscription (`frameworkPendingReasons`: its own roles'). A refusal throws a CallError.
 */
import { CallError, masterUrl, requestHeaders, type ConnectionOptions } from './calls.js';

/** Mesos `TimeInfo`. */
export interface TimeInfo {
  readonly nanoseconds: number;
}

/** The allocator's codes (functions/allocator/reasons.ts) and Jobs' `JOB_PENDING`. */
export type PendingReasonCode =
  | 'SUPPRESSED'
  | 'FILTERED'
  | 'QUOTA_LIMIT_REACHED'
  | 'GPU_AGENTS_ONLY'
  | 'CONSTRAINTS_UNSATISFIABLE'
  | 'AGENTS_INCAPABLE'
  | 'BELOW_MIN_ALLOCATABLE'
  | 'NOTHING_FREE'
  | 'JOB_PENDING';

/** One reason: a framework's role the allocator offered nothing, or a pending job of Mantle Jobs. */
export interface PendingReason {
  /** The framework (absent for a job's reason). */
  readonly framework_id?: { readonly value: string };
  /** The role (for a job, its queue). */
  readonly role: string;
  readonly code: PendingReasonCode;
  readonly message: string;
  /** How many of the agents the pass considered were blocked for each cause. */
  readonly agents?: Readonly<Partial<Record<PendingReasonCode, number>>>;
  /** FILTERED: when the earliest filter that blocked an offer expires. */
  readonly filtered_until?: TimeInfo;
  /** QUOTA_LIMIT_REACHED: the role at its limit and the resources at it. */
  readonly quota?: { readonly role: string; readonly resources: readonly string[] };
  /** Since when the reason has held (a job: since it was submitted). */
  readonly since: TimeInfo;
  /** When the allocation pass that last found it ran. */
  readonly updated_at?: TimeInfo;
  readonly job_id?: string;
  readonly job_name?: string;
}

export interface PendingFilter {
  readonly frameworkId?: string;
  readonly role?: string;
}

async function answer(response: Response, type: string): Promise<PendingReason[]> {
  const text = await response.text();
  if (!response.ok) throw new CallError(response.status, text, type);
  const body = JSON.parse(text) as { get_pending_reasons?: { reasons?: PendingReason[] } };
  return body.get_pending_reasons?.reasons ?? [];
}

/** As an operator: every pending reason (`POST /api/v1`), optionally of one framework or role. */
export async function getPendingReasons(
  options: ConnectionOptions,
  filter: PendingFilter = {},
): Promise<PendingReason[]> {
  const master = masterUrl('getPendingReasons', options);
  const payload = {
    ...(filter.frameworkId ? { framework_id: { value: filter.frameworkId } } : {}),
    ...(filter.role ? { role: filter.role } : {}),
  };
  const response = await (options.fetch ?? fetch)(`${master}/api/v1`, {
    method: 'POST',
    headers: requestHeaders(options),
    body: JSON.stringify({
      type: 'GET_PENDING_REASONS',
      ...(Object.keys(payload).length > 0 ? { get_pending_reasons: payload } : {}),
    }),
  });
  return answer(response, 'GET_PENDING_REASONS');
}

/** As a framework, on its subscription: its own roles' reasons (`POST /api/v1/scheduler`). */
export async function frameworkPendingReasons(
  options: ConnectionOptions,
  subscription: { readonly frameworkId: string; readonly streamId: string },
): Promise<PendingReason[]> {
  const master = masterUrl('frameworkPendingReasons', options);
  const response = await (options.fetch ?? fetch)(`${master}/api/v1/scheduler`, {
    method: 'POST',
    headers: { ...requestHeaders(options), 'Mesos-Stream-Id': subscription.streamId },
    body: JSON.stringify({ framework_id: { value: subscription.frameworkId }, type: 'GET_PENDING_REASONS' }),
  });
  return answer(response, 'GET_PENDING_REASONS');
}
