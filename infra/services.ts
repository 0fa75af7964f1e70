/**
 * Mantle Services on AWS (docs/services.md), hosted as infra/hosted-framework.ts hosts a built-in framework: the
 * services table (frameworks/services/tables.ts), the `services` framework's queue and its Services function,
 * and the ticker every minute (converging apps, ending deployments, kills again, reconciliation), both
 * functions/handlers/services.ts, as the `mantle-services` principal. The API functions serve Marathon's v2 API.
 */
import { SERVICES_TABLE, SERVICES_TABLE_ENV, servicesTableName } from '../frameworks/services/tables.js';
import {
  addHostedFramework,
  credentialCommand,
  credentialParameter,
  type HostedFramework,
  type HostedFrameworkProps,
} from './hosted-framework.js';

/** The Services framework's principal and the name it subscribes with (frameworks/services/framework.ts). */
export const SERVICES_PRINCIPAL = 'mantle-services';
export const SERVICES_FRAMEWORK_NAME = 'services';

/**
 * What the services store does (frameworks/services/store.ts, frameworks/common/framework-state.ts): item reads,
 * transactions of conditional puts and deletes (an app with its tasks), the subscription's conditional put, the
 * handled events' and the bus's batch writes, queries. No UpdateItem: nothing updates an item in place.
 */
export const SERVICES_TABLE_ACTIONS = [
  'dynamodb:GetItem',
  'dynamodb:PutItem',
  'dynamodb:DeleteItem',
  'dynamodb:BatchWriteItem',
  'dynamodb:Query',
] as const;

export type MantleServices = HostedFramework;

/** The SSM SecureString holding `<principal> <secret>` of the Services framework's principal. */
export function servicesCredentialParameter(clusterName: string): string {
  return credentialParameter(clusterName, 'services');
}

/** Services: the table, the framework's queue and its handler, the ticker, their grants. */
export function addServices(scope: Parameters<typeof addHostedFramework>[0], props: HostedFrameworkProps) {
  return addHostedFramework(
    scope,
    {
      kind: 'services',
      principal: SERVICES_PRINCIPAL,
      frameworkName: SERVICES_FRAMEWORK_NAME,
      table: {
        definition: SERVICES_TABLE,
        name: servicesTableName(props.clusterName),
        environment: SERVICES_TABLE_ENV,
      },
      tableActions: SERVICES_TABLE_ACTIONS,
      descriptions: {
        framework: "Mantle Services: the services framework's events (its queue): offers, launches, updates",
        ticker: "Mantle Services' timer, every minute: apps converged, deployments ended, kills resent, reconciliation",
      },
    },
    props,
  );
}

/** The command that creates the Services principal and keeps its credential where its functions read it. */
export function servicesCredentialCommand(clusterName: string): string {
  return credentialCommand(clusterName, 'services', SERVICES_PRINCIPAL);
}
