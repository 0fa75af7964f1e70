/**
 * Tracing in Lambda's shape (shared/tracing.ts): a child process with the environment Lambda gives a
 * function with active tracing (AWS_EXECUTION_ENV, LAMBDA_TASK_ROOT, _X_AMZN_TRACE_ID,
 * AWS_XRAY_DAEMON_ADDRESS) runs a handler
 * through `tracedFunction`; the X-Ray SDK sends its subsegments to a UDP socket on loopback standing in for
 * the X-Ray daemon. Each invocation must be a subsegment of Lambda's trace, the failing one with its error.
 * Without Lambda's environment the tracer is not loaded and nothing is sent.
 */
import { execFile } from 'node:child_process';
import { createSocket, type Socket } from 'node:dgram';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const TRACE_ROOT = '1-67891233-abcdef012345678912345678';
const PARENT = '53995c3f42cd8ad8';

interface Subsegment {
  readonly name: string;
  readonly trace_id: string;
  readonly parent_id: string;
  readonly type?: string;
  readonly fault?: boolean;
  readonly annotations?: Record<string, unknown>;
  readonly cause?: { readonly exceptions?: readonly { readonly message: string }[] };
}

let daemon: Socket;
let received: Subsegment[];

beforeEach(async () => {
  received = [];
  daemon = createSocket('udp4');
  daemon.on('message', (message) => {
    // Each datagram is the SDK's header line, then the segment's JSON.
    const body = message.toString('utf8').split('\n').slice(1).join('\n');
    received.push(JSON.parse(body) as Subsegment);
  });
  await new Promise<void>((resolve) => daemon.bind(0, '127.0.0.1', resolve));
});

afterEach(() => {
  daemon.close();
});

function runHandler(env: Record<string, string>): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', join(ROOT, 'test', 'support', 'traced-handler.ts')],
      { cwd: ROOT, env: { PATH: process.env.PATH ?? '', ...env }, timeout: 60_000 },
      (error, stdout, stderr) => (error ? reject(new Error(`${error.message}\n${stderr}`)) : resolve(stdout)),
    );
  });
}

async function until(check: () => boolean): Promise<void> {
  for (let i = 0; i < 100 && !check(); i++) await new Promise((resolve) => setTimeout(resolve, 50));
}

describe('tracing (Powertools Tracer, X-Ray)', () => {
  it('in Lambda, each invocation is a subsegment of the function trace, an error recorded as a fault', async () => {
    const { port } = daemon.address();
    const stdout = await runHandler({
      AWS_LAMBDA_FUNCTION_NAME: 'mantle-test-api',
      AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs20.x',
      _HANDLER: 'index.handler',
      POWERTOOLS_SERVICE_NAME: 'mantle-test-api',
      LAMBDA_TASK_ROOT: ROOT,
      AWS_REGION: 'us-east-1',
      _X_AMZN_TRACE_ID: `Root=${TRACE_ROOT};Parent=${PARENT};Sampled=1`,
      AWS_XRAY_DAEMON_ADDRESS: `127.0.0.1:${port}`,
      AWS_XRAY_CONTEXT_MISSING: 'LOG_ERROR',
    });
    expect(JSON.parse(stdout)).toEqual(['answered', 'the handler failed']);
    const handlers = () => received.filter((segment) => segment.name === '## index.handler');
    await until(() => handlers().length >= 2);
    expect(handlers()).toHaveLength(2);
    for (const segment of handlers()) {
      expect(segment).toMatchObject({
        type: 'subsegment',
        trace_id: TRACE_ROOT,
        parent_id: PARENT,
        annotations: { Service: 'mantle-test-api' },
      });
    }
    const failed = handlers().find((segment) => segment.fault === true);
    expect(failed?.cause?.exceptions?.[0]?.message).toBe('the handler failed');
  });

  it('outside Lambda the tracer is not loaded: the handler answers and nothing is sent', async () => {
    const { port } = daemon.address();
    const stdout = await runHandler({ AWS_XRAY_DAEMON_ADDRESS: `127.0.0.1:${port}` });
    expect(JSON.parse(stdout)).toEqual(['answered', 'the handler failed']);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(received).toEqual([]);
  });
});
