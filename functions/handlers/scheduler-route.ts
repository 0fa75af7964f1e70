/**
 * The scheduler route's checks, as hono middleware, in Mesos's order (Mesos src/master/http.cpp
 * `Master::Http::scheduler`): the method (405), the media type (400, 415), the caller (401, 403), the
 * body (413), its JSON or protobuf and its Call (400), the call's validation (400, 501); then, for SUBSCRIBE, what
 * the client accepts (JSON or protobuf, else 406) and no stream id (400); for every other call, the framework and its
 * subscription on the caller's stream (400, 403). Each check answers in plain text, as Mesos does, or
 * hands what it found to the next one (`c.get(...)`).
 */
import type { Context, MiddlewareHandler } from 'hono';
import { createMiddleware } from 'hono/factory';
import { describeZodError } from '#shared/protocol/errors.js';
import { bodyFormat, UNSUPPORTED_MEDIA_TYPE, type WireFormat } from '#shared/protocol/media-types.js';
import { CallSchema } from '#shared/protocol/scheduler.js';
import {
  checkSubscription,
  type FrameworkRecord,
  type PrincipalKind,
  type PrincipalRecord,
} from '../registrar/index.js';
import type { AgentIdentity } from '../master/agent-identity.js';
import type { Authenticator } from '../master/auth.js';
import type { Master } from '../master/master.js';
import { authorityOf, type Authority } from '../scheduler/task-authorization.js';
import { validateCall, type SubscribeCall, type ValidCall } from '../scheduler/validation.js';
import { acceptedFormat, notAcceptable, readCall, text } from './wire.js';

export const REALM = 'mesos-master-scheduler';

/** What the checks hand on. */
export interface MasterEnv {
  Variables: {
    /** The authenticated caller; absent with authentication off. */
    principal?: PrincipalRecord;
    /** An agent that proved its AWS identity (agent-route.ts). */
    agentIdentity?: AgentIdentity;
    /** What the caller may do: its principal's ACL over the cluster's (the cluster's alone without authentication). */
    authority: Authority;
    call: ValidCall;
    /** The request body's media type (callBody). */
    bodyFormat: WireFormat;
    framework: FrameworkRecord;
  };
}

type Check = MiddlewareHandler<MasterEnv>;

export { text };

export const postOnly: Check = createMiddleware<MasterEnv>(async (c, next) => {
  if (c.req.method !== 'POST') return text(c, 405, 'Expecting a POST request', { Allow: 'POST' });
  await next();
});

/** The body's media type (`c.get('bodyFormat')`): 400 without a Content-Type, 415 for one Mantle does not speak. */
export const callBody: Check = createMiddleware<MasterEnv>(async (c, next) => {
  const contentType = c.req.header('content-type');
  if (!contentType) return text(c, 400, "Expecting 'Content-Type' to be present");
  const format = bodyFormat(contentType);
  if (!format) return text(c, 415, UNSUPPORTED_MEDIA_TYPE);
  c.set('bodyFormat', format);
  await next();
});

/** Authenticates the caller as one of `kinds` (with authentication on): 401 or 403 otherwise. */
export function authenticated(
  master: Pick<Master, 'config' | 'metrics'>,
  authenticator: Authenticator,
  kinds: PrincipalKind[],
): Check {
  return createMiddleware<MasterEnv>(async (c, next) => {
    if (master.config.authenticate) {
      const result = await authenticator.authenticate(c.req.header('authorization'), kinds);
      if (!result.ok) {
        master.metrics.increment('master/http_authentication_failures');
        return result.error.code === 'UNAUTHENTICATED'
          ? text(c, 401, result.error.message, { 'WWW-Authenticate': `Basic realm="${REALM}"` })
          : text(c, 403, result.error.message);
      }
      c.set('principal', result.value);
    }
    await next();
  });
}

/** The caller's authority (`c.get('authority')`), from its principal's ACL and the cluster's. */
export function authorized(master: Pick<Master, 'config'>): Check {
  return createMiddleware<MasterEnv>(async (c, next) => {
    c.set('authority', authorityOf(master.config.acls, c.get('principal')));
    await next();
  });
}

/** The body, parsed into a Call and validated (`c.get('call')`). */
export function validCall(master: Pick<Master, 'config'>): Check {
  return createMiddleware<MasterEnv>(async (c, next) => {
    const body = await readCall(c, c.get('bodyFormat'), 'mesos.v1.scheduler.Call', master.config.maxBodyBytes);
    if (body instanceof Response) return body;
    const parsed = CallSchema.safeParse(body.json);
    if (!parsed.success) return text(c, 400, `Failed to convert JSON into Call: ${describeZodError(parsed.error)}`);
    const validated = validateCall(parsed.data, c.get('principal')?.principal);
    if (!validated.ok) return text(c, validated.error.status, validated.error.message);
    c.set('call', validated.value);
    await next();
  });
}

/** SUBSCRIBE opens a stream: the client must accept JSON or protobuf, and must not name a stream yet. */
export function subscribeHeaders(c: Context<MasterEnv>): Response | undefined {
  if (!acceptedFormat(c)) return notAcceptable(c);
  if (c.req.header('mesos-stream-id') !== undefined) {
    return text(c, 400, "Subscribe calls should not include the 'Mesos-Stream-Id' header");
  }
  return undefined;
}

export function isSubscribe(call: ValidCall): call is SubscribeCall {
  return call.type === 'SUBSCRIBE';
}

/**
 * Calls that may pass on a framework record read within the last second (the registrar's recent frameworks) when
 * it shows the caller subscribed on its stream: an acknowledgement (three a task) only passes a receipt on, and one
 * that another process's failover or teardown overtook by less than a second is one that came a second sooner.
 * Any other outcome is decided on the record read afresh, which the next ones then use.
 */
const RECENT_RECORD_CALLS: ReadonlySet<ValidCall['type']> = new Set(['ACKNOWLEDGE']);

/** Every call but SUBSCRIBE: its framework (`c.get('framework')`), subscribed on the caller's stream. */
export function subscribedFramework(master: Pick<Master, 'registrar'>): Check {
  return createMiddleware<MasterEnv>(async (c, next) => {
    const call = c.get('call');
    if (isSubscribe(call)) return next();
    const frameworkId = call.framework_id.value;
    const principal = c.get('principal');
    const streamId = c.req.header('mesos-stream-id');
    const { recentFrameworks } = master.registrar;
    const mayBeRecent = RECENT_RECORD_CALLS.has(call.type);
    const recent = mayBeRecent ? await recentFrameworks.get(frameworkId) : undefined;
    const passes =
      recent !== undefined &&
      (!principal || recent.principal === principal.principal) &&
      checkSubscription(recent, frameworkId, streamId).ok;
    const framework = passes
      ? recent
      : mayBeRecent
        ? await recentFrameworks.fresh(frameworkId)
        : await master.registrar.frameworks.get(frameworkId);
    if (!framework) return text(c, 400, 'Framework cannot be found');
    if (principal && framework.principal !== principal.principal) {
      return text(
        c,
        400,
        `Authenticated principal '${principal.principal}' does not match principal '${framework.principal}' set in 'FrameworkInfo'`,
      );
    }
    const subscription = checkSubscription(framework, frameworkId, streamId);
    if (!subscription.ok) {
      switch (subscription.error.code) {
        case 'NOT_SUBSCRIBED':
          return text(c, 403, 'Framework is not subscribed');
        case 'FRAMEWORK_REMOVED':
          return text(c, 400, 'Framework has been removed');
        case 'STREAM_MISMATCH':
          return text(
            c,
            400,
            streamId === undefined
              ? "All non-subscribe calls should include the 'Mesos-Stream-Id' header"
              : `The stream ID '${streamId}' included in this request didn't match the stream ID currently associated with framework ID '${frameworkId}'`,
          );
        default:
          return text(c, 400, subscription.error.message);
      }
    }
    c.set('framework', framework);
    await next();
  });
}
