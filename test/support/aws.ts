/** SDK clients for the stand-ins that the global setup started. */
import { inject } from 'vitest';
import { createAwsClients, type AwsClients } from '#shared/aws/clients.js';

export function standInClients(options: { maxAttempts?: number } = {}): AwsClients {
  return createAwsClients({
    endpoints: { dynamodb: inject('dynamodbEndpoint'), sqs: inject('sqsEndpoint') },
    ...(options.maxAttempts ? { maxAttempts: options.maxAttempts } : {}),
  });
}
