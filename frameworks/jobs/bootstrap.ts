/** Creates the jobs table where nothing else does (the local cluster, tests), from `tables.ts`. Idempotent. */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { createTable } from '../common/table.js';
import { JOBS_TABLE } from './tables.js';

export function createJobsTable(client: DynamoDBClient, name: string): Promise<void> {
  return createTable(client, name, JOBS_TABLE);
}
