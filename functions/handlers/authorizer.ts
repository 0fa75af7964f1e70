/**
 * Lambda entry point of the REST API's TOKEN authorizer (functions/master/authorizer.ts): framework and
 * operator principals for the scheduler API; for the agents' API, agent principals or, with
 * MANTLE_AGENT_IDENTITY=aws-sts, agents' AWS identities (verified with STS). It reads only the
 * principals table.
 */
import type { APIGatewayAuthorizerResult, APIGatewayTokenAuthorizerEvent } from 'aws-lambda';
import { createAwsClients } from '#shared/aws/clients.js';
import { authorize } from '../master/authorizer.js';
import { createLogger } from '#shared/log.js';
import { Authenticator } from '../master/auth.js';
import { agentIdentityFromEnvironment } from '../master/config.js';
import { StsIdentityVerifier } from '../master/sts-identity.js';
import { Registrar, tableNamesFromEnvironment } from '../registrar/index.js';

const registrar = new Registrar({
  documents: createAwsClients().documents,
  tables: tableNamesFromEnvironment(),
  clusterId: process.env.MANTLE_CLUSTER_ID ?? '',
});
// The principal's item is read on every request; only scrypt verifications are cached (auth.ts).
const authenticator = new Authenticator(registrar);
const logger = createLogger('authorizer');
// Required, as in every master function: without it the authorizer fails closed at its cold start.
const agents = agentIdentityFromEnvironment(process.env);
const agentIdentity =
  agents.mode === 'aws-sts'
    ? new StsIdentityVerifier(agents, process.env.MANTLE_CLUSTER ?? '', process.env.MANTLE_AGENT_ROLE_ID || undefined)
    : undefined;

export function handler(event: APIGatewayTokenAuthorizerEvent): Promise<APIGatewayAuthorizerResult> {
  return authorize(authenticator, event, logger, agentIdentity);
}
