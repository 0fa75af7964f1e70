/**
 * The master's HTTP API in Lambda behind API Gateway (REST API). Two entry points over one hono app:
 * `handler` answers buffered routes (the agents' API, health, metrics, the Jobs API where
 * MANTLE_JOBS_TABLE names its table, Marathon's v2 API where MANTLE_SERVICES_TABLE names Services'); `streamingHandler` is for the route with response streaming
 * (POST /api/v1/scheduler: SUBSCRIBE streams, and every other scheduler call shares the path, so the
 * route streams them all). Both serve the web UI's files, bundled beside them in `ui/` (infra/bundling.ts).
 */
import { handle, streamHandle } from 'hono/aws-lambda';
import { join } from 'node:path';
import { createApp } from './app.js';
import { loadUiAssets } from './ui-route.js';
import { JOBS_TABLE_ENV } from '../../frameworks/jobs/tables.js';
import { jobsFromEnvironment } from './jobs.js';
import { SERVICES_TABLE_ENV } from '../../frameworks/services/tables.js';
import { servicesFromEnvironment } from './services.js';
import { masterFromEnvironment } from './master-from-env.js';
import { tracedFunction } from '#shared/tracing.js';

// Where the stack deploys Jobs (MANTLE_JOBS_TABLE), this container's Jobs (jobs.ts), built at the first request.
const jobs = process.env[JOBS_TABLE_ENV] ? async () => (await jobsFromEnvironment()).service : undefined;
const services = process.env[SERVICES_TABLE_ENV] ? async () => (await servicesFromEnvironment()).service : undefined;
const ui = loadUiAssets(join(import.meta.dirname, 'ui'));
const master = masterFromEnvironment();
const app = createApp(master, { ...(jobs ? { jobs } : {}), ...(services ? { services } : {}), ...(ui ? { ui } : {}) });

// Traced; the streaming entry point is not (Lambda's response streaming is outside middy's reach), but its
// DynamoDB and SQS calls are, through the traced clients.
const buffered = handle(app);
export const handler = tracedFunction(
  (event: Parameters<typeof buffered>[0], context) => buffered(event, context as Parameters<typeof buffered>[1]),
  master.logger,
);

// `awslambda.streamifyResponse` belongs to the Lambda Node.js runtime (and the tests' shim). The SDK
// itself sets an empty `globalThis.awslambda`, so the function is what to look for.
const runtime = (globalThis as { awslambda?: { streamifyResponse?: unknown } }).awslambda;
export const streamingHandler: ReturnType<typeof streamHandle> | undefined =
  typeof runtime?.streamifyResponse === 'function' ? streamHandle(app) : undefined;
