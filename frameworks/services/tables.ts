/**
 * Mantle Services' DynamoDB table, defined once: the local bootstrap creates it from this definition and the
 * CDK stack declares it from the same one. Plain data (no AWS SDK), so the CDK stack can import it.
 *
 * One table, `<cluster>-services`, keys `pk` / `sk`:
 * - an app: `pk=app#<id>`, `sk=app` (its definition, versions, deployment, backoff, last failure, `revision`);
 * - its tasks: `pk=app#<id>`, `sk=task#<task id>` (one item each: where it runs, its ports, state, health);
 * - the framework's own state: `pk=framework`, `sk=subscription`;
 * - the events handled: `pk=event#<SQS message id>`, `sk=handled`, expiring a day later;
 * - the event bus (`/v2/events`): `pk=bus`, `sk=<ISO time>#<id>`, expiring an hour later.
 */
import type { TableDefinition } from '../common/table.js';

export const SERVICES_INDEX = {
  /** Every app, by id. */
  apps: 'apps',
} as const;

export const SERVICES_TABLE: TableDefinition = {
  description: 'Mantle Services: apps, their tasks and deployments, the framework subscription, the event bus',
  partitionKey: { name: 'pk', type: 'S' },
  sortKey: { name: 'sk', type: 'S' },
  timeToLiveAttribute: 'expires_at',
  indexes: [
    {
      name: SERVICES_INDEX.apps,
      description: 'Every app, by id',
      partitionKey: { name: 'list_all', type: 'S' },
      sortKey: { name: 'app_id', type: 'S' },
    },
  ],
};

/** The table's name for a cluster: `<cluster>-services`. */
export function servicesTableName(cluster: string): string {
  return `${cluster}-services`;
}

/** The environment variable that carries the table's name into a Lambda function. */
export const SERVICES_TABLE_ENV = 'MANTLE_SERVICES_TABLE';

export function servicesTableFromEnvironment(env: NodeJS.ProcessEnv = process.env): string {
  const name = env[SERVICES_TABLE_ENV];
  if (!name) throw new Error(`${SERVICES_TABLE_ENV} is not set`);
  return name;
}
