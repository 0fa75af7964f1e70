/** Mantle Jobs' store and service on a fresh jobs table in the shared DynamoDB Local (contract tests). */
import { randomBytes } from 'node:crypto';
import { DeleteTableCommand } from '@aws-sdk/client-dynamodb';
import { inject } from 'vitest';
import { createAwsClients, type AwsClients } from '#shared/aws/clients.js';
import { createJobsTable } from '../../frameworks/jobs/bootstrap.js';
import { JobsEngine } from '../../frameworks/jobs/engine.js';
import { createJobsService, type JobsActions, type JobsService } from '../../frameworks/jobs/service.js';
import { JobsStore } from '../../frameworks/jobs/store.js';
import { freshRegistrar, type TestRegistrar } from './registrar.js';

export interface TestJobs {
  readonly store: JobsStore;
  readonly engine: JobsEngine;
  readonly service: JobsService;
  readonly clients: AwsClients;
  readonly registrar: TestRegistrar;
  readonly clock: { now: number; advance(ms: number): void };
  /** What the service asked of the framework. */
  readonly woken: string[][];
  readonly killed: string[];
  close(): Promise<void>;
}

export async function freshJobs(options: { maxAttempts?: number } = {}): Promise<TestJobs> {
  const clients = createAwsClients({
    endpoints: { dynamodb: inject('dynamodbEndpoint') },
    ...(options.maxAttempts ? { maxAttempts: options.maxAttempts } : {}),
  });
  const table = `test-${randomBytes(4).toString('hex')}-jobs`;
  await createJobsTable(clients.dynamodb, table);
  const registrar = await freshRegistrar();
  const clock = registrar.clock;
  const store = new JobsStore({ documents: clients.documents, table });
  const now = () => clock.now;
  const engine = new JobsEngine({ store, now });
  const woken: string[][] = [];
  const killed: string[] = [];
  const actions: JobsActions = {
    wake: async (queues) => void woken.push([...queues]),
    kill: async (jobId) => void killed.push(jobId),
  };
  const service = createJobsService({ store, roles: registrar.registrar.roles, now, actions: () => actions });
  return {
    store,
    engine,
    service,
    clients,
    registrar,
    clock,
    woken,
    killed,
    async close() {
      await clients.dynamodb.send(new DeleteTableCommand({ TableName: table }));
      clients.destroy();
      await registrar.close();
    },
  };
}
