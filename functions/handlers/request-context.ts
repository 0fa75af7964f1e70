/**
 * Every request to the master's app gets a correlation id, its log scope (shared/log-context.ts) and the
 * `X-Request-Id` response header: the caller's own `X-Request-Id` when it is a sane token, else the trace id of its
 * W3C `traceparent`, else API Gateway's request id, else a new UUID. The id travels on every queue message the
 * request leads to (launches, kills, the framework's events), so one grep follows a call through every hop.
 */
import { randomUUID } from 'node:crypto';
import { createMiddleware } from 'hono/factory';
import { inLogContext } from '#shared/log-context.js';

export const REQUEST_ID_HEADER = 'X-Request-Id';

/** What a caller's id may be: printable ASCII without spaces, bounded (it lands in logs and message attributes). */
const REQUEST_ID = /^[!-~]{1,128}$/;

/** W3C Trace Context: version-traceid-parentid-flags; an all-zero trace id is invalid. */
const TRACEPARENT = /^[\da-f]{2}-([\da-f]{32})-[\da-f]{16}-[\da-f]{2}$/;

export interface RequestIds {
  readonly requestId?: string;
  readonly traceparent?: string;
  /** API Gateway's `requestContext.requestId`, in Lambda. */
  readonly gatewayRequestId?: string;
}

export function correlationId(ids: RequestIds): string {
  const own = ids.requestId?.trim();
  if (own && REQUEST_ID.test(own)) return own;
  const trace = TRACEPARENT.exec(ids.traceparent?.trim().toLowerCase() ?? '')?.[1];
  if (trace && !/^0+$/.test(trace)) return trace;
  if (ids.gatewayRequestId && REQUEST_ID.test(ids.gatewayRequestId)) return ids.gatewayRequestId;
  return randomUUID();
}

/** hono/aws-lambda binds the API Gateway event as `env.event`; elsewhere there is none. */
function gatewayRequestId(env: unknown): string | undefined {
  return (env as { event?: { requestContext?: { requestId?: unknown } } } | undefined)?.event?.requestContext
    ?.requestId as string | undefined;
}

/** The middleware: a fresh scope per request (nothing of a caller in the same process leaks in). */
export const correlated = createMiddleware(async (c, next) => {
  const gateway = gatewayRequestId(c.env);
  const id = correlationId({
    requestId: c.req.header(REQUEST_ID_HEADER),
    traceparent: c.req.header('traceparent'),
    ...(typeof gateway === 'string' ? { gatewayRequestId: gateway } : {}),
  });
  c.header(REQUEST_ID_HEADER, id);
  await inLogContext({ correlation_id: id }, () => next());
});
