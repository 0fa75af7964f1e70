/**
 * The master's one HTTP surface (a hono app), served by @hono/node-server in the local cluster, by
 * Lambda behind API Gateway (functions/api.ts), and in-process in the tests.
 *
 *   POST /api/v1/scheduler            the Mesos v1 scheduler API (SUBSCRIBE streams RecordIO)
 *   POST /internal/v1/agents/register agents register and re-register
 *   GET  /health, /master/health      liveness
 *   GET  /metrics/snapshot            Mesos-named metrics, flat JSON
 *
 * Agents' heartbeats do not come here: they go by SQS (functions/heartbeats.ts).
 *
 * Status codes follow Mesos's scheduler endpoint (spec §1.1): 405, 415, 406, 400, 401, 403, 501,
 * 202 / 200. Error bodies are plain text, as Mesos's are.
 */
import { Hono, type Context } from 'hono';
import { HTTPException } from 'hono/http-exception';
import { describeZodError } from '../../shared/protocol/errors.js';
import { RegisterAgentRequestSchema } from '../../shared/protocol/internal.js';
import { CallSchema } from '../../shared/protocol/scheduler.js';
import { checkSubscription, type PrincipalKind, type PrincipalRecord } from '../registrar/index.js';
import { registerAgent } from '../master/agents.js';
import { Authenticator } from '../master/auth.js';
import type { Master } from '../master/master.js';
import { handleCall } from '../scheduler/calls.js';
import { subscribe } from '../scheduler/subscribe.js';
import { validateCall } from '../scheduler/validation.js';

const REALM = 'mesos-master-scheduler';

function text(c: Context, status: number, message: string, headers: Record<string, string> = {}): Response {
  return c.body(message, status as 400, { 'Content-Type': 'text/plain; charset=utf-8', ...headers });
}

/** Reads the body, refusing more than `limit` bytes. */
async function readBody(c: Context, limit: number): Promise<string | undefined> {
  const declared = Number(c.req.header('content-length') ?? '0');
  if (declared > limit) return undefined;
  const body = await c.req.text();
  return Buffer.byteLength(body) > limit ? undefined : body;
}

function acceptsJson(accept: string | undefined): boolean {
  if (!accept) return true;
  return accept
    .split(',')
    .map((part) => part.split(';')[0]?.trim().toLowerCase())
    .some((type) => type === 'application/json' || type === '*/*' || type === 'application/*');
}

export function createApp(master: Master): Hono {
  const app = new Hono();
  const authenticator = new Authenticator(master.registrar, () => master.now());

  /** The authenticated principal, undefined with authentication off, or a 401/403 response. */
  async function authenticate(c: Context, kinds: PrincipalKind[]): Promise<PrincipalRecord | undefined | Response> {
    if (!master.config.authenticate) return undefined;
    const result = await authenticator.authenticate(c.req.header('authorization'), kinds);
    if (result.ok) return result.value;
    master.metrics.increment('master/http_authentication_failures');
    return result.error.code === 'UNAUTHENTICATED'
      ? text(c, 401, result.error.message, { 'WWW-Authenticate': `Basic realm="${REALM}"` })
      : text(c, 403, result.error.message);
  }

  app.get('/health', (c) => c.text('OK'));
  app.get('/master/health', (c) => c.text('OK'));
  app.get('/metrics/snapshot', (c) => c.json(master.metrics.snapshot()));

  app.all('/api/v1/scheduler', async (c) => {
    if (c.req.method !== 'POST') return text(c, 405, 'Expecting a POST request', { Allow: 'POST' });
    const contentType = c.req.header('content-type');
    if (!contentType) return text(c, 400, "Expecting 'Content-Type' to be present");
    const mediaType = contentType.split(';')[0]?.trim().toLowerCase();
    if (mediaType !== 'application/json') {
      return text(c, 415, `Unsupported media type '${mediaType ?? ''}': Mantle speaks application/json`);
    }
    const principal = await authenticate(c, ['framework', 'operator']);
    if (principal instanceof Response) return principal;

    const body = await readBody(c, master.config.maxBodyBytes);
    if (body === undefined) return text(c, 413, `Request body over ${master.config.maxBodyBytes} bytes`);
    let json: unknown;
    try {
      json = JSON.parse(body);
    } catch (error) {
      return text(c, 400, `Failed to parse body into JSON: ${(error as Error).message}`);
    }
    const parsed = CallSchema.safeParse(json);
    if (!parsed.success) return text(c, 400, `Failed to convert JSON into Call: ${describeZodError(parsed.error)}`);
    const validated = validateCall(parsed.data, principal?.principal);
    if (!validated.ok) return text(c, validated.error.status, validated.error.message);
    const call = validated.value;

    if (call.type === 'SUBSCRIBE') {
      if (!acceptsJson(c.req.header('accept'))) {
        return text(c, 406, "Expecting 'Accept' to allow application/json");
      }
      if (c.req.header('mesos-stream-id') !== undefined) {
        return text(c, 400, "Subscribe calls should not include the 'Mesos-Stream-Id' header");
      }
      const result = await subscribe(master, call, principal);
      return new Response(result.body, {
        status: 200,
        headers: {
          'Content-Type': 'application/json',
          'Mesos-Stream-Id': result.streamId,
          'Cache-Control': 'no-cache',
        },
      });
    }

    const frameworkId = call.framework_id.value;
    const framework = await master.registrar.frameworks.get(frameworkId);
    if (!framework) return text(c, 400, 'Framework cannot be found');
    if (principal && framework.principal !== principal.principal) {
      return text(
        c,
        400,
        `Authenticated principal '${principal.principal}' does not match principal '${framework.principal}' set in 'FrameworkInfo'`,
      );
    }
    const streamId = c.req.header('mesos-stream-id');
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
    const response = await handleCall(master, framework, call);
    return response.body !== undefined ? text(c, response.status, response.body) : c.body(null, response.status);
  });

  app.post('/internal/v1/agents/register', async (c) => {
    const principal = await authenticate(c, ['agent']);
    if (principal instanceof Response) return principal;
    const parsed = RegisterAgentRequestSchema.safeParse(await c.req.json().catch(() => undefined));
    if (!parsed.success) return text(c, 400, `Invalid registration: ${describeZodError(parsed.error)}`);
    const result = await registerAgent(master, parsed.data, principal?.principal ?? '');
    if (!result.ok) return text(c, result.error.status, `${result.error.code}: ${result.error.message}`);
    return c.json(result.value);
  });

  app.notFound((c) => text(c, 404, 'Not found'));
  app.onError((error, c) => {
    if (error instanceof HTTPException) return error.getResponse();
    master.logger.error('Request failed', { path: c.req.path, error: String(error), stack: (error as Error).stack });
    master.metrics.increment('master/http_errors');
    return text(c, 500, 'Internal error; see the master logs');
  });
  return app;
}
