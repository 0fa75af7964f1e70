/**
 * `mantle principal create`: adds a principal to the registrar and prints its credentials once
 * (the registrar keeps only a hash). Talks to DynamoDB directly: the local stand-in with
 * --dynamodb_endpoint (or AWS_ENDPOINT_URL_DYNAMODB), or AWS with the usual credentials.
 */
import { parseArgs } from 'node:util';
import { createAwsClients } from '#shared/aws/clients.js';
import { bearerToken, newSecret } from '../functions/master/auth.js';
import { Registrar, tableNames, type PrincipalKind } from '../functions/registrar/index.js';

export const PRINCIPAL_USAGE = `Usage: mantle principal create --name <principal> [options]

  --kind <framework|operator|agent>  what it may call (default framework)
  --roles <r1,r2>                    roles it may use; * for any (default *)
  --cluster <name>                   the cluster's table prefix (default mantle)
  --dynamodb_endpoint <url>          the local stand-in (default: AWS_ENDPOINT_URL_DYNAMODB, else AWS)
The secret is generated and printed once, with the Basic and Bearer credentials to use.`;

export async function runPrincipalCli(argv: readonly string[]): Promise<number> {
  const [verb, ...rest] = argv;
  if (verb !== 'create') {
    console.error(PRINCIPAL_USAGE);
    return 2;
  }
  let values;
  try {
    ({ values } = parseArgs({
      args: rest,
      options: {
        name: { type: 'string' },
        kind: { type: 'string', default: 'framework' },
        roles: { type: 'string', default: '*' },
        cluster: { type: 'string', default: 'mantle' },
        dynamodb_endpoint: { type: 'string' },
      },
      strict: true,
    }));
  } catch (error) {
    console.error(`mantle principal create: ${(error as Error).message}\n\n${PRINCIPAL_USAGE}`);
    return 2;
  }
  if (!values.name) {
    console.error(`mantle principal create: --name is required\n\n${PRINCIPAL_USAGE}`);
    return 2;
  }
  const endpoint = values.dynamodb_endpoint ?? process.env.AWS_ENDPOINT_URL_DYNAMODB;
  const clients = createAwsClients(endpoint ? { endpoints: { dynamodb: endpoint } } : {});
  try {
    const tables = tableNames(values.cluster);
    const registrar = new Registrar({ documents: clients.documents, tables, clusterId: '' });
    const secret = newSecret();
    const created = await registrar.principals
      .create({
        principal: values.name,
        secret,
        kind: values.kind as PrincipalKind,
        roles: values.roles.split(',').map((role) => role.trim()),
      })
      .catch((error: unknown) => {
        const where = `${endpoint ?? 'DynamoDB'}, table ${tables.principals}`;
        const hint = (error as Error).name === 'ResourceNotFoundException' ? ' (is --cluster right?)' : '';
        return { ok: false as const, error: { message: `${(error as Error).message} (${where})${hint}` } };
      });
    if (!created.ok) {
      console.error(`mantle principal create: ${created.error.message}`);
      return 1;
    }
    const credentials = { principal: values.name, secret };
    console.log(`principal ${values.name} (${created.value.kind}, roles ${created.value.roles.join(',')})`);
    console.log(`  MANTLE_PRINCIPAL=${values.name} MANTLE_SECRET=${secret}`);
    console.log(`  Authorization: Basic ${Buffer.from(`${values.name}:${secret}`).toString('base64')}`);
    console.log(`  Authorization: Bearer ${bearerToken(credentials)}`);
    console.log('The secret is not stored in clear anywhere: keep it now.');
    return 0;
  } finally {
    clients.destroy();
  }
}
