/**
 * The SDK clients' settings: a client for AWS signs with SigV4 and resolves AWS's endpoint as the SDK does;
 * only a client given a stand-in's endpoint sends its requests there unsigned, with a fixed header. Each request is caught after the
 * signing step and never sent.
 */
import { GetItemCommand } from '@aws-sdk/client-dynamodb';
import { SendMessageCommand } from '@aws-sdk/client-sqs';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createAwsClients, type AwsClients } from '#shared/aws/clients.js';

interface Sent {
  readonly hostname: string;
  readonly port: number | undefined;
  readonly headers: Record<string, string>;
}

class Caught extends Error {
  constructor(readonly sent: Sent) {
    super('caught before sending');
  }
}

type Stack = AwsClients['sqs']['middlewareStack'];

/** Stops each request right after signing, with what would have been sent. */
function catchSigned(stack: Stack): void {
  stack.addRelativeTo(
    () => (args: { request: unknown }) => {
      const request = args.request as Sent;
      throw new Caught({ hostname: request.hostname, port: request.port, headers: { ...request.headers } });
    },
    { relation: 'after', toMiddleware: 'httpSigningMiddleware', name: 'catchSigned' },
  );
}

async function sent(call: Promise<unknown>): Promise<Sent> {
  const error: unknown = await call.catch((caught: unknown) => caught);
  if (!(error instanceof Caught)) throw new Error(`expected the request to be caught, got ${String(error)}`);
  return error.sent;
}

async function calls(clients: AwsClients): Promise<{ dynamodb: Sent; sqs: Sent }> {
  catchSigned(clients.dynamodb.middlewareStack as unknown as Stack);
  catchSigned(clients.sqs.middlewareStack);
  return {
    dynamodb: await sent(clients.dynamodb.send(new GetItemCommand({ TableName: 't', Key: { pk: { S: 'a' } } }))),
    sqs: await sent(
      clients.sqs.send(
        new SendMessageCommand({ QueueUrl: 'https://sqs.us-east-1.amazonaws.com/123456789012/q', MessageBody: 'x' }),
      ),
    ),
  };
}

/** The stand-ins' fixed header: no signature computed. */
const FIXED =
  /^AWS4-HMAC-SHA256 Credential=local\/20000101\/us-east-1\/(dynamodb|sqs)\/aws4_request, .*Signature=0{64}$/;
const SIGV4 = /^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\/\d{8}\/us-east-1\/(dynamodb|sqs)\/aws4_request, /;

describe('the AWS SDK clients', () => {
  let clients: AwsClients | undefined;
  beforeEach(() => {
    vi.stubEnv('AWS_ACCESS_KEY_ID', 'AKIDEXAMPLE');
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', 'secret');
    vi.stubEnv('AWS_SESSION_TOKEN', '');
  });
  afterEach(() => {
    clients?.destroy();
    clients = undefined;
    vi.unstubAllEnvs();
  });

  it('sign every request with SigV4 and resolve AWS endpoints when no endpoint is configured', async () => {
    clients = createAwsClients({ region: 'us-east-1', maxAttempts: 1 });
    const { dynamodb, sqs } = await calls(clients);
    expect(dynamodb.hostname).toBe('dynamodb.us-east-1.amazonaws.com');
    expect(dynamodb.headers.authorization).toMatch(SIGV4);
    expect(dynamodb.headers.authorization).toContain('/dynamodb/');
    expect(sqs.hostname).toBe('sqs.us-east-1.amazonaws.com');
    expect(sqs.headers.authorization).toMatch(SIGV4);
    expect(sqs.headers.authorization).toContain('/sqs/');
    expect(clients.sqs.config.md5).not.toBe(false);
  });

  it('send unsigned requests (a fixed header) to a stand-in only, and sign for the service without one', async () => {
    clients = createAwsClients({
      region: 'us-east-1',
      maxAttempts: 1,
      endpoints: { dynamodb: 'http://127.0.0.1:8000' },
    });
    const { dynamodb, sqs } = await calls(clients);
    expect(dynamodb).toMatchObject({ hostname: '127.0.0.1', port: 8000 });
    expect(dynamodb.headers.authorization).toMatch(FIXED);
    expect(dynamodb.headers.authorization).toContain('/dynamodb/');
    expect(dynamodb.headers['x-amz-date']).toBe('20000101T000000Z');
    expect(sqs.hostname).toBe('sqs.us-east-1.amazonaws.com');
    expect(sqs.headers.authorization).toMatch(SIGV4);
  });

  it('send SQS requests unsigned and unchecked by MD5 to the SQS stand-in', async () => {
    clients = createAwsClients({ region: 'us-east-1', maxAttempts: 1, endpoints: { sqs: 'http://127.0.0.1:9324' } });
    const { dynamodb, sqs } = await calls(clients);
    expect(sqs.headers.authorization).toMatch(FIXED);
    expect(sqs.headers.authorization).toContain('/sqs/');
    expect(sqs.hostname).toBe('127.0.0.1');
    expect(clients.sqs.config.md5).toBe(false);
    expect(dynamodb.headers.authorization).toMatch(SIGV4);
    expect(dynamodb.headers.authorization).not.toMatch(FIXED);
  });
});
