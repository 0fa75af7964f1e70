/**
 * What an operator call answers (Mesos `Master::Http::api`): 200 with a v1 `Response` in JSON
 * (`{"type":"GET_HEALTH","get_health":{…}}`), 200 or 202 with no body for the calls that change state
 * (202 where Mesos applies the change on the agent afterwards: reservations and volumes), a plain-text
 * error with Mesos's status code, or a stream (SUBSCRIBE). Pure.
 */

export type OperatorResponse =
  | { readonly kind: 'json'; readonly status: 200; readonly body: Readonly<Record<string, unknown>> }
  | { readonly kind: 'empty'; readonly status: 200 | 202 }
  | { readonly kind: 'error'; readonly status: 400 | 403 | 404 | 409 | 501 | 503; readonly message: string }
  | {
      readonly kind: 'stream';
      readonly body: ReadableStream<Uint8Array>;
      readonly headers: Readonly<Record<string, string>>;
    };

/** A v1 `Response` of `type` whose sub-message is `field` (`get_health`, `get_state`, …). */
export function respond(type: string, field: string, value: unknown): OperatorResponse {
  return { kind: 'json', status: 200, body: { type, [field]: value } };
}

/** A v1 `Response` with a type and no sub-message. */
export function respondType(type: string): OperatorResponse {
  return { kind: 'json', status: 200, body: { type } };
}

export const OK: OperatorResponse = { kind: 'empty', status: 200 };
export const ACCEPTED: OperatorResponse = { kind: 'empty', status: 202 };

export function refuse(
  status: Extract<OperatorResponse, { kind: 'error' }>['status'],
  message: string,
): OperatorResponse {
  return { kind: 'error', status, message };
}

export const badRequest = (message: string): OperatorResponse => refuse(400, message);
export const notFound = (message: string): OperatorResponse => refuse(404, message);
export const conflict = (message: string): OperatorResponse => refuse(409, message);
