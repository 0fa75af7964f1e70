/**
 * The REST API's Lambda authorizer over the registrar's principals: who gets which routes, what is
 * refused (401 through API Gateway's "Unauthorized"), and that the edge and the app (which
 * authenticates again with MANTLE_AUTHENTICATE=true) agree on every authenticated route.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authorize, stageArn, UNAUTHORIZED } from '../../functions/master/authorizer.js';
import { API_ROUTES, policyPath, routesFor } from '../../functions/master/routes.js';
import { Authenticator, bearerToken } from '../../functions/master/auth.js';
import type { PrincipalKind } from '../../functions/registrar/index.js';
import { startTestMaster, type TestMaster } from '../support/master.js';

const STAGE = 'arn:aws:execute-api:us-east-1:123456789012:abcdef1234/v1';
const KINDS: PrincipalKind[] = ['framework', 'operator', 'agent'];

let tm: TestMaster;
let authenticator: Authenticator;
const credentials = new Map<PrincipalKind, { principal: string; secret: string }>();
const warnings: Array<Record<string, unknown>> = [];
const log = { warn: (_message: string, attributes: Record<string, unknown>) => warnings.push(attributes) };

beforeAll(async () => {
  tm = await startTestMaster({ authenticate: true });
  authenticator = new Authenticator(tm.master.registrar);
  for (const kind of KINDS) {
    const principal = `${kind}-${randomBytes(3).toString('hex')}`;
    const secret = randomBytes(24).toString('base64url');
    const created = await tm.master.registrar.principals.create({ principal, secret, kind, roles: ['*'] });
    if (!created.ok) throw new Error(created.error.message);
    credentials.set(kind, { principal, secret });
  }
});
afterAll(() => tm.close());

function basic(kind: PrincipalKind): string {
  const { principal, secret } = credentials.get(kind) as { principal: string; secret: string };
  return `Basic ${Buffer.from(`${principal}:${secret}`).toString('base64')}`;
}

/** An IAM resource pattern ('*' matches anything, '/' included) against an ARN. */
function iamMatches(pattern: string, arn: string): boolean {
  const regex = pattern.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*');
  return new RegExp(`^${regex}$`).test(arn);
}

function methodArn(method: string, path: string): string {
  return `${STAGE}/${method}${path}`;
}

describe('the authorizer', () => {
  it('allows a principal every route of its kind (API Gateway caches the answer per token), and nothing else', async () => {
    for (const kind of KINDS) {
      const result = await authorize(authenticator, {
        authorizationToken: basic(kind),
        methodArn: methodArn('POST', '/api/v1/scheduler'),
      });
      expect(result.principalId).toBe(credentials.get(kind)?.principal);
      expect(result.context).toEqual({ principal: credentials.get(kind)?.principal, kind });
      const [statement] = result.policyDocument.Statement as Array<{
        Effect: string;
        Resource: string[];
        Action: string;
      }>;
      expect(statement?.Effect).toBe('Allow');
      expect(statement?.Action).toBe('execute-api:Invoke');
      expect(statement?.Resource).toEqual(routesFor(kind).map((route) => methodArn(route.method, policyPath(route))));
    }
    expect(routesFor('agent').map((route) => route.path)).toEqual(['/internal/v1/agents/register']);
    // The cluster's metrics (every tenant's frameworks, tasks and agents) are for operators only.
    const jobs = API_ROUTES.filter((route) => route.path.startsWith('/api/jobs/v1/'));
    // Marathon's v2 API: every route for frameworks and operators (the app shows each principal its roles' apps).
    const marathon = API_ROUTES.filter((route) => route.path.startsWith('/v2/'));
    expect(marathon.length).toBeGreaterThan(0);
    const framework = routesFor('framework').map((route) => `${route.method} ${route.path}`);
    // The files API: a framework reads its own tasks' output (the app checks whose), an operator every task's.
    const files = ['/files/browse', '/files/read', '/files/download'];
    expect(framework).toEqual([
      'POST /api/v1/scheduler',
      ...jobs.filter((route) => route.method !== 'PUT').map((route) => `${route.method} ${route.path}`),
      ...marathon.map((route) => `${route.method} ${route.path}`),
      ...files.map((path) => `GET ${path}`),
    ]);
    // A queue's weight and quota are operators'.
    expect(framework).not.toContain('PUT /api/jobs/v1/queues/{name+}');
    expect(routesFor('operator').map((route) => route.path)).toEqual([
      '/api/v1/scheduler',
      '/api/v1',
      '/metrics/snapshot',
      '/metrics',
      ...['state', 'state-summary', 'frameworks', 'slaves', 'tasks', 'roles', 'flags'].flatMap((path) => [
        `/master/${path}`,
        `/${path}`,
      ]),
      '/version',
      ...jobs.map((route) => route.path),
      ...marathon.map((route) => route.path),
      ...files,
    ]);
    expect(policyPath({ path: '/api/jobs/v1/jobs/{id}/logs' })).toBe('/api/jobs/v1/jobs/*/logs');
    expect(policyPath({ path: '/v2/apps/{id+}' })).toBe('/v2/apps/*');
  });

  it('accepts the Bearer token `mantle principal create` prints', async () => {
    const result = await authorize(authenticator, {
      authorizationToken: `Bearer ${bearerToken(credentials.get('operator') as { principal: string; secret: string })}`,
      methodArn: methodArn('GET', '/metrics/snapshot'),
    });
    expect(result.context?.kind).toBe('operator');
  });

  it('refuses wrong secrets, unknown principals and malformed headers with "Unauthorized", never logging the secret', async () => {
    const { principal, secret } = credentials.get('framework') as { principal: string; secret: string };
    for (const token of [
      `Basic ${Buffer.from(`${principal}:wrong-secret-wrong-secret`).toString('base64')}`,
      `Basic ${Buffer.from(`nobody:${secret}`).toString('base64')}`,
      'Basic',
      `Digest ${secret}`,
      '',
    ]) {
      await expect(
        authorize(authenticator, { authorizationToken: token, methodArn: methodArn('POST', '/api/v1/scheduler') }, log),
      ).rejects.toThrow(new Error(UNAUTHORIZED));
    }
    expect(warnings).toHaveLength(5);
    expect(JSON.stringify(warnings)).not.toContain(secret);
  });

  it('fails loudly on something that is not a method ARN (a misconfigured integration)', async () => {
    expect(stageArn('arn:aws:execute-api:us-east-1:123456789012:abc/v1/POST/api/v1/scheduler')).toBe(
      'arn:aws:execute-api:us-east-1:123456789012:abc/v1',
    );
    expect(stageArn('arn:aws:lambda:us-east-1:123456789012:function:x')).toBeUndefined();
    await expect(
      authorize(authenticator, { authorizationToken: basic('framework'), methodArn: 'not-an-arn' }),
    ).rejects.toThrow(/Not an API Gateway method ARN/);
  });

  it('agrees with the app on every route the app authenticates', async () => {
    const authenticated = API_ROUTES.filter(
      (route) => route.callers !== 'public' && route.path !== '/metrics/snapshot',
    );
    expect(authenticated.length).toBeGreaterThan(0);
    for (const route of authenticated) {
      // A path parameter's value, as a client sends it.
      const path = route.path.replace(/\{[^}]+\}/g, 'x');
      for (const kind of KINDS) {
        const edge = await authorize(authenticator, {
          authorizationToken: basic(kind),
          methodArn: methodArn(route.method, path),
        });
        const allowedAtEdge = (edge.policyDocument.Statement[0] as { Resource: string[] }).Resource.some((resource) =>
          iamMatches(resource, methodArn(route.method, path)),
        );
        const response = await fetch(`${tm.url}${path}`, {
          method: route.method,
          headers: { 'Content-Type': 'application/json', Authorization: basic(kind) },
          ...(route.method === 'GET' ? {} : { body: '{}' }),
        });
        await response.text();
        // The app answers 403 to a principal of the wrong kind, and otherwise something else (400 to our
        // empty body, 404, or 503 where Jobs does not run, as here).
        expect(response.status === 403, `${kind} ${route.path}: app ${response.status}`).toBe(!allowedAtEdge);
      }
    }
  });
});
