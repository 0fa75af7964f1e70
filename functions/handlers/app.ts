/**
 * The master's one HTTP surface (a hono app), served by @hono/node-server in the local cluster, by
 * Lambda behind API Gateway (functions/handlers/api.ts), and in-process in the tests.
 *
 *   POST /api/v1/scheduler            the Mesos v1 scheduler API (SUBSCRIBE streams RecordIO, or answers JSON
 *                                     for a queue-delivered framework)
 *   POST /api/v1                      the Mesos v1 operator API (operator-route.ts, functions/operator/)
 *   POST /internal/v1/agents/register agents register and re-register (agent-route.ts says who may)
 *   GET  /health, /master/health      liveness (public)
 *   GET  /metrics/snapshot            Mesos-named metrics, flat JSON (operators, with authentication on)
 *   GET  /metrics                     the same in Prometheus's text format (operators)
 *   /api/jobs/v1/...                  the Mantle Jobs REST API (frameworks/jobs/api.ts), where Jobs runs
 *   /v2/..., GET /ping                Marathon's v2 REST API over Mantle Services (frameworks/services/api.ts)
 *   GET  /files/browse|read|download  Mesos's files API over the tasks' shipped stdout/stderr (files-route.ts)
 *   GET  /, /ui/..., /assets/...      the web UI (ui-route.ts), where its build is given
 *
 * Every route refuses a body over `maxBodyBytes` (413) before anything reads it.
 *
 * Agents' heartbeats do not come here: they go by SQS (functions/handlers/heartbeats.ts).
 *
 * The scheduler route's checks are middleware (scheduler-route.ts), its media types (JSON or protobuf)
 * wire.ts's; status codes follow Mesos's
 * scheduler endpoint: 405, 415, 406, 400, 401, 403, 501, 202 / 200. Error bodies are plain text, as
 * Mesos's are; the Jobs API's are JSON `{"message": …}`, as Marathon's are.
 */
import { Hono, type Context, type MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { HTTPException } from 'hono/http-exception';
import { describeZodError } from '#shared/protocol/errors.js';
import { RegisterAgentRequestSchema } from '#shared/protocol/internal.js';
import { EVENT_DELIVERY_HEADER } from '#shared/protocol/scheduler.js';
import { registerAgent } from '../master/agents.js';
import { Authenticator } from '../master/auth.js';
import { JOBS_API_PATH, jobsApi } from '../../frameworks/jobs/api.js';
import type { JobsService } from '../../frameworks/jobs/service.js';
import { servicesApi } from '../../frameworks/services/api.js';
import type { ServicesService } from '../../frameworks/services/service.js';
import type { Master } from '../master/master.js';
import { agentCaller } from './agent-route.js';
import { correlated } from './request-context.js';
import { addToLogContext } from '#shared/log-context.js';
import { mountOperatorApi } from './operator-route.js';
import { FILES_PATH, filesRoutes } from './files-route.js';
import { mountUi, type UiAssets } from './ui-route.js';
import { handleCall } from '../scheduler/calls.js';
import { subscribe } from '../scheduler/subscribe.js';
import { subscribeCapExceeded } from '../scheduler/subscribe-caps.js';
import {
  parseDeliveryHeader,
  queueDelivery,
  queueSubscriptionResponse,
  streamDelivery,
} from '../scheduler/delivery.js';
import {
  authenticated,
  authorized,
  callBody,
  isSubscribe,
  postOnly,
  subscribeHeaders,
  subscribedFramework,
  text,
  validCall,
  type MasterEnv,
} from './scheduler-route.js';
import { acceptedFormat, answer, notAcceptable, reencoded, streamOf } from './wire.js';

/** 413, in the error style of the API asked: JSON for the Jobs API, plain text elsewhere. */
function tooLarge(c: Context, limit: number): Response {
  const message = `Request body over ${limit} bytes`;
  const json = c.req.path.startsWith(`${JOBS_API_PATH}/`) || c.req.path.startsWith('/v2/');
  return json ? c.json({ message }, 413) : text(c, 413, message);
}

/**
 * A 401 to a page's script (`X-Requested-With: XMLHttpRequest`, which the web UI sends) carries no
 * `WWW-Authenticate: Basic` challenge, so the browser shows the page's own sign-in form instead of its
 * Basic prompt; every other client gets Mesos's challenge as before.
 */
const noChallengeForScripts: MiddlewareHandler = async (c, next) => {
  await next();
  if (c.res.status === 401 && c.req.header('X-Requested-With') === 'XMLHttpRequest') {
    c.res.headers.delete('WWW-Authenticate');
  }
};

export interface AppOptions {
  /**
   * The Mantle Jobs service, where it runs beside this master; while it answers undefined (not started
   * yet, or not deployed here), /api/jobs/v1 answers 503. Late-bound: the local cluster starts Jobs after
   * the app serves.
   */
  readonly jobs?: () => JobsService | undefined | Promise<JobsService | undefined>;
  /** The web UI's built files (loadUiAssets); without them the master serves no UI. */
  readonly ui?: UiAssets;
  /** Mantle Services, likewise: /v2 answers 503 while it answers undefined. */
  readonly services?: () => ServicesService | undefined | Promise<ServicesService | undefined>;
}

/** The master, with Mantle Jobs' pending jobs where Jobs runs here (GET_PENDING_REASONS joins them). */
function withPendingJobs(master: Master, jobs: AppOptions['jobs']): Master {
  if (!jobs) return master;
  return {
    ...master,
    pendingJobs: async (limit) => {
      const service = await jobs();
      if (!service) return [];
      const { jobs: pending } = await service.list({ state: 'PENDING', limit });
      // A job just submitted has no reason yet (Jobs gives one at its next look at the offers).
      return pending.flatMap((job) =>
        job.pending_reason
          ? [{ id: job.id, name: job.name, queue: job.queue, reason: job.pending_reason, createdAt: job.created_at }]
          : [],
      );
    },
  };
}

/** A scheduler call, logged (debug) in its request's scope, which now has the framework's id too. */
function logCall(master: Master, frameworkId: string | undefined, type: string): void {
  addToLogContext({ framework_id: frameworkId });
  master.logger.debug('Scheduler call', { type });
}

/** Agents register (and re-register) here, authenticated as agents. */
function mountAgentRegistration(app: Hono<MasterEnv>, master: Master, authenticator: Authenticator): void {
  app.post('/internal/v1/agents/register', agentCaller(master, authenticator), async (c) => {
    const parsed = RegisterAgentRequestSchema.safeParse(await c.req.json().catch(() => undefined));
    if (!parsed.success) return text(c, 400, `Invalid registration: ${describeZodError(parsed.error)}`);
    const identity = c.get('agentIdentity');
    const result = await registerAgent(master, parsed.data, {
      principal: identity?.arn ?? c.get('principal')?.principal ?? '',
      ...(identity ? { identity } : {}),
    });
    if (!result.ok) return text(c, result.error.status, `${result.error.code}: ${result.error.message}`);
    return c.json(result.value);
  });
}

/** The built-in frameworks' REST APIs: Mantle Jobs', and Marathon's over Mantle Services. */
function mountFrameworkApis(app: Hono<MasterEnv>, master: Master, options: AppOptions, authenticator: Authenticator) {
  const common = { config: master.config, metrics: master.metrics, logger: master.logger, authenticator };
  app.route(JOBS_API_PATH, jobsApi({ ...common, jobs: options.jobs }));
  // Marathon's liveness probe: public, as Marathon's is.
  app.get('/ping', (c) => c.text('pong'));
  const frameworkId = async () => (await options.services?.())?.frameworkId();
  app.route('/v2', servicesApi({ ...common, services: options.services, frameworkId }));
}

export function createApp(master: Master, options: AppOptions = {}): Hono<MasterEnv> {
  const app = new Hono<MasterEnv>();
  const authenticator = new Authenticator(master.registrar);
  const limit = master.config.maxBodyBytes;

  app.use('*', correlated, bodyLimit({ maxSize: limit, onError: (c) => tooLarge(c, limit) }), noChallengeForScripts);
  for (const path of ['/health', '/master/health']) app.get(path, (c) => c.text('OK'));

  app.all(
    '/api/v1/scheduler',
    postOnly,
    callBody,
    authenticated(master, authenticator, ['framework', 'operator']),
    authorized(master),
    validCall(master),
    subscribedFramework(master),
    async (c) => {
      const call = c.get('call');
      logCall(master, c.get('framework')?.frameworkId ?? call.framework_id?.value, call.type);
      if (!isSubscribe(call)) {
        const response = await handleCall(master, c.get('framework'), call, c.get('authority'));
        if (response.json !== undefined) {
          const format = acceptedFormat(c);
          if (!format) return notAcceptable(c);
          return answer(c, format, 'mesos.v1.scheduler.Response', response.json as object);
        }
        return response.body !== undefined ? text(c, response.status, response.body) : c.body(null, response.status);
      }
      const refused = subscribeHeaders(c);
      if (refused) return refused;
      const delivery = parseDeliveryHeader(c.req.header(EVENT_DELIVERY_HEADER));
      if (!delivery.ok) return text(c, 400, delivery.error);
      const stream = delivery.value === undefined;
      const capped = await subscribeCapExceeded(master, call, c.get('authority').principal, stream);
      if (capped) {
        master.metrics.increment('master/framework_subscribe_errors');
        return text(c, 429, capped);
      }
      // subscribeHeaders refused a client that accepts neither.
      const format = acceptedFormat(c) ?? 'json';
      if (delivery.value !== undefined) {
        const subscribed = await subscribe(master, call, c.get('authority'), queueDelivery(delivery.value));
        return reencoded(queueSubscriptionResponse(subscribed), format, 'mesos.v1.scheduler.Event');
      }
      const result = await subscribe(master, call, c.get('authority'), streamDelivery);
      return streamOf(format, 'mesos.v1.scheduler.Event', result.body, {
        'Mesos-Stream-Id': result.streamId,
        'Cache-Control': 'no-cache',
      });
    },
  );

  mountOperatorApi(app, withPendingJobs(master, options.jobs), authenticator);

  mountAgentRegistration(app, master, authenticator);

  app.route(FILES_PATH, filesRoutes(master, authenticator));
  mountFrameworkApis(app, master, options, authenticator);

  if (options.ui) mountUi(app, options.ui);

  app.notFound((c) => text(c, 404, 'Not found'));
  app.onError((error, c) => {
    if (error instanceof HTTPException) return error.getResponse();
    master.logger.error('Request failed', { path: c.req.path, error: String(error), stack: (error as Error).stack });
    master.metrics.increment('master/http_errors');
    return text(c, 500, 'Internal error; see the master logs');
  });
  return app;
}
