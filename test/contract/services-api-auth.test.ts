/**
 * Marathon's v2 API (frameworks/services/api.ts) with authentication on, per role (docs/services.md, "Roles and who
 * may deploy"): through the master's own app over the real Services store on DynamoDB Local, with the principals
 * a cluster would have: an operator, two teams' framework principals (roles `a` and `b`) and an agent. A principal
 * that may not use an app's role gets 403 for what it posts; an app of a role it may not use is invisible to it
 * (404 as an unknown id, left out of every list and of the event stream); operators see and change everything.
 * No framework runs: the API writes and reads the table as it does on a cluster.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../functions/handlers/app.js';
import { createTable } from '../../frameworks/common/table.js';
import { ServicesEngine } from '../../frameworks/services/engine.js';
import type { TaskRecord } from '../../frameworks/services/plan.js';
import { ServicesService } from '../../frameworks/services/service.js';
import { ServicesStore } from '../../frameworks/services/store.js';
import { SERVICES_TABLE, servicesTableName } from '../../frameworks/services/tables.js';
import { startTestMaster, type TestMaster } from '../support/master.js';
import { basic, SECRET } from '../support/operator.js';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const OPS = basic('ops');
const A = basic('team-a');
const B = basic('team-b');

let tm: TestMaster;
let engine: ServicesEngine;
let app: ReturnType<typeof createApp>;

async function call(
  method: string,
  path: string,
  headers: Record<string, string> = {},
  body?: unknown,
): Promise<{ status: number; json: Json; headers: Headers }> {
  const response = await app.request(path, {
    method,
    headers: { ...(body === undefined ? {} : { 'Content-Type': 'application/json' }), ...headers },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  let json: Json;
  try {
    json = JSON.parse(text) as Json;
  } catch {
    json = { text };
  }
  return { status: response.status, json, headers: response.headers };
}

/** A task of the app as the framework records it, so the task routes have something to show and kill. */
async function recordTask(appId: string, id: string): Promise<void> {
  await engine.mutate(appId, (record) => {
    const task: TaskRecord = {
      id,
      appId,
      version: record.configVersion,
      agentId: 'agent-1',
      host: 'host-1',
      ports: [31000],
      attributes: {},
      state: 'TASK_RUNNING',
      healthy: null,
      stagedAt: new Date().toISOString(),
      startedAt: new Date().toISOString(),
      killing: false,
      consecutiveFailures: 0,
      lastFailure: null,
      lastSuccess: null,
    };
    return { tasks: [{ kind: 'task', expected: 'any', task }] };
  });
}

const web = (id: string, role?: string) => ({ id, cmd: 'sleep 1000', instances: 1, ...(role ? { role } : {}) });

beforeAll(async () => {
  tm = await startTestMaster({ authenticate: true });
  const principals = tm.master.registrar.principals;
  await principals.create({ principal: 'ops', secret: SECRET, kind: 'operator', roles: ['*'] });
  await principals.create({ principal: 'team-a', secret: SECRET, kind: 'framework', roles: ['a'] });
  await principals.create({ principal: 'team-b', secret: SECRET, kind: 'framework', roles: ['b'] });
  await principals.create({ principal: 'agent-1', secret: SECRET, kind: 'agent', roles: [] });
  const table = servicesTableName(tm.cluster);
  await createTable(tm.clients.dynamodb, table, SERVICES_TABLE);
  engine = new ServicesEngine(new ServicesStore({ documents: tm.clients.documents, table }), Date.now);
  const service = new ServicesService(engine, () => undefined);
  app = createApp(tm.master, { services: () => service });
  expect((await call('POST', '/v2/apps', A, web('/team-a/web', 'a'))).status).toBe(201);
  expect((await call('POST', '/v2/apps', B, web('/team-b/web', 'b'))).status).toBe(201);
  await recordTask('/team-a/web', 'team-a_web.1');
  await recordTask('/team-b/web', 'team-b_web.1');
  // Its task running, each app's first deployment is done; team a's second app has none yet, so its deploys.
  expect((await call('POST', '/v2/apps', A, web('/team-a/pending', 'a'))).status).toBe(201);
}, 60_000);

afterAll(async () => {
  await tm?.close();
});

describe('authentication on /v2', () => {
  it('asks for credentials (401 with the Basic challenge), refuses wrong ones and agents (403); /ping is public', async () => {
    const none = await call('GET', '/v2/apps');
    expect(none.status).toBe(401);
    expect(none.headers.get('WWW-Authenticate')).toMatch(/^Basic realm=/);
    expect((await call('GET', '/v2/apps', basic('team-a', 'wrong-secret-wrong-secret'))).status).toBe(401);
    expect((await call('GET', '/v2/info', basic('agent-1'))).status).toBe(403);
    expect((await call('POST', '/v2/apps', basic('agent-1'), web('/agent', 'a'))).status).toBe(403);
    const ping = await app.request('/ping');
    expect(ping.status).toBe(200);
    expect(await ping.text()).toBe('pong');
  });
});

describe('a principal may act only for its roles', () => {
  it('may not post an app of another role, nor of the default role `*`: 403 in Marathon’s words', async () => {
    const other = await call('POST', '/v2/apps', A, web('/team-a/sneaky', 'b'));
    expect(other.status).toBe(403);
    expect(other.json.message).toMatch(/^Not Authorized to perform this action!.*team-a.*'b'/);
    expect((await call('POST', '/v2/apps', A, web('/team-a/no-role'))).status).toBe(403);
    // PUT of an unknown id creates: the same check.
    expect((await call('PUT', '/v2/apps/team-a/put-created', A, web('/team-a/put-created', 'b'))).status).toBe(403);
    expect((await call('GET', '/v2/apps/team-a/sneaky', OPS)).status).toBe(404);
    expect((await call('GET', '/v2/apps/team-a/put-created', OPS)).status).toBe(404);
  });

  it('may not move its own app into a role it may not use: 403, the app unchanged', async () => {
    const moved = await call('PUT', '/v2/apps/team-a/web?force=true', A, { role: 'b' });
    expect(moved.status).toBe(403);
    expect((await call('GET', '/v2/apps/team-a/web', A)).json.app.role).toBe('a');
  });

  it('does not see another role’s app: every app route answers 404, as for an unknown id', async () => {
    for (const [method, path, body] of [
      ['GET', '/v2/apps/team-a/web'],
      ['PUT', '/v2/apps/team-a/web?force=true', { instances: 3 }],
      ['PATCH', '/v2/apps/team-a/web?force=true', { instances: 3 }],
      ['DELETE', '/v2/apps/team-a/web?force=true'],
      ['POST', '/v2/apps/team-a/web/restart?force=true'],
      ['GET', '/v2/apps/team-a/web/tasks'],
      ['DELETE', '/v2/apps/team-a/web/tasks/team-a_web.1'],
      ['DELETE', '/v2/apps/team-a/web/tasks/team-a_web.1?scale=true'],
    ] as const) {
      const answer = await call(method, path, B, body);
      expect(answer.status, `${method} ${path}`).toBe(404);
      expect(answer.json.message, `${method} ${path}`).toBe("App '/team-a/web' does not exist");
    }
    // Nothing of it changed.
    const seen = (await call('GET', '/v2/apps/team-a/web', A)).json.app;
    expect(seen.instances).toBe(1);
    expect(seen.tasks.map((task: Json) => task.id)).toEqual(['team-a_web.1']);
    expect(seen.tasks[0].state).toBe('TASK_RUNNING');
  });

  it('cannot cancel another role’s deployment', async () => {
    const deployments = (await call('GET', '/v2/deployments', A)).json as unknown as Json[];
    const mine = deployments.find((each) => (each.affectedApps as string[]).includes('/team-a/pending'));
    expect(mine).toBeDefined();
    const cancelled = await call('DELETE', `/v2/deployments/${String(mine?.id)}`, B);
    expect(cancelled.status).toBe(404);
    expect(cancelled.json.message).toBe(`DeploymentPlan ${String(mine?.id)} does not exist`);
    expect((await call('GET', '/v2/apps/team-a/pending', A)).json.app.deployments).toHaveLength(1);
  });

  it('lists only its roles’ apps, tasks, deployments and groups; an operator sees all', async () => {
    const ids = async (headers: Record<string, string>) => ({
      apps: ((await call('GET', '/v2/apps', headers)).json.apps as Json[]).map((each) => each.id as string).sort(),
      tasks: ((await call('GET', '/v2/tasks', headers)).json.tasks as Json[]).map((each) => each.id as string).sort(),
      deployments: ((await call('GET', '/v2/deployments', headers)).json as unknown as Json[])
        .flatMap((each) => each.affectedApps as string[])
        .sort(),
      groups: ((await call('GET', '/v2/groups', headers)).json.groups as Json[]).map((each) => each.id as string),
    });
    expect(await ids(A)).toEqual({
      apps: ['/team-a/pending', '/team-a/web'],
      tasks: ['team-a_web.1'],
      deployments: ['/team-a/pending'],
      groups: ['/team-a'],
    });
    expect(await ids(B)).toEqual({
      apps: ['/team-b/web'],
      tasks: ['team-b_web.1'],
      deployments: [],
      groups: ['/team-b'],
    });
    expect(await ids(OPS)).toEqual({
      apps: ['/team-a/pending', '/team-a/web', '/team-b/web'],
      tasks: ['team-a_web.1', 'team-b_web.1'],
      deployments: ['/team-a/pending'],
      groups: ['/team-a', '/team-b'],
    });
    // A filter does not reach past the roles either.
    expect((await call('GET', '/v2/apps?id=team-a', B)).json.apps).toEqual([]);
  });

  it('shows each principal on /v2/events only the events of its roles’ apps', async () => {
    /** The stream's events once `until` holds, and when it has attached. */
    const read = (headers: Record<string, string>, until: (events: Json[]) => boolean) => {
      let attach: () => void = () => undefined;
      const attached = new Promise<void>((resolve) => (attach = resolve));
      const seen = readEvents(headers, until, () => attach()).finally(() => attach());
      return { attached, seen };
    };
    const readEvents = async (
      headers: Record<string, string>,
      until: (events: Json[]) => boolean,
      attach: () => void,
    ) => {
      const controller = new AbortController();
      const response = await app.request('/v2/events?event_type=api_post_event&event_type=app_terminated_event', {
        headers,
        signal: controller.signal,
      });
      expect(response.status).toBe(200);
      const reader = (response.body as ReadableStream<Uint8Array>).getReader();
      const decoder = new TextDecoder();
      const events: Json[] = [];
      let buffer = '';
      const deadline = Date.now() + 15_000;
      while (!until(events) && Date.now() < deadline) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += decoder.decode(value, { stream: true });
        const blocks = buffer.split('\n\n');
        buffer = blocks.pop() ?? '';
        for (const block of blocks) {
          const data = block.split('\n').find((line) => line.startsWith('data:'));
          if (data) events.push(JSON.parse(data.slice(5)) as Json);
        }
        if (events.some((event) => event.eventType === 'event_stream_attached')) attach();
      }
      controller.abort();
      await reader.cancel().catch(() => undefined);
      return events
        .filter((event) => event.eventType !== 'event_stream_attached')
        .map((event) => `${String(event.eventType)} ${String(event.appDefinition?.id ?? event.appId)}`);
    };
    const last = (events: Json[]) => events.some((event) => event.appDefinition?.id === '/team-b/later');
    const forA = read(A, (events) => events.some((event) => event.eventType === 'app_terminated_event'));
    const forB = read(B, last);
    const forOps = read(OPS, last);
    // Once the streams have attached (they send what happens after), team a posts an app and deletes it, then team b
    // posts.
    await Promise.all([forA.attached, forB.attached, forOps.attached]);
    expect((await call('POST', '/v2/apps', A, web('/team-a/later', 'a'))).status).toBe(201);
    expect((await call('DELETE', '/v2/apps/team-a/later?force=true', A)).status).toBe(200);
    expect((await call('GET', '/v2/apps/team-a/later', OPS)).status).toBe(404);
    expect((await call('POST', '/v2/apps', B, web('/team-b/later', 'b'))).status).toBe(201);
    const [seenByA, seenByB, seenByOps] = await Promise.all([forA.seen, forB.seen, forOps.seen]);
    // The app is gone, yet its team still hears of its end (the event carries its role).
    expect(seenByA).toEqual(['api_post_event /team-a/later', 'app_terminated_event /team-a/later']);
    expect(seenByB).toEqual(['api_post_event /team-b/later']);
    expect(seenByOps).toEqual([
      'api_post_event /team-a/later',
      'app_terminated_event /team-a/later',
      'api_post_event /team-b/later',
    ]);
  }, 30_000);

  it('an operator may change any app', async () => {
    const scaled = await call('PUT', '/v2/apps/team-b/web?force=true', OPS, { instances: 2 });
    expect(scaled.status).toBe(200);
    expect((await call('GET', '/v2/apps/team-b/web', B)).json.app.instances).toBe(2);
  });
});
