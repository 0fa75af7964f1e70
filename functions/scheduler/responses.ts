/**
 * What a scheduler call answers (Mesos's scheduler endpoint): 202 for the asynchronous calls — the
 * call was accepted, its outcomes arrive as events — 200 for UPDATE_FRAMEWORK, 400, 403 or 409 with a
 * plain-text reason.
 */
export interface CallResponse {
  readonly status: 200 | 202 | 400 | 403 | 409;
  readonly body?: string;
  /** A JSON answer (200), for the calls that return something (Mantle's GET_PENDING_REASONS). */
  readonly json?: unknown;
}

export const ACCEPTED: CallResponse = { status: 202 };

export function badRequest(message: string): CallResponse {
  return { status: 400, body: message };
}

export function forbidden(message: string): CallResponse {
  return { status: 403, body: message };
}
