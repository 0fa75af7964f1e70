/**
 * The REST APIs of the built-in frameworks (Mantle Jobs, Mantle Services' Marathon API): who the caller is, JSON
 * bodies, query parameters, and errors as JSON `{"message": "…"}` with the right status, as Marathon answers
 * (the master's scheduler API answers plain text, as Mesos does; these APIs are Marathon's kind).
 */
import type { Context, MiddlewareHandler } from 'hono';
import { createMiddleware } from 'hono/factory';
import type { Acl } from '#shared/acl.js';
import type { Metrics } from '#shared/metrics.js';
import type { Authenticator } from '../../functions/master/auth.js';
import type { MasterConfig } from '../../functions/master/config.js';
import { authorityOf } from '../../functions/scheduler/task-authorization.js';

/** The master's realm: the same credentials as its scheduler API (and what API Gateway's 401 names). */
export const REALM = 'mesos-master-scheduler';

/** Who calls, and what it may use. */
export interface Caller {
  /** The authenticated principal; undefined with authentication off. */
  readonly principal: string | undefined;
  /** An operator principal, or anyone with authentication off: every queue, and queue quota. */
  readonly operator: boolean;
  /** Its roles (its queues): the principal's, or the cluster ACL's without authentication. */
  readonly acl: Pick<Acl, 'roles'>;
}

export interface CallerEnv {
  Variables: { caller: Caller };
}

/** An error as Marathon answers one: `{"message": "…"}`. */
export function problem(c: Context, status: number, message: string, headers: Record<string, string> = {}): Response {
  return c.json({ message }, status as 400, headers);
}

export interface AuthenticationOptions {
  readonly config: Pick<MasterConfig, 'authenticate' | 'acls'>;
  readonly metrics: Pick<Metrics, 'increment'>;
  readonly authenticator: Authenticator;
}

/**
 * The caller (`c.get('caller')`): with authentication on, a framework or operator principal (HTTP Basic
 * or Bearer, as on the scheduler API), else 401 with a Basic challenge, 403 for an agent; with
 * authentication off, anyone, allowed everything (as the scheduler API then allows any role).
 */
export function authenticated<E extends CallerEnv>(options: AuthenticationOptions): MiddlewareHandler<E> {
  return createMiddleware<E>(async (context, next) => {
    const c = context as unknown as Context<CallerEnv>;
    if (!options.config.authenticate) {
      c.set('caller', { principal: undefined, operator: true, acl: { roles: ['*'] } });
      return next();
    }
    const result = await options.authenticator.authenticate(c.req.header('authorization'), ['framework', 'operator']);
    if (!result.ok) {
      options.metrics.increment('master/http_authentication_failures');
      return result.error.code === 'UNAUTHENTICATED'
        ? problem(c, 401, result.error.message, { 'WWW-Authenticate': `Basic realm="${REALM}"` })
        : problem(c, 403, result.error.message);
    }
    const authority = authorityOf(options.config.acls, result.value);
    c.set('caller', { principal: result.value.principal, operator: authority.operator, acl: authority.acl });
    await next();
  });
}

/** The request's JSON body (`c.get` cannot carry unknown; the handler calls this): 415, 400, or the value. */
export async function jsonBody(c: Context): Promise<{ ok: true; value: unknown } | { ok: false; response: Response }> {
  const contentType = c.req.header('content-type');
  const mediaType = contentType?.split(';')[0]?.trim().toLowerCase();
  if (mediaType !== 'application/json') {
    const given = mediaType ? `'${mediaType}'` : 'none';
    return { ok: false, response: problem(c, 415, `Expecting Content-Type application/json (got ${given})`) };
  }
  const body = await c.req.text();
  try {
    return { ok: true, value: JSON.parse(body) as unknown };
  } catch (error) {
    return { ok: false, response: problem(c, 400, `Invalid JSON: ${(error as Error).message}`) };
  }
}

/**
 * The query's parameters, each at most once, none but `allowed` (a misspelt `?status=` must not silently
 * list everything): the values, or the message of a 400.
 */
export function queryParameters(c: Context, allowed: readonly string[]): Record<string, string> | string {
  const values: Record<string, string> = {};
  for (const [name, given] of Object.entries(c.req.queries())) {
    if (!allowed.includes(name)) {
      const known = allowed.length > 0 ? ` (known: ${allowed.join(', ')})` : '';
      return `Unknown query parameter '${name}'${known}`;
    }
    if (given.length > 1) return `Query parameter '${name}' is given more than once`;
    values[name] = given[0] ?? '';
  }
  return values;
}
