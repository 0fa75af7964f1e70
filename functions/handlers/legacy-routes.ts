/**
 * The legacy read endpoints operators' tools still scrape (Mesos v0): `/master/state` (and `/state`),
 * `/master/state-summary`, `/master/frameworks`, `/master/slaves`, `/master/tasks`, `/master/roles` (each
 * also without the `/master` prefix, as Mesos serves them), `/flags` (and `/master/flags`), `/version`
 * and `/metrics/snapshot`. Operators only, with authentication on. `/master/health` is public (app.ts).
 */
import type { Context, Hono, MiddlewareHandler } from 'hono';
import { z } from 'zod';
import { describeZodError } from '#shared/protocol/errors.js';
import type { Master } from '../master/master.js';
import { MAX_TASK_PAGE } from '../registrar/index.js';
import { LEGACY_MASTER_PATHS } from '../master/routes.js';
import {
  legacyFrameworks,
  legacyRoles,
  legacySlaves,
  legacyState,
  legacyStateSummary,
  legacyTask,
  legacyTasks,
} from '../operator/legacy.js';
import { masterFlags, versionInfo } from '../operator/master-calls.js';
import { operatorMetrics } from '../operator/metrics.js';
import { getRoles } from '../operator/roles-view.js';
import { EVERYTHING, readSnapshot } from '../operator/snapshot.js';
import { masterInfo } from '../scheduler/subscribe.js';
import { text, type MasterEnv } from './scheduler-route.js';

const TaskQuerySchema = z.object({
  limit: z.coerce.number().int().positive().default(100),
  offset: z.coerce.number().int().nonnegative().default(0),
  // Mesos's source reads `des`, its endpoint doc says `desc`: both mean newest first.
  order: z
    .enum(['asc', 'des', 'desc'])
    .default('des')
    .transform((order) => (order === 'asc' ? 'asc' : 'des')),
  framework_id: z.string().optional(),
  task_id: z.string().optional(),
});

/** Mantle's extension of `/master/tasks`: `cursor` (empty for the first page) reads one page of the table. */
const TaskCursorSchema = z.strictObject({
  cursor: z.string(),
  limit: z.coerce.number().int().min(1).max(MAX_TASK_PAGE).default(100),
  framework_id: z.string().min(1).optional(),
});

async function pagedTasks(c: Context<MasterEnv>, master: Master): Promise<Response> {
  const query = TaskCursorSchema.safeParse(c.req.query());
  if (!query.success) {
    return text(c, 400, `Invalid query (with cursor: limit and framework_id only): ${describeZodError(query.error)}`);
  }
  const { cursor, limit, framework_id: frameworkId } = query.data;
  const page = await master.registrar.tasks.page({
    limit,
    ...(cursor ? { cursor } : {}),
    ...(frameworkId ? { frameworkId } : {}),
  });
  if (!page.ok) return text(c, 400, page.error.message);
  return c.json({
    tasks: page.value.tasks.map(({ task, info }) => legacyTask(task, info)),
    ...(page.value.next ? { next_cursor: page.value.next } : {}),
  });
}

function masterSummary(master: Master): Record<string, unknown> {
  const info = masterInfo(master);
  const started = Date.now() / 1000 - process.uptime();
  return {
    ...versionInfo(),
    start_time: started,
    elected_time: started,
    id: info.id,
    pid: `master@${info.hostname ?? ''}:${info.port}`,
    hostname: info.hostname,
    capabilities: [],
    cluster: master.config.cluster,
    leader: `master@${info.hostname ?? ''}:${info.port}`,
    leader_info: info,
  };
}

type Answer = (c: Context<MasterEnv>) => Promise<Response>;

function answers(master: Master): Record<string, Answer> {
  return {
    state: async (c) =>
      c.json(legacyState(await readSnapshot(master, EVERYTHING), masterSummary(master), masterFlags(master.config))),
    'state-summary': async (c) =>
      c.json(
        legacyStateSummary(await readSnapshot(master, EVERYTHING), {
          hostname: masterInfo(master).hostname ?? '',
          cluster: master.config.cluster,
        }),
      ),
    frameworks: async (c) => {
      const frameworkId = c.req.query('framework_id') || undefined;
      const snapshot = await readSnapshot(master, { ...EVERYTHING, ...(frameworkId ? { frameworkId } : {}) });
      return c.json(legacyFrameworks(snapshot, frameworkId));
    },
    slaves: async (c) =>
      c.json(legacySlaves(await readSnapshot(master, { agents: true }), c.req.query('slave_id') || undefined)),
    tasks: async (c) => {
      if (c.req.query('cursor') !== undefined) return pagedTasks(c, master);
      const query = TaskQuerySchema.safeParse(c.req.query());
      if (!query.success) return text(c, 400, `Invalid query: ${describeZodError(query.error)}`);
      const { limit, offset, order, framework_id: frameworkId, task_id: taskId } = query.data;
      const snapshot = await readSnapshot(master, { tasks: true, ...(frameworkId ? { frameworkId } : {}) });
      return c.json(
        legacyTasks(snapshot, {
          limit,
          offset,
          order,
          ...(frameworkId ? { frameworkId } : {}),
          ...(taskId ? { taskId } : {}),
        }),
      );
    },
    roles: async (c) => {
      const [records, snapshot] = await Promise.all([
        master.registrar.roles.list(),
        readSnapshot(master, { agents: true, frameworks: true }),
      ]);
      return c.json(legacyRoles(getRoles(records, snapshot), records));
    },
    flags: async (c) =>
      c.json({ flags: Object.fromEntries(masterFlags(master.config).map((flag) => [flag.name, flag.value])) }),
  };
}

export function mountLegacyEndpoints(
  app: Hono<MasterEnv>,
  master: Master,
  operator: MiddlewareHandler<MasterEnv>,
): void {
  const handlers = answers(master);
  for (const path of LEGACY_MASTER_PATHS) {
    const answer = handlers[path] as Answer;
    app.get(`/master/${path}`, operator, answer);
    app.get(`/${path}`, operator, answer);
  }
  app.get('/version', operator, (c) => c.json(versionInfo()));
  app.get('/metrics/snapshot', operator, async (c) => c.json(await operatorMetrics(master)));
}
