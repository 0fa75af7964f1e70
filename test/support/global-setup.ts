import type { TestProject } from 'vitest/node';
import { startLocalAws, type LocalAws } from '../../local/aws-standins.js';

declare module 'vitest' {
  export interface ProvidedContext {
    dynamodbEndpoint: string;
    sqsEndpoint: string;
  }
}

let aws: LocalAws | undefined;

export async function setup(project: TestProject): Promise<void> {
  aws = await startLocalAws();
  project.provide('dynamodbEndpoint', aws.dynamodb.endpoint);
  project.provide('sqsEndpoint', aws.sqs.endpoint);
}

export async function teardown(): Promise<void> {
  await aws?.stop();
}
