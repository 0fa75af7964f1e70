/**
 * A child process for test/unit/tracing.test.ts: with Lambda's environment set by the test, it runs one
 * handler through `tracedFunction` (a thrown error on the second call) and prints the handlers' answers.
 */
import type { Context } from 'aws-lambda';
import { tracedFunction } from '#shared/tracing.js';

const context = {
  functionName: process.env.AWS_LAMBDA_FUNCTION_NAME,
  awsRequestId: 'req-1',
  getRemainingTimeInMillis: () => 10_000,
} as unknown as Context;

const handler = tracedFunction(async (event: { fail?: boolean }) => {
  if (event.fail === true) throw new Error('the handler failed');
  return 'answered';
});

const first = await handler({}, context);
const second = await handler({ fail: true }, context).catch((error: unknown) => (error as Error).message);
process.stdout.write(JSON.stringify([first, second]));
