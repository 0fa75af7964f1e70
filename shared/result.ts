/**
 * The one failure style of Mantle's code: an operation whose failures belong to the domain (invalid
 * input, a lost race, an unknown id) returns a `Result`, its error a `Failure` with a typed `code` that
 * callers branch on and a `message` for people. Exceptions are left for faults — I/O errors, retries
 * exhausted under contention, defects — which the edges turn into a 500 or an SQS redelivery.
 */
export type Result<T, E> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: E };

/** A domain failure: what went wrong (`code`, for code) and why (`message`, for people). */
export interface Failure<C extends string = string> {
  readonly code: C;
  readonly message: string;
}

export function ok<T>(value: T): { readonly ok: true; readonly value: T } {
  return { ok: true, value };
}

export function err<E>(error: E): { readonly ok: false; readonly error: E } {
  return { ok: false, error };
}

/** `err` of a `Failure`: `return failure('UNKNOWN_AGENT', 'Agent a1 is not registered')`. */
export function failure<C extends string>(
  code: C,
  message: string,
): { readonly ok: false; readonly error: Failure<C> } {
  return { ok: false, error: { code, message } };
}
