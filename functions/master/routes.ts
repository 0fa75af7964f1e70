/**
 * The master's HTTP routes as the edge sees them: who may call each (the kinds of principal the app
 * itself accepts there, functions/handlers/app.ts) and which one streams. The CDK stack builds the REST API from
 * this table and the Lambda authorizer decides from it, so the two cannot disagree.
 */
import type { PrincipalKind } from '../registrar/principals.js';

export interface ApiRoute {
  readonly method: 'GET' | 'POST';
  readonly path: string;
  /** The principal kinds allowed; "public" routes have no authorizer (health checks). */
  readonly callers: readonly PrincipalKind[] | 'public';
  /** Answered by the streaming entry point (SUBSCRIBE streams; every scheduler call shares the path). */
  readonly streaming?: boolean;
}

export const API_ROUTES: readonly ApiRoute[] = [
  { method: 'POST', path: '/api/v1/scheduler', callers: ['framework', 'operator'], streaming: true },
  // The cluster's figures (frameworks, tasks, agents of every tenant) are for operators.
  { method: 'GET', path: '/metrics/snapshot', callers: ['operator'] },
  { method: 'POST', path: '/internal/v1/agents/register', callers: ['agent'] },
  { method: 'GET', path: '/health', callers: 'public' },
  { method: 'GET', path: '/master/health', callers: 'public' },
];

/** The routes a principal of this kind may call. */
export function routesFor(kind: PrincipalKind): ApiRoute[] {
  return API_ROUTES.filter((route) => route.callers !== 'public' && route.callers.includes(kind));
}
