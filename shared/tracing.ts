/**
 * Tracing (Powertools Tracer, AWS X-Ray): one tracer per process, named by POWERTOOLS_SERVICE_NAME (the
 * stack sets it to the function's name). In Lambda with active tracing (infra/functions.ts) each
 * invocation is a segment with the handler's subsegment, its cold start and errors as annotations, and the
 * AWS SDK calls (DynamoDB, SQS) as subsegments; outside Lambda the tracer turns itself off, so the local
 * cluster and the tests run the same code untraced.
 */
import { Tracer } from '@aws-lambda-powertools/tracer';
import { captureLambdaHandler } from '@aws-lambda-powertools/tracer/middleware';
import middy from '@middy/core';
import type { Context } from 'aws-lambda';

export const tracer = new Tracer();

/** Traces a middy handler (each invocation a subsegment, errors recorded). */
export function traced<H extends middy.MiddyfiedHandler>(handler: H): H {
  return handler.use(captureLambdaHandler(tracer)) as H;
}

/** Traces a plain handler, by wrapping it in middy. */
export function tracedFunction<E, R>(
  handler: (event: E, context: Context) => Promise<R>,
): middy.MiddyfiedHandler<E, R> {
  return middy<E, R>()
    .handler(async (event, context) => handler(event, context))
    .use(captureLambdaHandler(tracer));
}

/** Makes the AWS SDK client's calls subsegments of the current trace (a no-op outside Lambda). */
export function traceClient<C>(client: C): C {
  return tracer.isTracingEnabled() ? tracer.captureAWSv3Client(client) : client;
}
