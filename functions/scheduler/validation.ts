/**
 * The Mesos validation of a scheduler Call (src/master/validation.cpp `scheduler::call::validate`),
 * run before anything else: a failure is a 400 (501 for UNKNOWN), with Mesos's message.
 */
import { decodeBytes } from '../../shared/protocol/dialect.js';
import type { Call, CallType } from '../../shared/protocol/scheduler.js';

export interface CallRejection {
  readonly status: 400 | 501;
  readonly message: string;
}

/** Which sub-message each call type must carry (REVIVE, SUPPRESS and TEARDOWN need none). */
const REQUIRED: Partial<Record<CallType, keyof Call>> = {
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
};

function isUuid(base64: string): boolean {
  return decodeBytes(base64).byteLength === 16;
}

/** Validates a parsed call; `principal` is the authenticated one, when authentication is on. */
export function validateCall(call: Call, principal: string | undefined): CallRejection | undefined {
  const type = call.type;
  if (type === undefined) return { status: 400, message: "Expecting 'type' to be present" };
  if (type === 'UNKNOWN') return { status: 501, message: 'Received an unknown call' };
  const required = REQUIRED[type];
  if (required && call[required] === undefined)
    return { status: 400, message: `Expecting '${required}' to be present` };

  if (type === 'SUBSCRIBE') {
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

  if (!call.framework_id) return { status: 400, message: "Expecting 'framework_id' to be present" };
  if (type === 'ACKNOWLEDGE' && call.acknowledge && !isUuid(call.acknowledge.uuid)) {
    return { status: 400, message: "'acknowledge.uuid' is not a valid UUID" };
  }
  if (type === 'ACKNOWLEDGE_OPERATION_STATUS' && call.acknowledge_operation_status) {
    if (!isUuid(call.acknowledge_operation_status.uuid)) {
      return { status: 400, message: "'acknowledge_operation_status.uuid' is not a valid UUID" };
    }
    if (!call.acknowledge_operation_status.agent_id) {
      return { status: 400, message: "Expecting 'acknowledge_operation_status.agent_id' to be present" };
    }
  }
  if (type === 'UPDATE_FRAMEWORK' && call.update_framework?.framework_info.id?.value !== call.framework_id.value) {
    return { status: 400, message: "'framework_id' differs from 'update_framework.framework_info.id'" };
  }
  return undefined;
}
