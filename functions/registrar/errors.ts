/** The domain failures of the registrar: returned as values, never thrown. I/O faults still throw. */
import { failure as fail, type Failure } from '#shared/result.js';

export type RegistrarErrorCode =
  | 'INVALID_ARGUMENT'
  | 'INVALID_RESOURCES'
  | 'UNKNOWN_AGENT'
  | 'AGENT_GONE'
  | 'AGENT_NOT_ACTIVE'
  | 'AGENT_ALIVE'
  | 'VERSION_CONFLICT'
  | 'INSUFFICIENT_RESOURCES'
  | 'OFFER_GONE'
  | 'OFFER_NOT_OWNED'
  | 'DUPLICATE_TASK'
  | 'LAUNCH_DROPPED'
  | 'LEDGER_FULL'
  | 'UNKNOWN_TASK'
  | 'ILLEGAL_TRANSITION'
  | 'UNKNOWN_FRAMEWORK'
  | 'FRAMEWORK_REMOVED'
  | 'PRINCIPAL_MISMATCH'
  | 'INSTANCE_MISMATCH'
  | 'AGENT_MISMATCH'
  | 'NOT_SUBSCRIBED'
  | 'STREAM_MISMATCH'
  | 'INVALID_ROLE'
  | 'INVALID_QUOTA'
  | 'PRINCIPAL_EXISTS'
  | 'UNKNOWN_PRINCIPAL'
  | 'UNAUTHENTICATED';

export type RegistrarError<C extends RegistrarErrorCode = RegistrarErrorCode> = Failure<C>;

/** A registrar failure (`failure` of shared/result.ts, its code one of the registrar's). */
export function failure<C extends RegistrarErrorCode>(
  code: C,
  message: string,
): { readonly ok: false; readonly error: RegistrarError<C> } {
  return fail(code, message);
}
