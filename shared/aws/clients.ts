import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { SQSClient } from '@aws-sdk/client-sqs';
import { traceClient } from '../tracing.js';

/** Endpoint overrides for the local stand-ins (or LocalStack). Absent: the SDK's own resolution (real AWS). */
export interface AwsEndpoints {
  readonly dynamodb?: string;
  readonly sqs?: string;
}

export interface AwsClientOptions {
  readonly region?: string;
  readonly endpoints?: AwsEndpoints;
  /** Retries the SDK makes on throttling and transient faults (SDK default: 3 attempts). */
  readonly maxAttempts?: number;
}

export interface AwsClients {
  readonly region: string;
  readonly dynamodb: DynamoDBClient;
  /** Document client: plain JS values in and out; empty strings and undefined are handled as AWS recommends. */
  readonly documents: DynamoDBDocumentClient;
  readonly sqs: SQSClient;
  destroy(): void;
}

// The stand-ins accept any credentials; real AWS gets the SDK's default provider chain.
const LOCAL_CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' };

/**
 * The stand-ins check no signatures, so a client pointed at one does not compute them: the SDK's auth scheme
 * hook gets a signer that adds a fixed SigV4-shaped Authorization header (DynamoDB Local refuses a request
 * without one, and reads only its access key and region) in place of the canonical request, SHA-256 hashes and
 * HMACs of each call (bench/results/sdk-calls.json). Only with an endpoint override, which already means the
 * stand-ins' fake credentials; a client for AWS keeps the SDK's SigV4.
 */
export function standInAuth(region: string, service: 'dynamodb' | 'sqs') {
  const headers = {
    authorization:
      `AWS4-HMAC-SHA256 Credential=${LOCAL_CREDENTIALS.accessKeyId}/20000101/${region}/${service}/aws4_request, ` +
      `SignedHeaders=host;x-amz-date, Signature=${'0'.repeat(64)}`,
    'x-amz-date': '20000101T000000Z',
  };
  const schemeId = 'mantle.local#standIn';
  return {
    httpAuthSchemeProvider: () => [{ schemeId }],
    httpAuthSchemes: [
      {
        schemeId,
        identityProvider: () => () => Promise.resolve({}),
        signer: {
          sign: <R extends { headers: Record<string, string> }>(request: R) => {
            Object.assign(request.headers, headers);
            return Promise.resolve(request);
          },
        },
      },
    ],
  };
}

/**
 * A stand-in's endpoint as the client's settings: its fake credentials, the fixed header above, and the URL itself
 * as the endpoint provider's answer, which spares each call the endpoint ruleset (a custom endpoint is all it
 * yields anyway).
 */
function standIn(endpoint: string, region: string, service: 'dynamodb' | 'sqs') {
  const url = new URL(endpoint);
  return {
    endpoint,
    credentials: LOCAL_CREDENTIALS,
    endpointProvider: () => ({ url }),
    ...standInAuth(region, service),
  };
}

export function createAwsClients(options: AwsClientOptions = {}): AwsClients {
  const region = options.region ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? 'us-east-1';
  const { endpoints = {} } = options;
  const common = { region, ...(options.maxAttempts ? { maxAttempts: options.maxAttempts } : {}) };
  // In Lambda with tracing on, every DynamoDB and SQS call is a subsegment of the invocation's trace.
  const dynamodb = traceClient(
    new DynamoDBClient({ ...common, ...(endpoints.dynamodb ? standIn(endpoints.dynamodb, region, 'dynamodb') : {}) }),
  );
  const documents = DynamoDBDocumentClient.from(dynamodb, {
    marshallOptions: { removeUndefinedValues: true, convertClassInstanceToMap: false },
    unmarshallOptions: { wrapNumbers: false },
  });
  const sqs = traceClient(
    new SQSClient({
      ...common,
      // Each call reuses its command's resolved middleware stack in place of building it again (the SDK's own
      // option; lib-dynamodb refuses it, so SQS alone).
      cacheMiddleware: true,
      // The stand-in's MD5 of each body checked again on loopback guards nothing; AWS's answers are checked.
      ...(endpoints.sqs ? { ...standIn(endpoints.sqs, region, 'sqs'), md5: false } : {}),
    }),
  );
  return {
    region,
    dynamodb,
    documents,
    sqs,
    destroy() {
      documents.destroy();
      dynamodb.destroy();
      sqs.destroy();
    },
  };
}
