/**
 * The REST API's Lambda authorizer (a TOKEN authorizer on the Authorization header): the same
 * credentials the app checks (Basic or Bearer over the registrar's principals, functions/master/auth.ts),
 * checked at the edge so that an unauthenticated call never costs a Lambda of the app.
 *
 * API Gateway caches the answer per token, for every route, so the policy allows all the routes the
 * principal's kind may call (functions/master/routes.ts), not just the one asked for: a framework's cached
 * token then still cannot reach the agents' routes (403), and an agent's cannot reach the scheduler.
 */
import type { APIGatewayAuthorizerResult, APIGatewayTokenAuthorizerEvent } from 'aws-lambda';
import type { Authenticator } from './auth.js';
import { routesFor } from './routes.js';

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

export async function authorize(
  authenticator: Pick<Authenticator, 'authenticate'>,
  event: Pick<APIGatewayTokenAuthorizerEvent, 'authorizationToken' | 'methodArn'>,
  log?: AuthorizerLog,
): Promise<APIGatewayAuthorizerResult> {
  const stage = stageArn(event.methodArn);
  if (!stage) throw new Error(`Not an API Gateway method ARN: ${event.methodArn}`);
  const result = await authenticator.authenticate(event.authorizationToken, ['framework', 'operator', 'agent']);
  if (!result.ok) {
    // The reason only: never the header, which holds the secret.
    log?.warn('Authorization refused', { reason: result.error.message, methodArn: event.methodArn });
    throw new Error(UNAUTHORIZED);
  }
  const { principal, kind } = result.value;
  return {
    principalId: principal,
    policyDocument: {
      Version: '2012-10-17',
      Statement: [
        {
          Action: 'execute-api:Invoke',
          Effect: 'Allow',
          Resource: routesFor(kind).map((route) => `${stage}/${route.method}${route.path}`),
        },
      ],
    },
    context: { principal, kind },
  };
}
