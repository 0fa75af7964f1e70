/**
 * The Jobs REST API's checks (api.ts uses them): who the caller is and which queues it may use, JSON
 * bodies, query parameters, and errors as JSON `{"message": "…"}` with the right status, as Marathon
 * answers (the master's scheduler API answers plain text, as Mesos does; this API is Marathon's kind).
 */
import type { Context, MiddlewareHandler } from 'hono';
import { createMiddleware } from 'hono/factory';
import { allowsRole, type Acl } from '#shared/acl.js';
import type { Metrics } from '#shared/metrics.js';
import type { Authenticator } from '../../functions/master/auth.js';
import type { MasterConfig } from '../../functions/master/config.js';
import { authorityOf } from '../../functions/scheduler/task-authorization.js';
import type { JobsService } from './service.js';

export const REALM = 'mantle-jobs';

/** Who calls, and what it may use. */
export interface Caller {
  /** The authenticated principal; undefined with authentication off. */
  readonly principal: string | undefined;
  /** An operator principal, or anyone with authentication off: every queue, and queue quota. */
  readonly operator: boolean;
  /** Its roles (its queues): the principal's, or the cluster ACL's without authentication. */
  readonly acl: Pick<Acl, 'roles'>;
}

export interface JobsEnv {
  Variables: { caller: Caller; jobs: JobsService };
}

export type JobsContext = Context<JobsEnv>;
type Check = MiddlewareHandler<JobsEnv>;

/** An error as Marathon answers one: `{"message": "…"}`. */
export function problem(c: Context, status: number, message: string, headers: Record<string, string> = {}): Response {
  return c.json({ message }, status as 400, headers);
}

/** 503 while the Jobs service does not run beside this master (`c.get('jobs')` otherwise). */
export function available(service: (() => JobsService | undefined) | undefined): Check {
  return createMiddleware<JobsEnv>(async (c, next) => {
    const jobs = service?.();
    if (!jobs) return problem(c, 503, 'Mantle Jobs is not running here');
    c.set('jobs', jobs);
    await next();
  });
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
export function authenticated(options: AuthenticationOptions): Check {
  return createMiddleware<JobsEnv>(async (c, next) => {
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

/** Whether the caller may use a queue: its roles are its queues (operators: every queue). */
export function mayUseQueue(caller: Caller, queue: string): boolean {
  return caller.operator || allowsRole(caller.acl, queue);
}

/** The queues a caller sees in lists: undefined for all of them. */
export function visibleQueues(caller: Caller): readonly string[] | undefined {
  return caller.operator || caller.acl.roles.includes('*') ? undefined : caller.acl.roles;
}

export function queueRefused(c: Context, caller: Caller, queue: string): Response {
  return problem(
    c,
    403,
    `Principal '${caller.principal ?? ''}' may not use queue '${queue}': it is not one of its roles`,
  );
}

/** PUT /queues sets quota: operators only (with authentication off, anyone). */
export const operatorOnly: Check = createMiddleware<JobsEnv>(async (c, next) => {
  const caller = c.get('caller');
  if (!caller.operator) {
    return problem(
      c,
      403,
      `Principal '${caller.principal ?? ''}' may not set a queue's weight and quota: only an operator principal may`,
    );
  }
  await next();
});

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

/** 405 with the methods a path has. */
export function methodNotAllowed(methods: readonly string[]): Check {
  return createMiddleware<JobsEnv>((c) =>
    Promise.resolve(
      problem(c, 405, `Method ${c.req.method} is not allowed here (allowed: ${methods.join(', ')})`, {
        Allow: methods.join(', '),
      }),
    ),
  );
}
