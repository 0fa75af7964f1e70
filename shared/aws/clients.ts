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

export function createAwsClients(options: AwsClientOptions = {}): AwsClients {
  const region = options.region ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? 'us-east-1';
  const { endpoints = {} } = options;
  const common = { region, ...(options.maxAttempts ? { maxAttempts: options.maxAttempts } : {}) };
  // In Lambda with tracing on, every DynamoDB and SQS call is a subsegment of the invocation's trace.
  const dynamodb = traceClient(
    new DynamoDBClient({
      ...common,
      ...(endpoints.dynamodb ? { endpoint: endpoints.dynamodb, credentials: LOCAL_CREDENTIALS } : {}),
    }),
  );
  const documents = DynamoDBDocumentClient.from(dynamodb, {
    marshallOptions: { removeUndefinedValues: true, convertClassInstanceToMap: false },
    unmarshallOptions: { wrapNumbers: false },
  });
  const sqs = traceClient(
    new SQSClient({
      ...common,
      ...(endpoints.sqs ? { endpoint: endpoints.sqs, credentials: LOCAL_CREDENTIALS } : {}),
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
