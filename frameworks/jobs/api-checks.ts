/**
 * The Jobs REST API's checks (api.ts uses them): who the caller is and which queues it may use, JSON
 * bodies, query parameters, and errors as JSON `{"message": "…"}` with the right status, as Marathon
 * answers (the master's scheduler API answers plain text, as Mesos does; this API is Marathon's kind).
 */
import type { Context, MiddlewareHandler } from 'hono';
import { createMiddleware } from 'hono/factory';
import { allowsRole } from '#shared/acl.js';
import { problem, type Caller } from '../common/api.js';
import type { JobsService } from './service.js';

export {
  authenticated,
  jsonBody,
  problem,
  queryParameters,
  REALM,
  type AuthenticationOptions,
  type Caller,
} from '../common/api.js';

export interface JobsEnv {
  Variables: { caller: Caller; jobs: JobsService };
}

export type JobsContext = Context<JobsEnv>;
type Check = MiddlewareHandler<JobsEnv>;

/** 503 while the Jobs service does not run beside this master (`c.get('jobs')` otherwise). */
export function available(
  service: (() => JobsService | undefined | Promise<JobsService | undefined>) | undefined,
): Check {
  return createMiddleware<JobsEnv>(async (c, next) => {
    const jobs = await service?.();
    if (!jobs) return problem(c, 503, 'Mantle Jobs is not running here');
    c.set('jobs', jobs);
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
