/**
 * Every scheduler call but SUBSCRIBE (Mesos's scheduler API; docs/scheduler-api.md), for a framework
 * already checked to be subscribed on the caller's stream: one module per call, and this table to
 * find it. Asynchronous calls answer 202 (acceptance, not completion: outcomes arrive as events);
 * UPDATE_FRAMEWORK answers synchronously.
 *
 * A framework can only touch its own offers and tasks: offers are checked against the framework when
 * the ACCEPT is planned and again in the ledger write, and tasks are looked up under the framework's
 * own id (another framework's task id is simply unknown to it).
 */
import type { FrameworkRecord } from '../registrar/index.js';
import type { Master } from '../master/master.js';
import { accept } from './accept.js';
import { acknowledge } from './acknowledge.js';
import { decline } from './decline.js';
import { acceptInverseOffers, declineInverseOffers } from './inverse-offers.js';
import { kill } from './kill.js';
import { message } from './message.js';
import { pendingReasons } from './pending.js';
import { reconcileCall } from './reconcile.js';
import { reconcileOperations } from './reconcile-operations.js';
import { request } from './request.js';
import { ACCEPTED, type CallResponse } from './responses.js';
import { revive } from './revive.js';
import { shutdown } from './shutdown.js';
import { suppress } from './suppress.js';
import { teardown } from './teardown.js';
import type { Authority } from './task-authorization.js';
import { updateFramework } from './update-framework.js';
import type { CallOf, FrameworkCall } from './validation.js';

type CallHandler<T extends FrameworkCall['type']> = (
  master: Master,
  framework: FrameworkRecord,
  call: CallOf<T>,
  authority: Authority,
) => Promise<CallResponse>;

// Operation feedback is not retried: nothing to do.
const nothingToDo = async (): Promise<CallResponse> => ACCEPTED;

const HANDLERS: { readonly [T in FrameworkCall['type']]: CallHandler<T> } = {
  TEARDOWN: teardown,
  ACCEPT: accept,
  DECLINE: decline,
  REVIVE: revive,
  SUPPRESS: suppress,
  KILL: kill,
  SHUTDOWN: shutdown,
  ACKNOWLEDGE: acknowledge,
  RECONCILE: reconcileCall,
  MESSAGE: message,
  REQUEST: request,
  UPDATE_FRAMEWORK: updateFramework,
  RECONCILE_OPERATIONS: reconcileOperations,
  ACCEPT_INVERSE_OFFERS: acceptInverseOffers,
  DECLINE_INVERSE_OFFERS: declineInverseOffers,
  ACKNOWLEDGE_OPERATION_STATUS: nothingToDo,
  GET_PENDING_REASONS: pendingReasons,
};

/** Dispatches a call; `authority` is what its caller may do (the ACL it is authorized against). */
export async function handleCall(
  master: Master,
  framework: FrameworkRecord,
  call: FrameworkCall,
  authority: Authority,
): Promise<CallResponse> {
  master.metrics.increment(`master/frameworks/calls/${call.type}`);
  // The table pairs each type with its handler; TypeScript cannot follow that pairing through a union.
  const handler = HANDLERS[call.type] as CallHandler<FrameworkCall['type']>;
  return handler(master, framework, call, authority);
}
