/**
 * The master's HTTP routes as the edge sees them: who may call each (the kinds of principal the app
 * itself accepts there, functions/handlers/app.ts) and which one streams. The CDK stack builds the REST API from
 * this table and the Lambda authorizer decides from it, so the two cannot disagree.
 */
import type { PrincipalKind } from '../registrar/principals.js';

export interface ApiRoute {
  readonly method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  readonly path: string;
  /**
   * `{name}` is a path parameter, `{name+}` a greedy one (it may hold '/'), as API Gateway writes them.
   * The principal kinds allowed; "public" routes have no authorizer (health checks).
   */
  readonly callers: readonly PrincipalKind[] | 'public';
  /** Answered by the streaming entry point (SUBSCRIBE streams; every scheduler call shares the path). */
  readonly streaming?: boolean;
}

/** The legacy read endpoints Mesos serves under `/master/` and at the root alike (handlers/legacy-routes.ts). */
export const LEGACY_MASTER_PATHS = [
  'state',
  'state-summary',
  'frameworks',
  'slaves',
  'tasks',
  'roles',
  'flags',
] as const;

/** The legacy read endpoints (every tenant's agents, frameworks and tasks): operators'. */
const LEGACY_ROUTES: readonly ApiRoute[] = [
  ...LEGACY_MASTER_PATHS.flatMap((path) => [`/master/${path}`, `/${path}`]),
  '/version',
].map((path) => ({ method: 'GET', path, callers: ['operator'] }));

const MARATHON_ROUTES: readonly ApiRoute[] = (
  [
    ...(['GET', 'POST'] as const).map((method) => ({ method, path: '/v2/apps' })),
    ...(['GET', 'PUT', 'PATCH', 'DELETE', 'POST'] as const).map((method) => ({ method, path: '/v2/apps/{id+}' })),
    { method: 'GET', path: '/v2/tasks' },
    { method: 'GET', path: '/v2/deployments' },
    { method: 'DELETE', path: '/v2/deployments/{id}' },
    { method: 'GET', path: '/v2/groups' },
    { method: 'GET', path: '/v2/info' },
    // Server-sent events: streamed, as SUBSCRIBE is (the stream ends when the streaming function's time is up).
    { method: 'GET', path: '/v2/events', streaming: true },
  ] satisfies Omit<ApiRoute, 'callers'>[]
).map((route): ApiRoute => ({ ...route, callers: ['framework', 'operator'] }));

export const API_ROUTES: readonly ApiRoute[] = [
  { method: 'POST', path: '/api/v1/scheduler', callers: ['framework', 'operator'], streaming: true },
  // The operator API (functions/operator/): every call shares the path, and SUBSCRIBE streams.
  { method: 'POST', path: '/api/v1', callers: ['operator'], streaming: true },
  // The cluster's figures (frameworks, tasks, agents of every tenant) are for operators.
  { method: 'GET', path: '/metrics/snapshot', callers: ['operator'] },
  { method: 'GET', path: '/metrics', callers: ['operator'] },
  ...LEGACY_ROUTES,
  { method: 'POST', path: '/internal/v1/agents/register', callers: ['agent'] },
  // Mantle Jobs (frameworks/jobs/api.ts): which queues a principal may use is the app's to decide; a
  // queue's weight and quota are operators'.
  { method: 'POST', path: '/api/jobs/v1/jobs', callers: ['framework', 'operator'] },
  { method: 'GET', path: '/api/jobs/v1/jobs', callers: ['framework', 'operator'] },
  { method: 'GET', path: '/api/jobs/v1/jobs/{id}', callers: ['framework', 'operator'] },
  { method: 'DELETE', path: '/api/jobs/v1/jobs/{id}', callers: ['framework', 'operator'] },
  { method: 'GET', path: '/api/jobs/v1/jobs/{id}/logs', callers: ['framework', 'operator'] },
  { method: 'GET', path: '/api/jobs/v1/queues', callers: ['framework', 'operator'] },
  { method: 'GET', path: '/api/jobs/v1/queues/{name+}', callers: ['framework', 'operator'] },
  { method: 'PUT', path: '/api/jobs/v1/queues/{name+}', callers: ['operator'] },
  // Marathon's v2 API over Mantle Services (frameworks/services/api.ts): which apps a principal sees and changes
  // (those of its roles) is the app's to decide. App ids are paths: `{id+}` also ends in /restart or /tasks[/…].
  ...MARATHON_ROUTES,
  // Mesos's files API over the tasks' output (functions/files/): a framework's principal reads its own
  // frameworks' tasks, an operator every task's. A download streams the whole file.
  { method: 'GET', path: '/files/browse', callers: ['framework', 'operator'] },
  { method: 'GET', path: '/files/read', callers: ['framework', 'operator'] },
  { method: 'GET', path: '/files/download', callers: ['framework', 'operator'], streaming: true },
  { method: 'GET', path: '/health', callers: 'public' },
  // The web UI's page and files (ui-route.ts): static, public; the data it shows comes from the routes above.
  ...['/', '/ui', '/ui/{path+}', '/assets/{path+}', '/favicon.svg'].map((path): ApiRoute => ({
    method: 'GET',
    path,
    callers: 'public',
  })),
  { method: 'GET', path: '/master/health', callers: 'public' },
  // Marathon's liveness probe, public as Marathon's is.
  { method: 'GET', path: '/ping', callers: 'public' },
];

/** A route's paths in an IAM policy: each path parameter (greedy or not) matches anything. */
export function policyPath(route: Pick<ApiRoute, 'path'>): string {
  return route.path.replace(/\{[^}]+\}/g, '*');
}

/** The routes a principal of this kind may call. */
export function routesFor(kind: PrincipalKind): ApiRoute[] {
  return API_ROUTES.filter((route) => route.callers !== 'public' && route.callers.includes(kind));
}
