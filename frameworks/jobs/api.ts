/**
 * The Mantle Jobs REST API (docs/jobs.md "The REST API"), mounted by the master's app at /api/jobs/v1,
 * with the master's authentication:
 *
 *   POST   /jobs                 submit: 201 with the job, Location jobs/{id} (relative: see submit)
 *   GET    /jobs                 ?queue=&state=&parent=&limit=&next= → {"jobs": […], "next": cursor | null}
 *   GET    /jobs/{id}            the job, its attempts oldest first
 *   DELETE /jobs/{id}            cancel (?reason=): 200 with the job; 409 once SUCCEEDED or FAILED
 *   GET    /jobs/{id}/logs       the latest attempt's output (live while it runs), text/plain
 *   GET    /queues               {"queues": […]}
 *   GET    /queues/{name}        a queue: weight, quota, its jobs by state
 *   PUT    /queues/{name}        set weight and quota (operators only: it is quota)
 *
 * A principal uses only the queues that are its roles (operators: every queue). Another queue's job is
 * answered 404, exactly as an unknown id, so ids say nothing about other teams' work; a queue it names
 * itself (submit, ?queue=, /queues/{name}) that is not its own is 403. Errors are JSON
 * `{"message": "…"}`, as Marathon answers them.
 */
import { Hono } from 'hono';
import { JOB_STATES, JobIdSchema, parseJobSpec, parseQueueSpec, validateQueueName, type JobState } from './model.js';
import { isValidCursor, MAX_LIST_LIMIT, type JobsError, type JobsService } from './service.js';
import type { Logger } from '#shared/log.js';
import {
  authenticated,
  available,
  jsonBody,
  mayUseQueue,
  methodNotAllowed,
  operatorOnly,
  problem,
  queryParameters,
  queueRefused,
  visibleQueues,
  type AuthenticationOptions,
  type JobsContext,
  type JobsEnv,
} from './api-checks.js';

export const JOBS_API_PATH = '/api/jobs/v1';
export const DEFAULT_LIST_LIMIT = 100;
const MAX_REASON = 1024;

export interface JobsApiOptions extends AuthenticationOptions {
  /** The service, asked at each request; undefined (or none) where Jobs does not run: every route answers 503. */
  readonly jobs: (() => JobsService | undefined | Promise<JobsService | undefined>) | undefined;
  readonly logger: Logger;
}

const STATUS: Record<JobsError['code'], number> = {
  NOT_FOUND: 404,
  INVALID_JOB: 400,
  INVALID_QUEUE: 400,
  CONFLICT: 409,
};

function failed(c: JobsContext, error: JobsError): Response {
  return problem(c, STATUS[error.code], error.message);
}

function unknownJob(c: JobsContext, id: string): Response {
  return problem(c, 404, `Job '${id.slice(0, 200)}' does not exist`);
}

/** The job named in the path, if it exists and the caller may see it (else the 404 to answer). */
async function visibleJob(c: JobsContext) {
  const id = c.req.param('id') ?? '';
  if (!JobIdSchema.safeParse(id).success) return { response: unknownJob(c, id) };
  const job = await c.get('jobs').get(id);
  if (!job || !mayUseQueue(c.get('caller'), job.queue)) return { response: unknownJob(c, id) };
  return { job };
}

async function submit(c: JobsContext): Promise<Response> {
  const query = queryParameters(c, []);
  if (typeof query === 'string') return problem(c, 400, query);
  const body = await jsonBody(c);
  if (!body.ok) return body.response;
  const spec = parseJobSpec(body.value);
  if (!spec.ok) return problem(c, 400, spec.error.message);
  const caller = c.get('caller');
  if (!mayUseQueue(caller, spec.value.queue)) return queueRefused(c, caller, spec.value.queue);
  const submitted = await c.get('jobs').submit(spec.value);
  if (!submitted.ok) return failed(c, submitted.error);
  // Relative to the request's URL (RFC 9110 allows it): behind an API Gateway stage the app does not see
  // the stage's path prefix, so an absolute path would point outside the API.
  const location = `jobs/${encodeURIComponent(submitted.value.id)}`;
  return c.json(submitted.value, 201, { Location: location });
}

interface ListQuery {
  queue?: string;
  state?: JobState;
  parent?: string;
  limit: number;
  next?: string;
}

/** `GET /jobs`'s parameters, or the message of a 400 naming the bad one. */
export function parseListQuery(values: Record<string, string>): ListQuery | string {
  const query: ListQuery = { limit: DEFAULT_LIST_LIMIT };
  const { queue, state, parent, limit, next } = values;
  if (limit !== undefined) {
    const n = /^\d{1,7}$/.test(limit) ? Number(limit) : NaN;
    if (!(n >= 1 && n <= MAX_LIST_LIMIT))
      return `Query parameter 'limit' must be an integer from 1 to ${MAX_LIST_LIMIT}`;
    query.limit = n;
  }
  if (queue !== undefined) {
    const error = validateQueueName(queue);
    if (error) return `Query parameter 'queue': ${error}`;
    query.queue = queue;
  }
  if (state !== undefined) {
    if (!(JOB_STATES as readonly string[]).includes(state)) {
      return `Query parameter 'state' must be one of ${JOB_STATES.join(', ')}`;
    }
    query.state = state as JobState;
  }
  if (parent !== undefined) {
    if (!JobIdSchema.safeParse(parent).success) return `Query parameter 'parent' must be a job id`;
    query.parent = parent;
  }
  if (next !== undefined) {
    if (!isValidCursor(next)) return `Query parameter 'next' must be the 'next' of a previous page`;
    query.next = next;
  }
  return query;
}

async function list(c: JobsContext): Promise<Response> {
  const values = queryParameters(c, ['queue', 'state', 'parent', 'limit', 'next']);
  if (typeof values === 'string') return problem(c, 400, values);
  const query = parseListQuery(values);
  if (typeof query === 'string') return problem(c, 400, query);
  const caller = c.get('caller');
  if (query.queue !== undefined && !mayUseQueue(caller, query.queue)) return queueRefused(c, caller, query.queue);
  const queues = query.queue !== undefined ? [query.queue] : visibleQueues(caller);
  if (queues?.length === 0) return c.json({ jobs: [], next: null });
  const page = await c.get('jobs').list({
    ...(queues ? { queues } : {}),
    ...(query.state ? { state: query.state } : {}),
    ...(query.parent ? { parent: query.parent } : {}),
    ...(query.next ? { next: query.next } : {}),
    limit: query.limit,
  });
  return c.json({ jobs: page.jobs, next: page.next });
}

async function show(c: JobsContext): Promise<Response> {
  const query = queryParameters(c, []);
  if (typeof query === 'string') return problem(c, 400, query);
  const found = await visibleJob(c);
  return found.job ? c.json(found.job) : found.response;
}

async function cancel(c: JobsContext): Promise<Response> {
  const query = queryParameters(c, ['reason']);
  if (typeof query === 'string') return problem(c, 400, query);
  const given = query.reason;
  // eslint-disable-next-line no-control-regex
  if (given !== undefined && (given.trim() === '' || given.length > MAX_REASON || /[\u0000-\u001f]/.test(given))) {
    return problem(c, 400, `Query parameter 'reason' must be 1 to ${MAX_REASON} characters, no control characters`);
  }
  const found = await visibleJob(c);
  if (!found.job) return found.response;
  const principal = c.get('caller').principal;
  const reason = given ?? (principal !== undefined ? `cancelled by ${principal}` : 'cancelled by request');
  const cancelled = await c.get('jobs').cancel(found.job.id, reason);
  return cancelled.ok ? c.json(cancelled.value) : failed(c, cancelled.error);
}

async function logs(c: JobsContext): Promise<Response> {
  const query = queryParameters(c, []);
  if (typeof query === 'string') return problem(c, 400, query);
  const found = await visibleJob(c);
  if (!found.job) return found.response;
  const output = await c.get('jobs').logs(found.job.id);
  if (!output.ok) return failed(c, output.error);
  return c.body(output.value, 200, { 'Content-Type': 'text/plain; charset=utf-8' });
}

/** The queue named in the path, if the caller may use it (else the 400 or 403 to answer). */
function namedQueue(c: JobsContext): { name: string; response?: undefined } | { response: Response } {
  const name = c.req.param('name') ?? '';
  const error = validateQueueName(name);
  if (error) return { response: problem(c, 400, `Invalid queue: ${error}`) };
  const caller = c.get('caller');
  if (!mayUseQueue(caller, name)) return { response: queueRefused(c, caller, name) };
  return { name };
}

async function listQueues(c: JobsContext): Promise<Response> {
  const query = queryParameters(c, []);
  if (typeof query === 'string') return problem(c, 400, query);
  const caller = c.get('caller');
  const queues = (await c.get('jobs').listQueues()).filter((queue) => mayUseQueue(caller, queue.name));
  return c.json({ queues });
}

async function getQueue(c: JobsContext): Promise<Response> {
  const named = namedQueue(c);
  if (named.response) return named.response;
  const queue = await c.get('jobs').getQueue(named.name);
  return queue ? c.json(queue) : problem(c, 404, `Queue '${named.name}' does not exist`);
}

async function putQueue(c: JobsContext): Promise<Response> {
  const named = namedQueue(c);
  if (named.response) return named.response;
  const body = await jsonBody(c);
  if (!body.ok) return body.response;
  const spec = parseQueueSpec(named.name, body.value);
  if (!spec.ok) return problem(c, 400, spec.error.message);
  const queue = await c.get('jobs').putQueue(named.name, spec.value);
  return queue.ok ? c.json(queue.value) : failed(c, queue.error);
}

/** The routes, relative to JOBS_API_PATH (`app.route(JOBS_API_PATH, jobsApi(…))`). */
export function jobsApi(options: JobsApiOptions): Hono<JobsEnv> {
  const api = new Hono<JobsEnv>();
  // Who may call, first: a caller refused learns nothing, not even whether Jobs runs here.
  api.use('*', authenticated(options));
  api.put('/queues/:name{.+}', operatorOnly);
  api.use('*', available(options.jobs));
  api.post('/jobs', submit);
  api.get('/jobs', list);
  api.all('/jobs', methodNotAllowed(['GET', 'POST']));
  api.get('/jobs/:id/logs', logs);
  api.all('/jobs/:id/logs', methodNotAllowed(['GET']));
  api.get('/jobs/:id', show);
  api.delete('/jobs/:id', cancel);
  api.all('/jobs/:id', methodNotAllowed(['GET', 'DELETE']));
  api.get('/queues', listQueues);
  api.all('/queues', methodNotAllowed(['GET']));
  // Queue names may hold '/' (hierarchical roles), encoded or not.
  api.get('/queues/:name{.+}', getQueue);
  api.put('/queues/:name{.+}', putQueue);
  api.all('/queues/:name{.+}', methodNotAllowed(['GET', 'PUT']));
  api.all('*', (c) => problem(c, 404, `No such resource: ${c.req.method} ${c.req.path}`));
  api.onError((error, c) => {
    options.logger.error('Jobs API request failed', { path: c.req.path, error: String(error) });
    options.metrics.increment('master/http_errors');
    return problem(c, 500, 'Internal error; see the master logs');
  });
  return api;
}
