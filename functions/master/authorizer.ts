/**
 * The REST API's Lambda authorizer (a TOKEN authorizer on the Authorization header): the same
 * credentials the app checks (Basic or Bearer over the registrar's principals, functions/master/auth.ts),
 * checked at the edge so that an unauthenticated call never costs a Lambda of the app.
 *
 * API Gateway caches the answer per token, for every route, so the policy allows all the routes the
 * principal's kind may call (functions/master/routes.ts), not just the one asked for: a framework's cached
 * token then still cannot reach the agents' routes (403), and an agent's cannot reach the scheduler.
 *
 * In `aws-sts` agent identity mode ("Agent identity" in docs/security.md) agents present their AWS
 * identity instead, verified here as the app verifies it, and an agent principal's credential is refused.
 */
import type { APIGatewayAuthorizerResult, APIGatewayTokenAuthorizerEvent } from 'aws-lambda';
import { isIdentityToken } from '#shared/protocol/agent-identity.js';
import type { PrincipalKind } from '../registrar/index.js';
import type { Authenticator } from './auth.js';
import { policyPath, routesFor } from './routes.js';
import type { AgentIdentityVerifier } from './sts-identity.js';

/** The message API Gateway turns into a 401 (its UNAUTHORIZED gateway response). */
export const UNAUTHORIZED = 'Unauthorized';

/** `arn:aws:execute-api:<region>:<account>:<api>/<stage>` out of a method ARN, or undefined. */
export function stageArn(methodArn: string): string | undefined {
  const match = /^(arn:[^:]+:execute-api:[^:]+:[^:]+:[^/]+\/[^/]+)\/[A-Z]+\//.exec(methodArn);
  return match?.[1];
}

export interface AuthorizerLog {
  warn(message: string, attributes: Record<string, unknown>): void;
}

function allow(stage: string, principal: string, kind: PrincipalKind): APIGatewayAuthorizerResult {
  return {
    principalId: principal,
    policyDocument: {
      Version: '2012-10-17',
      Statement: [
        {
          Action: 'execute-api:Invoke',
          Effect: 'Allow',
          Resource: routesFor(kind).map((route) => `${stage}/${route.method}${policyPath(route)}`),
        },
      ],
    },
    context: { principal, kind },
  };
}

/**
 * `agentIdentity`: the verifier of agents' AWS identities when the cluster's agents use them; then
 * they are the only agents let through.
 */
export async function authorize(
  authenticator: Pick<Authenticator, 'authenticate'>,
  event: Pick<APIGatewayTokenAuthorizerEvent, 'authorizationToken' | 'methodArn'>,
  log?: AuthorizerLog,
  agentIdentity?: AgentIdentityVerifier,
): Promise<APIGatewayAuthorizerResult> {
  const stage = stageArn(event.methodArn);
  if (!stage) throw new Error(`Not an API Gateway method ARN: ${event.methodArn}`);
  const refuse = (reason: string): never => {
    // The reason only: never the header, which holds the secret.
    log?.warn('Authorization refused', { reason, methodArn: event.methodArn });
    throw new Error(UNAUTHORIZED);
  };
  if (isIdentityToken(event.authorizationToken)) {
    if (!agentIdentity) return refuse("This cluster's agents authenticate as an agent principal");
    const verified = await agentIdentity.verify(event.authorizationToken);
    // STS not answering is a fault (a 500 the agent retries), not a refusal.
    if (!verified.ok && verified.error.code === 'UNAVAILABLE') throw new Error(verified.error.message);
    if (!verified.ok) return refuse(verified.error.message);
    return allow(stage, verified.value.arn, 'agent');
  }
  const result = await authenticator.authenticate(event.authorizationToken, ['framework', 'operator', 'agent']);
  if (!result.ok) return refuse(result.error.message);
  const { principal, kind } = result.value;
  if (kind === 'agent' && agentIdentity) return refuse("This cluster's agents authenticate with their AWS identity");
  return allow(stage, principal, kind);
}
