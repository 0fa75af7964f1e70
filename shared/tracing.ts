/**
 * Tracing (Powertools Tracer, AWS X-Ray): one tracer per process, named by POWERTOOLS_SERVICE_NAME (the
 * stack sets it to the function's name). In Lambda with active tracing (infra/functions.ts) each
 * invocation is a segment with the handler's subsegment, its cold start and errors as annotations, and the
 * AWS SDK calls (DynamoDB, SQS) as subsegments. Given the function's logger, the handler also gets
 * Powertools' Lambda context in its log lines (function_name, function_request_id, cold_start, ...).
 *
 * The tracer is loaded in Lambda only. Loading the X-Ray SDK turns on an async hook that follows every
 * promise to its destruction; outside Lambda the tracer is off anyway, and that hook cost the local
 * cluster and the agents about a quarter of their CPU (bench:jobs profile). So the local cluster, the
 * agents and the tests run the same handlers untraced, without it.
 */
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import type { Logger } from './log.js';

async function loadTracing() {
  const [{ Tracer }, { captureLambdaHandler }] = await Promise.all([
    import('@aws-lambda-powertools/tracer'),
    import('@aws-lambda-powertools/tracer/middleware'),
  ]);
  const tracer = new Tracer();
  return { tracer, middleware: () => captureLambdaHandler(tracer) };
}

const tracing = process.env.AWS_LAMBDA_FUNCTION_NAME === undefined ? undefined : await loadTracing();

/** Traces a middy handler (each invocation a subsegment, errors recorded); its logger's lines get the Lambda context. */
export function traced<H extends middy.MiddyfiedHandler>(handler: H, logger?: Logger): H {
  const withContext = logger ? (handler.use(injectLambdaContext(logger)) as H) : handler;
  return tracing === undefined ? withContext : (withContext.use(tracing.middleware()) as H);
}

/** Traces a plain handler, by wrapping it in middy. */
export function tracedFunction<E, R>(
  handler: (event: E, context: Context) => Promise<R>,
  logger?: Logger,
): middy.MiddyfiedHandler<E, R> {
  return traced(
    middy<E, R>().handler(async (event, context) => handler(event, context)),
    logger,
  );
}

/** Makes the AWS SDK client's calls subsegments of the current trace (a no-op outside Lambda). */
export function traceClient<C>(client: C): C {
  return tracing?.tracer.isTracingEnabled() === true ? tracing.tracer.captureAWSv3Client(client) : client;
}
