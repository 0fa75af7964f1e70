/**
 * The Mesos validation of a scheduler Call (Mesos src/master/validation.cpp `scheduler::call::validate`),
 * run before anything else: a failure is a 400 (501 for UNKNOWN), with Mesos's message. A call that
 * passes comes back narrowed to its type (`CallOf<'KILL'>` carries `kill`), so no caller casts.
 */
import { decodeBytes } from '#shared/protocol/dialect.js';
import type { Call, CallType } from '#shared/protocol/scheduler.js';
import { err, ok, type Result } from '#shared/result.js';

export interface CallRejection {
  readonly status: 400 | 501;
  readonly message: string;
}

/** Which sub-message each call type must carry (REVIVE, SUPPRESS and TEARDOWN need none). */
const REQUIRED = {
  SUBSCRIBE: 'subscribe',
  ACCEPT: 'accept',
  DECLINE: 'decline',
  ACCEPT_INVERSE_OFFERS: 'accept_inverse_offers',
  DECLINE_INVERSE_OFFERS: 'decline_inverse_offers',
  KILL: 'kill',
  SHUTDOWN: 'shutdown',
  ACKNOWLEDGE: 'acknowledge',
  ACKNOWLEDGE_OPERATION_STATUS: 'acknowledge_operation_status',
  RECONCILE: 'reconcile',
  RECONCILE_OPERATIONS: 'reconcile_operations',
  MESSAGE: 'message',
  REQUEST: 'request',
  UPDATE_FRAMEWORK: 'update_framework',
} as const satisfies Partial<Record<CallType, keyof Call>>;
type Required = typeof REQUIRED;

type Narrowed<T extends CallType> = Call & { readonly type: T } & (T extends keyof Required
    ? { readonly [K in Required[T]]-?: NonNullable<Call[K]> }
    : unknown) &
  (T extends 'SUBSCRIBE' ? unknown : { readonly framework_id: NonNullable<Call['framework_id']> });

/** A call that passed validation: its type known, its sub-message there, its framework named. */
export type ValidCall = { [T in Exclude<CallType, 'UNKNOWN'>]: Narrowed<T> }[Exclude<CallType, 'UNKNOWN'>];
export type CallOf<T extends ValidCall['type']> = Extract<ValidCall, { readonly type: T }>;
export type SubscribeCall = CallOf<'SUBSCRIBE'>;
/** Every call but SUBSCRIBE: made on a framework's behalf, on its current stream. */
export type FrameworkCall = Exclude<ValidCall, SubscribeCall>;

function isUuid(base64: string): boolean {
  return decodeBytes(base64).byteLength === 16;
}

function reject(
  status: CallRejection['status'],
  message: string,
): { readonly ok: false; readonly error: CallRejection } {
  return err({ status, message });
}

/** Validates a parsed call; `principal` is the authenticated one, when authentication is on. */
export function validateCall(call: Call, principal: string | undefined): Result<ValidCall, CallRejection> {
  const type = call.type;
  if (type === undefined) return reject(400, "Expecting 'type' to be present");
  if (type === 'UNKNOWN') return reject(501, 'Received an unknown call');
  const required = (REQUIRED as Partial<Record<CallType, keyof Call>>)[type];
  if (required && call[required] === undefined) return reject(400, `Expecting '${required}' to be present`);
  const rejection = type === 'SUBSCRIBE' ? subscribeRejection(call, principal) : frameworkCallRejection(call);
  // Every check the narrowed type promises has been made above.
  return rejection ? err(rejection) : ok(call as ValidCall);
}

function subscribeRejection(call: Call, principal: string | undefined): CallRejection | undefined {
  const info = call.subscribe?.framework_info;
  if (info?.id?.value !== call.framework_id?.value) {
    return { status: 400, message: "'framework_id' differs from 'subscribe.framework_info.id'" };
  }
  if (principal !== undefined && info?.principal !== undefined && info.principal !== principal) {
    return {
      status: 400,
      message: `Authenticated principal '${principal}' does not match principal '${info.principal}' set in 'FrameworkInfo'`,
    };
  }
  return undefined;
}

function frameworkCallRejection(call: Call): CallRejection | undefined {
  if (!call.framework_id) return { status: 400, message: "Expecting 'framework_id' to be present" };
  if (call.type === 'ACKNOWLEDGE' && call.acknowledge && !isUuid(call.acknowledge.uuid)) {
    return { status: 400, message: "'acknowledge.uuid' is not a valid UUID" };
  }
  const operationStatus = call.acknowledge_operation_status;
  if (call.type === 'ACKNOWLEDGE_OPERATION_STATUS' && operationStatus) {
    if (!isUuid(operationStatus.uuid)) {
      return { status: 400, message: "'acknowledge_operation_status.uuid' is not a valid UUID" };
    }
    if (!operationStatus.agent_id) {
      return { status: 400, message: "Expecting 'acknowledge_operation_status.agent_id' to be present" };
    }
  }
  if (call.type === 'UPDATE_FRAMEWORK' && call.update_framework?.framework_info.id?.value !== call.framework_id.value) {
    return { status: 400, message: "'framework_id' differs from 'update_framework.framework_info.id'" };
  }
  return undefined;
}
