/**
 * `POST /api/v1/executor` on the agent's endpoint (Mesos `Slave::Http::executor`, with
 * `--authenticate_http_executors`): the executor's calls, checked in Mesos's order — its secret
 * (`Authorization: Bearer`, 401 without a valid one), the method (405), the media type (415: JSON or
 * protobuf), the body (413, 400), the call (400, 501), then that the call speaks for the executor the
 * secret belongs to (403). SUBSCRIBE answers 200 and streams RecordIO-framed events, in JSON when
 * `Accept` allows it, else protobuf (else 406); UPDATE and MESSAGE answer 202.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  answerFormat,
  APPLICATION_JSON,
  APPLICATION_PROTOBUF,
  bodyFormat,
  NOT_ACCEPTABLE,
  UNSUPPORTED_MEDIA_TYPE,
} from '#shared/protocol/media-types.js';
import { decodeMessage, encodeMessage } from '#shared/protocol/protobuf.js';
import { encodeRecord } from '#shared/protocol/recordio.js';
import { parseExecutorCall, type ExecutorEvent, type ValidExecutorCall } from '#shared/protocol/executor.js';
import type { CustomExecutor, ExecutorStream } from './custom-executor.js';
import type { CustomExecutors } from './executors.js';

export const EXECUTOR_API_PATH = '/api/v1/executor';
/** Calls are small; a SUBSCRIBE resending its unacknowledged tasks is the largest. */
const MAX_BODY_BYTES = 4 * 1024 * 1024;
/** Mesos's agent heartbeats its HTTP executors' streams (DEFAULT_EXECUTOR_HEARTBEAT_INTERVAL). */
export const EXECUTOR_HEARTBEAT_MS = 30_000;

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

function authenticate(executors: CustomExecutors, request: IncomingMessage): CustomExecutor {
  const challenge = { 'WWW-Authenticate': 'Bearer realm="mesos-agent-executor"' };
  const match = /^Bearer\s+(\S+)$/i.exec(request.headers.authorization ?? '');
  if (!match?.[1])
    throw new HttpError(401, 'Executors must present their MESOS_EXECUTOR_AUTHENTICATION_TOKEN', challenge);
  const executor = executors.byToken(match[1]);
  if (!executor) throw new HttpError(401, 'The token is not that of a running executor', challenge);
  return executor;
}

async function readBody(request: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request as AsyncIterable<Buffer>) {
    size += chunk.byteLength;
    if (size > MAX_BODY_BYTES) throw new HttpError(413, `Request body is over ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

/** The body as the JSON-dialect object of a Call, whichever media type it came in. */
async function callObject(request: IncomingMessage): Promise<unknown> {
  const format = bodyFormat(request.headers['content-type'] ?? '');
  if (format === undefined) throw new HttpError(415, UNSUPPORTED_MEDIA_TYPE);
  const body = await readBody(request);
  if (format === 'protobuf') {
    const decoded = decodeMessage('mesos.v1.executor.Call', body);
    if (!decoded.ok) throw new HttpError(400, `Failed to parse body into Call protobuf: ${decoded.error}`);
    return decoded.value;
  }
  try {
    return JSON.parse(body.toString('utf8'));
  } catch (error) {
    throw new HttpError(400, `Failed to parse body into JSON: ${(error as Error).message}`);
  }
}

/** Everything before the call reaches the executor it names. */
async function checkedCall(
  executors: CustomExecutors,
  request: IncomingMessage,
): Promise<{ executor: CustomExecutor; call: ValidExecutorCall }> {
  const executor = authenticate(executors, request);
  if (request.method !== 'POST') {
    throw new HttpError(405, `Expecting a 'POST' request, received '${request.method ?? ''}'`, { Allow: 'POST' });
  }
  const parsed = parseExecutorCall(await callObject(request));
  if (!parsed.ok) throw new HttpError(parsed.error.status, parsed.error.message);
  const call = parsed.value;
  if (call.framework_id.value !== executor.frameworkId || call.executor_id.value !== executor.executorId) {
    throw new HttpError(403, 'The call names another executor than the one its token belongs to');
  }
  return { executor, call };
}

function subscribe(
  executor: CustomExecutor,
  call: Extract<ValidExecutorCall, { type: 'SUBSCRIBE' }>,
  request: IncomingMessage,
  response: ServerResponse,
): Promise<void> {
  const format = answerFormat(request.headers.accept);
  if (format === undefined) throw new HttpError(406, NOT_ACCEPTABLE);
  const contentType = format === 'json' ? APPLICATION_JSON : APPLICATION_PROTOBUF;
  response.writeHead(200, { 'Content-Type': contentType, 'Cache-Control': 'no-cache' });
  response.flushHeaders();
  const encode = (event: ExecutorEvent) =>
    format === 'json' ? JSON.stringify(event) : encodeMessage('mesos.v1.executor.Event', event);
  const stream: ExecutorStream = {
    send: (event: ExecutorEvent) => {
      if (!response.writableEnded) response.write(encodeRecord(encode(event)));
    },
    close: () => response.end(),
  };
  const heartbeat = setInterval(() => stream.send({ type: 'HEARTBEAT' }), EXECUTOR_HEARTBEAT_MS);
  response.on('close', () => {
    clearInterval(heartbeat);
    executor.disconnected(stream);
  });
  return executor.subscribe(call, stream);
}

async function handle(
  executors: CustomExecutors,
  agentId: () => string,
  request: IncomingMessage,
  response: ServerResponse,
): Promise<void> {
  const { executor, call } = await checkedCall(executors, request);
  switch (call.type) {
    case 'SUBSCRIBE':
      return subscribe(executor, call, request, response);
    case 'UPDATE':
      if (!(await executor.update(call.update.status))) {
        throw new HttpError(400, `Task '${call.update.status.task_id.value}' is not a task of this executor`);
      }
      break;
    case 'MESSAGE':
      await executor.message(call.message.data, agentId());
      break;
  }
  response.writeHead(202).end();
}

/** The route's handler, for the agent's HTTP server. */
export function executorApi(
  executors: CustomExecutors,
  agentId: () => string,
): (request: IncomingMessage, response: ServerResponse) => void {
  return (request, response) => {
    handle(executors, agentId, request, response).catch((error: unknown) => {
      if (response.headersSent) {
        response.end();
        return;
      }
      if (error instanceof HttpError) {
        response.writeHead(error.status, { 'Content-Type': 'text/plain', ...error.headers }).end(error.message);
        return;
      }
      // The agent is stopping, or not registered yet: the executor retries.
      response.writeHead(503, { 'Content-Type': 'text/plain' }).end(`Service unavailable: ${String(error)}`);
    });
  };
}
