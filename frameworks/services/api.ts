/**
 * Marathon's v2 REST API over Mantle Services (docs/services.md), mounted by the master's app at /v2 with the
 * master's authentication:
 *
 *   GET|POST /apps                       list ({"apps": […]}; ?id= ?cmd= ?label=, filters.ts) · create: 201 with
 *                                        the app, its version, deployments
 *   GET|PUT|PATCH|DELETE /apps/{id}      {"app": …} · update or scale (partial, ?force=true): {deploymentId,
 *                                        version} (201 when PUT creates) · delete: {deploymentId, version}
 *   POST /apps/{id}/restart              a rolling restart: {deploymentId, version}
 *   GET  /apps/{id}/tasks                {"tasks": […]}
 *   DELETE /apps/{id}/tasks/{taskId}     kill (?scale=true lowers instances): {"task": …} or {deploymentId, version}
 *   GET  /tasks                          every task (?status=running …): {"tasks": […]}
 *   GET  /deployments[/{id}]             the running deployments, or one
 *   DELETE /deployments/{id}             roll back (200 {deploymentId, version}) or ?force=true stop (202)
 *   GET  /groups                         the groups the app ids' paths make
 *   GET  /info                           the framework's name, version, Marathon-shaped config
 *   GET  /events                         server-sent events (events.ts)
 *
 * App ids are paths, so the app routes parse the rest of the path themselves. A principal sees and changes only
 * the apps of its roles (an app's `role`; operators: all); another role's app is answered 404, as an unknown
 * id, and creating one is 403. Errors are Marathon's JSON (`{"message"}`, a 422 adds `details`).
 */
import { Hono, type Context } from 'hono';
import { allowsRole } from '#shared/acl.js';
import type { Logger } from '#shared/log.js';
import { authenticated, jsonBody, problem, type AuthenticationOptions, type Caller } from '../common/api.js';
import { streamEvents } from './events.js';
import { appMatches, parseLabelQuery, taskStatusMatches } from './filters.js';
import { isScaleOnly, parseApp, type App, type InvalidApp } from './model.js';
import type { ServicesError, ServicesService } from './service.js';
import { appView, deploymentView, groupsView, taskView } from './views.js';

export interface ServicesEnv {
  Variables: { caller: Caller; services: ServicesService };
}
type ServicesContext = Context<ServicesEnv>;

export interface ServicesApiOptions extends AuthenticationOptions {
  readonly services: (() => ServicesService | undefined | Promise<ServicesService | undefined>) | undefined;
  readonly logger: Logger;
  readonly frameworkId?: () => Promise<string | undefined>;
}

export const MARATHON_VERSION = '1.10.0';

function mayUse(caller: Caller, role: string): boolean {
  return caller.operator || allowsRole(caller.acl, role);
}

function invalid(c: Context, error: InvalidApp): Response {
  return c.json({ message: error.message, details: error.details }, 422);
}

function notFound(c: Context, id: string): Response {
  return problem(c, 404, `App '${id}' does not exist`);
}

function forbidden(c: ServicesContext, role: string): Response {
  const principal = c.get('caller').principal ?? '';
  return problem(c, 403, `Not Authorized to perform this action! Principal '${principal}' may not use role '${role}'`);
}

function flag(c: Context, name: string): boolean {
  return c.req.query(name) === 'true';
}

/** Whether the caller sees the app: of its roles, and not being deleted (Marathon drops it from its groups at once). */
function shown(c: ServicesContext, record: { app: App; deleting: boolean }): boolean {
  return !record.deleting && mayUse(c.get('caller'), record.app.role);
}

/** The app named, if the caller may see it. */
async function visible(c: ServicesContext, id: string) {
  const record = await c.get('services').store.app(id);
  return record && shown(c, record) ? record : undefined;
}

async function listApps(c: ServicesContext): Promise<Response> {
  const services = c.get('services');
  const label = c.req.query('label');
  const labels = label === undefined ? [] : parseLabelQuery(label);
  if (labels === undefined) {
    return invalid(c, {
      code: 'INVALID_APP',
      message: `Invalid label selector: '${label ?? ''}'`,
      details: [{ path: '/label', errors: ['selectors are key, key==value, key!=value, key in (…), key notin (…)'] }],
    });
  }
  const filter = { id: c.req.query('id'), cmd: c.req.query('cmd'), labels };
  const records = (await services.store.apps()).filter((record) => shown(c, record) && appMatches(record.app, filter));
  const apps = await Promise.all(
    records.map(async (record) => appView(record, await services.store.tasks(record.app.id))),
  );
  return c.json({ apps });
}

async function createApp(c: ServicesContext): Promise<Response> {
  const body = await jsonBody(c);
  if (!body.ok) return body.response;
  const parsed = parseApp(body.value);
  if (!parsed.ok) return invalid(c, parsed.error);
  if (!mayUse(c.get('caller'), parsed.value.role)) return forbidden(c, parsed.value.role);
  const created = await c.get('services').create(parsed.value);
  if (!created.ok) return refusedCreate(c, created.error);
  const view = appView(created.value, []);
  return c.json(view, 201, { Location: `apps${created.value.app.id}` });
}

async function showApp(c: ServicesContext, id: string): Promise<Response> {
  const record = await visible(c, id);
  if (!record) return notFound(c, id);
  return c.json({ app: appView(record, await c.get('services').store.tasks(id)) });
}

/** PUT / PATCH: fields given replace the app's (Marathon's partial update); an unknown app is created (PUT). */
async function updateApp(c: ServicesContext, id: string): Promise<Response> {
  const body = await jsonBody(c);
  if (!body.ok) return body.response;
  if (typeof body.value !== 'object' || body.value === null || Array.isArray(body.value)) {
    return invalid(c, {
      code: 'INVALID_APP',
      message: 'Object is not valid',
      details: [{ path: '/', errors: ['an app definition is a JSON object'] }],
    });
  }
  const given = body.value as Record<string, unknown>;
  const record = await visible(c, id);
  if (!record) {
    if (c.req.method === 'PATCH' || (await c.get('services').store.app(id))) return notFound(c, id);
    return createFromPut(c, id, given);
  }
  const base: Record<string, unknown> = isScaleOnly(given) ? record.app : stripPorts(record.app, given);
  const parsed = parseApp({ ...base, ...given, id }, id);
  if (!parsed.ok) return invalid(c, parsed.error);
  if (!mayUse(c.get('caller'), parsed.value.role)) return forbidden(c, parsed.value.role);
  const updated = await c.get('services').update(parsed.value, flag(c, 'force'));
  if (!updated.ok) return lockedOrMissing(c, id, updated.error);
  return c.json(updated.value, 200);
}

/** A new `ports` replaces the stored `portDefinitions` (they are one field in two forms). */
function stripPorts(app: App, given: Record<string, unknown>): Record<string, unknown> {
  if (given.ports === undefined) return app;
  const { portDefinitions: _definitions, ...rest } = app;
  return rest;
}

async function createFromPut(c: ServicesContext, id: string, given: Record<string, unknown>): Promise<Response> {
  const parsed = parseApp({ ...given, id }, id);
  if (!parsed.ok) return invalid(c, parsed.error);
  if (!mayUse(c.get('caller'), parsed.value.role)) return forbidden(c, parsed.value.role);
  const created = await c.get('services').create(parsed.value);
  if (!created.ok) return refusedCreate(c, created.error);
  return c.json({ deploymentId: created.value.deployment?.id ?? null, version: created.value.version }, 201);
}

/** 409: the id exists, or its app is still being deleted (locked by the deletion's deployment). */
function refusedCreate(c: Context, error: ServicesError): Response {
  return error.code === 'LOCKED' ? lockedOrMissing(c, '', error) : problem(c, 409, error.message);
}

function lockedOrMissing(
  c: Context,
  id: string,
  error: { code: string; message: string; deployments?: readonly string[] },
) {
  if (error.code === 'LOCKED') {
    return c.json(
      { message: error.message, deployments: (error.deployments ?? []).map((each) => ({ id: each })) },
      409,
    );
  }
  return notFound(c, id);
}

async function deleteApp(c: ServicesContext, id: string): Promise<Response> {
  if (!(await visible(c, id))) return notFound(c, id);
  const removed = await c.get('services').remove(id, flag(c, 'force'));
  return removed.ok ? c.json(removed.value) : lockedOrMissing(c, id, removed.error);
}

async function restartApp(c: ServicesContext, id: string): Promise<Response> {
  if (!(await visible(c, id))) return notFound(c, id);
  const restarted = await c.get('services').restart(id, flag(c, 'force'));
  return restarted.ok ? c.json(restarted.value) : lockedOrMissing(c, id, restarted.error);
}

async function appTasks(c: ServicesContext, id: string): Promise<Response> {
  const record = await visible(c, id);
  if (!record) return notFound(c, id);
  const tasks = await c.get('services').store.tasks(id);
  return c.json({ tasks: tasks.map((task) => taskView(record.app, task)) });
}

async function killTask(c: ServicesContext, id: string, taskId: string): Promise<Response> {
  const record = await visible(c, id);
  if (!record) return notFound(c, id);
  const scale = flag(c, 'scale');
  const killed = await c.get('services').killTasks(id, [taskId], scale);
  if (killed.length === 0) return problem(c, 404, `Task '${taskId}' does not exist`);
  if (scale) {
    const after = await c.get('services').store.app(id);
    return c.json({ deploymentId: after?.deployment?.id ?? null, version: after?.version ?? record.version });
  }
  return c.json({ task: taskView(record.app, killed[0] as never) });
}

/** The app routes: the app id is the path up to a trailing `/restart`, `/tasks` or `/tasks/{taskId}`. */
async function appRoute(c: ServicesContext): Promise<Response> {
  const rest = decodeURIComponent(c.req.path.replace(/^.*?\/apps/, ''));
  const method = c.req.method;
  const taskMatch = /^(.*)\/tasks\/([^/]+)$/.exec(rest);
  if (taskMatch) {
    return method === 'DELETE' ? killTask(c, taskMatch[1] ?? '', taskMatch[2] ?? '') : notAllowed(c, ['DELETE']);
  }
  if (rest.endsWith('/tasks')) return method === 'GET' ? appTasks(c, rest.slice(0, -6)) : notAllowed(c, ['GET']);
  if (rest.endsWith('/restart')) return method === 'POST' ? restartApp(c, rest.slice(0, -8)) : notAllowed(c, ['POST']);
  const id = `/${rest.split('/').filter(Boolean).join('/')}`;
  if (method === 'GET') return showApp(c, id);
  if (method === 'PUT' || method === 'PATCH') return updateApp(c, id);
  if (method === 'DELETE') return deleteApp(c, id);
  return notAllowed(c, ['GET', 'PUT', 'PATCH', 'DELETE']);
}

function notAllowed(c: Context, methods: readonly string[]): Response {
  return problem(c, 405, `Method ${c.req.method} is not allowed here`, { Allow: methods.join(', ') });
}

async function allTasks(c: ServicesContext): Promise<Response> {
  const services = c.get('services');
  const statuses = c.req.queries('status');
  const records = (await services.store.apps()).filter((record) => mayUse(c.get('caller'), record.app.role));
  const tasks = await Promise.all(
    records.map(async (record) =>
      (await services.store.tasks(record.app.id))
        .filter((task) => taskStatusMatches(task.state, statuses))
        .map((task) => taskView(record.app, task)),
    ),
  );
  return c.json({ tasks: tasks.flat() });
}

async function deployments(c: ServicesContext): Promise<Response> {
  const records = (await c.get('services').store.apps()).filter((r) => mayUse(c.get('caller'), r.app.role));
  return c.json(records.flatMap((record) => (record.deployment ? [deploymentView(record, record.deployment)] : [])));
}

async function showDeployment(c: ServicesContext): Promise<Response> {
  const id = c.req.param('id') ?? '';
  const found = await c.get('services').deployment(id);
  if (!found?.deployment || !mayUse(c.get('caller'), found.app.role)) {
    return problem(c, 404, `DeploymentPlan ${id} does not exist`);
  }
  return c.json(deploymentView(found, found.deployment));
}

async function cancelDeployment(c: ServicesContext): Promise<Response> {
  const id = c.req.param('id') ?? '';
  const found = await c.get('services').deployment(id);
  if (!found || !mayUse(c.get('caller'), found.app.role)) return problem(c, 404, `DeploymentPlan ${id} does not exist`);
  const result = await c.get('services').cancelDeployment(id, flag(c, 'force'));
  if (result === undefined) return problem(c, 404, `DeploymentPlan ${id} does not exist`);
  return result === null ? c.body(null, 202) : c.json(result);
}

async function groups(c: ServicesContext): Promise<Response> {
  const services = c.get('services');
  const records = (await services.store.apps()).filter((r) => shown(c, r));
  const apps = await Promise.all(records.map(async (r) => appView(r, await services.store.tasks(r.app.id))));
  const version =
    records
      .map((r) => r.version)
      .sort()
      .at(-1) ?? new Date(0).toISOString();
  return c.json(groupsView(apps, version));
}

function info(options: ServicesApiOptions) {
  return async (c: ServicesContext) =>
    c.json({
      name: 'marathon',
      version: MARATHON_VERSION,
      buildref: 'mantle-services',
      elected: true,
      leader: new URL(c.req.url).host,
      frameworkId: (await options.frameworkId?.()) ?? null,
      marathon_config: { framework_name: 'services', mesos_role: '*', features: [] },
      http_config: { http_port: Number(new URL(c.req.url).port || 80) },
      event_subscriber: { type: 'http_callback' },
    });
}

/** The routes, relative to /v2 (`app.route('/v2', servicesApi(…))`). */
export function servicesApi(options: ServicesApiOptions): Hono<ServicesEnv> {
  const api = new Hono<ServicesEnv>();
  api.use('*', authenticated<ServicesEnv>(options));
  api.use('*', async (c, next) => {
    const services = await options.services?.();
    if (!services) return problem(c, 503, 'Mantle Services is not running here');
    c.set('services', services);
    await next();
  });
  api.get('/apps', listApps);
  api.post('/apps', createApp);
  api.all('/apps', (c) => notAllowed(c, ['GET', 'POST']));
  api.all('/apps/*', appRoute);
  api.get('/tasks', allTasks);
  api.get('/deployments', deployments);
  api.get('/deployments/:id', showDeployment);
  api.delete('/deployments/:id', cancelDeployment);
  api.get('/groups', groups);
  api.get('/info', info(options));
  api.get('/events', (c) => streamEvents(c, c.get('services').store, c.get('caller'), mayUse));
  api.all('*', (c) => problem(c, 404, `No such resource: ${c.req.method} ${c.req.path}`));
  api.onError((error, c) => {
    options.logger.error('Marathon API request failed', { path: c.req.path, error: String(error) });
    options.metrics.increment('master/http_errors');
    return problem(c, 500, 'Internal error; see the master logs');
  });
  return api;
}
