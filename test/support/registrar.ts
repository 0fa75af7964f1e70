/** A registrar on its own fresh tables in the shared DynamoDB Local (started by the global setup). */
import { randomBytes } from 'node:crypto';
import { DeleteTableCommand } from '@aws-sdk/client-dynamodb';
import { inject } from 'vitest';
import { createAwsClients, type AwsClients } from '#shared/aws/clients.js';
import { Metrics } from '#shared/metrics.js';
import { createTables, Registrar, tableNames, type TableNames } from '../../functions/registrar/index.js';

export interface TestRegistrar {
  readonly registrar: Registrar;
  readonly clients: AwsClients;
  readonly tables: TableNames;
  readonly metrics: Metrics;
  /** Moves the registrar's clock; starts at the real time. */
  readonly clock: { now: number; advance(ms: number): void };
  close(): Promise<void>;
}

export async function freshRegistrar(options: { maxAttempts?: number } = {}): Promise<TestRegistrar> {
  const clients = createAwsClients({
    endpoints: { dynamodb: inject('dynamodbEndpoint') },
    ...(options.maxAttempts ? { maxAttempts: options.maxAttempts } : {}),
  });
  const tables = tableNames(`test-${randomBytes(4).toString('hex')}`);
  await createTables(clients.dynamodb, tables);
  const metrics = new Metrics();
  const clock = {
    now: Date.now(),
    advance(ms: number) {
      clock.now += ms;
    },
  };
  const registrar = new Registrar({
    documents: clients.documents,
    tables,
    clusterId: 'test-cluster',
    metrics,
    now: () => clock.now,
  });
  return {
    registrar,
    clients,
    tables,
    metrics,
    clock,
    async close() {
      await Promise.all(
        Object.values(tables).map((TableName) => clients.dynamodb.send(new DeleteTableCommand({ TableName }))),
      );
      clients.destroy();
    },
  };
}
