/**
 * Tracing (Powertools Tracer, AWS X-Ray): one tracer per process, named by POWERTOOLS_SERVICE_NAME (the
 * stack sets it to the function's name). In Lambda with active tracing (infra/functions.ts) each
 * invocation is a segment with the handler's subsegment, its cold start and errors as annotations, and the
 * AWS SDK calls (DynamoDB, SQS) as subsegments; outside Lambda the tracer turns itself off, so the local
 * cluster and the tests run the same code untraced. Given the function's logger, the handler also gets Powertools'
 * Lambda context in its log lines (function_name, function_request_id, cold_start, ...).
 */
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { Tracer } from '@aws-lambda-powertools/tracer';
import { captureLambdaHandler } from '@aws-lambda-powertools/tracer/middleware';
import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import type { Logger } from './log.js';

export const tracer = new Tracer();

/** Traces a middy handler (each invocation a subsegment, errors recorded); its logger's lines get the Lambda context. */
export function traced<H extends middy.MiddyfiedHandler>(handler: H, logger?: Logger): H {
  const withContext = logger ? handler.use(injectLambdaContext(logger)) : handler;
  return withContext.use(captureLambdaHandler(tracer)) as H;
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
  return tracer.isTracingEnabled() ? tracer.captureAWSv3Client(client) : client;
}
