/**
 * An HTTP proxy in front of the SQS stand-in, for tests that must see or bend an agent's SQS traffic (the JSON
 * protocol: the action in `x-amz-target`, the input and output as JSON). `handle` gets each request and a `forward`
 * that passes a body on to the stand-in; what it returns is the answer the agent gets, unless the agent has hung up
 * by then (a poll it cut off).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ProxiedRequest {
  /** The SQS action, e.g. `ReceiveMessage`. */
  readonly action: string;
  readonly body: string;
}

export interface ProxiedAnswer {
  readonly status: number;
  readonly contentType: string;
  readonly body: string;
}

export type ProxyHandler = (
  request: ProxiedRequest,
  forward: (body: string) => Promise<ProxiedAnswer>,
) => Promise<ProxiedAnswer>;

export class SqsProxy {
  endpoint = '';
  private server: Server | undefined;

  constructor(
    private readonly target: string,
    private readonly handle: ProxyHandler,
  ) {}

  async start(): Promise<this> {
    this.server = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        const target = String(request.headers['x-amz-target'] ?? '');
        const headers = {
          'content-type': String(request.headers['content-type'] ?? 'application/x-amz-json-1.0'),
          'x-amz-target': target,
          ...(request.headers.authorization ? { authorization: request.headers.authorization } : {}),
        };
        const forward = async (body: string): Promise<ProxiedAnswer> => {
          const answer = await fetch(this.target, { method: 'POST', headers, body });
          return {
            status: answer.status,
            contentType: answer.headers.get('content-type') ?? 'application/x-amz-json-1.0',
            body: await answer.text(),
          };
        };
        const proxied = { action: target.replace(/^AmazonSQS\./, ''), body: Buffer.concat(chunks).toString() };
        void this.handle(proxied, forward).then(({ status, contentType, body }) => {
          if (!response.destroyed) response.writeHead(status, { 'content-type': contentType }).end(body);
        });
      });
    });
    await new Promise<void>((resolve) => this.server?.listen(0, '127.0.0.1', resolve));
    this.endpoint = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => {
      this.server?.closeAllConnections();
      this.server?.close(() => resolve());
    });
  }
}
