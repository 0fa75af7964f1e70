/**
 * The SQS stand-in (local-aws-sqs, with local/sqs-package.ts's correction) as an HTTP server on loopback: in this
 * process, or in a child of its own (local/sqs-host.ts) so that its work takes a core the master's handlers do
 * not (docs/local-cluster.md#processes).
 */
import { fork } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { z } from 'zod';
import { childEntry, killOnExit, terminate } from './children.js';
import { listenOnLoopback, type LoopbackServer } from './loopback-server.js';
import { localAwsSqs } from './sqs-package.js';

export interface SqsStandIn extends LoopbackServer {
  /** The child process it runs in; absent when it runs in this one. */
  readonly pid?: number;
  /** Resolves when its child exits without being stopped (killed, crashed): the queues are gone. */
  readonly died?: Promise<Error>;
}

/** The stand-in in this process, on `port` (a free one when absent or 0). */
export async function startSqsStandIn(options: { port?: number } = {}): Promise<SqsStandIn> {
  // Mounted in our own http server so that it binds to loopback only and can be closed cleanly.
  const server: Server = createServer();
  const listening = await listenOnLoopback(server, options.port);
  // The queue URLs it hands out carry the port, known once bound; nothing connects before this returns.
  const { requestHandler } = localAwsSqs().createRequestHandler({
    port: listening.port,
    hostname: '127.0.0.1',
    emulateQueueCreationLifecycle: false,
  });
  server.on('request', (req, res) => void requestHandler(req, res));
  return listening;
}

/** What local/sqs-host.ts says once: the port it listens on, or why it could not start. */
export const sqsHostReply = z.discriminatedUnion('type', [
  z.object({ type: z.literal('ready'), port: z.number().int().positive() }),
  z.object({ type: z.literal('error'), message: z.string() }),
]);
export type SqsHostReply = z.infer<typeof sqsHostReply>;

/**
 * The stand-in in a child process. The child exits when its IPC channel closes, so it dies with this process
 * even when this one is killed with SIGKILL (no pid file is needed, unlike DynamoDB Local's JVM); it ignores
 * SIGINT, which a terminal's Ctrl-C sends the whole group, so that the cluster stops it after its agents.
 */
export async function startSqsStandInProcess(
  options: { port?: number; readyTimeoutMs?: number } = {},
): Promise<SqsStandIn> {
  const { file, execArgv } = childEntry(import.meta.url, 'sqs-host');
  const child = fork(file, [String(options.port ?? 0)], {
    execArgv,
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    serialization: 'json',
  });
  killOnExit(child);
  let stopping = false;
  const stop = async () => {
    stopping = true;
    await terminate(child);
  };
  const timeoutMs = options.readyTimeoutMs ?? 30_000;
  let timer: NodeJS.Timeout | undefined;
  let port: number;
  try {
    port = await new Promise<number>((resolve, reject) => {
      timer = setTimeout(
        () => reject(new Error(`the SQS stand-in (pid ${child.pid}) did not start within ${timeoutMs} ms`)),
        timeoutMs,
      );
      child.once('error', (error) => reject(new Error(`could not start the SQS stand-in: ${error.message}`)));
      // After every message it sent (the pipe is read in order), so an 'error' reply comes first.
      child.once('disconnect', () => reject(new Error('the SQS stand-in exited before it was ready')));
      child.once('message', (raw) => {
        const reply = sqsHostReply.safeParse(raw);
        if (!reply.success) reject(new Error(`the SQS stand-in sent an unknown message: ${reply.error.message}`));
        else if (reply.data.type === 'error')
          reject(new Error(`the SQS stand-in could not start: ${reply.data.message}`));
        else resolve(reply.data.port);
      });
    });
  } catch (error) {
    await stop();
    throw error;
  } finally {
    clearTimeout(timer);
  }
  const pid = child.pid as number;
  const died = new Promise<Error>((resolve) => {
    child.once('exit', (code, signal) => {
      if (stopping) return;
      resolve(new Error(`the SQS stand-in (pid ${pid}) exited (${signal ?? `code ${code}`}): the queues are gone`));
    });
  });
  return { endpoint: `http://127.0.0.1:${port}`, port, pid, died, stop };
}
