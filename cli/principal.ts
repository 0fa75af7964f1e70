/**
 * `mantle principal create|list|update|rotate|delete`: the registrar's principals, managed directly in
 * DynamoDB: the local stand-in with --dynamodb_endpoint (or AWS_ENDPOINT_URL_DYNAMODB), or AWS with the
 * usual credentials. A secret is generated and printed once (create, rotate); the registrar keeps only
 * its hash. The master re-reads a principal on every request, so a change, a rotation or a deletion
 * takes effect at the next one.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { createAwsClients } from '#shared/aws/clients.js';
import { Registrar, tableNames } from '../functions/registrar/index.js';
import { PRINCIPAL_VERBS, type PrincipalOptions } from './principal-verbs.js';

export const PRINCIPAL_USAGE = `Usage: mantle principal <create|list|update|rotate|delete> [options]

  create --name <principal>          a new principal; its secret is printed once
    --kind <framework|operator|agent>  what it may call (default framework)
    --roles <r1,r2>                    roles it may use; * for any (default *)
    --acl <json|@file>                 its own ACL (docs/security.md); fields left out are the cluster's
  list                               every principal: kind, roles, its own ACL (never a secret)
  update --name <principal>          change --roles and/or --acl (--acl none: the cluster's ACL again)
  rotate --name <principal>          a new secret, printed once; the old one stops working at once
  delete --name <principal>          its credentials stop working at once

  --cluster <name>                   the cluster's table prefix (default mantle)
  --dynamodb_endpoint <url>          the local stand-in (default: AWS_ENDPOINT_URL_DYNAMODB, else AWS)`;

const OPTIONS = {
  name: { type: 'string' },
  kind: { type: 'string', default: 'framework' },
  roles: { type: 'string' },
  acl: { type: 'string' },
  cluster: { type: 'string', default: 'mantle' },
  dynamodb_endpoint: { type: 'string' },
} as const;

/** --acl: JSON, @file with JSON, or `none` (null: remove the principal's own ACL). */
export function readAclOption(value: string): unknown {
  const text = value.startsWith('@') ? readFileSync(value.slice(1), 'utf8') : value;
  if (text.trim() === 'none') return null;
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new Error(`--acl must be JSON (or @file, or none): ${(error as Error).message}`, { cause: error });
  }
}

function parseOptions(verb: string, args: readonly string[]): PrincipalOptions | string {
  try {
    const { values } = parseArgs({ args: [...args], options: OPTIONS, strict: true });
    if (verb !== 'list' && !values.name) return '--name is required';
    return {
      ...(values.name ? { name: values.name } : {}),
      kind: values.kind,
      ...(values.roles !== undefined ? { roles: values.roles.split(',').map((role) => role.trim()) } : {}),
      ...(values.acl !== undefined ? { acl: readAclOption(values.acl) } : {}),
      cluster: values.cluster,
      ...(values.dynamodb_endpoint ? { endpoint: values.dynamodb_endpoint } : {}),
    };
  } catch (error) {
    return (error as Error).message;
  }
}

/** Says where the registrar was looked for when DynamoDB itself fails (no table, no endpoint). */
function describeFault(error: unknown, endpoint: string | undefined, table: string): string {
  const where = `${endpoint ?? 'DynamoDB'}, table ${table}`;
  const hint = (error as Error).name === 'ResourceNotFoundException' ? ' (is --cluster right?)' : '';
  return `${(error as Error).message} (${where})${hint}`;
}

export async function runPrincipalCli(argv: readonly string[]): Promise<number> {
  const [verb, ...rest] = argv;
  const run = verb === undefined ? undefined : PRINCIPAL_VERBS[verb];
  if (verb === undefined || run === undefined) {
    console.error(PRINCIPAL_USAGE);
    return 2;
  }
  const options = parseOptions(verb, rest);
  if (typeof options === 'string') {
    console.error(`mantle principal ${verb}: ${options}\n\n${PRINCIPAL_USAGE}`);
    return 2;
  }
  const endpoint = options.endpoint ?? process.env.AWS_ENDPOINT_URL_DYNAMODB;
  const clients = createAwsClients(endpoint ? { endpoints: { dynamodb: endpoint } } : {});
  const tables = tableNames(options.cluster);
  try {
    const registrar = new Registrar({ documents: clients.documents, tables, clusterId: '' });
    const outcome = await run(registrar, options).catch((error: unknown) =>
      describeFault(error, endpoint, tables.principals),
    );
    if (typeof outcome === 'string') {
      console.error(`mantle principal ${verb}: ${outcome}`);
      return 1;
    }
    for (const line of outcome) console.log(line);
    return 0;
  } finally {
    clients.destroy();
  }
}
