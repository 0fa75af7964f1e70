/**
 * Mantle Services on a whole local cluster (two agents running processes and Docker containers), driven only
 * through Marathon's v2 API: Marathon app JSON files posted unchanged, deploy, scale, kill and replace, a crash
 * loop backing off, a failing health check replaced, a rolling update keeping capacity, constraints, a
 * locked app, and an agent lost (its task replaced on the other agent). Runs last-to-first dependent steps in
 * one cluster to keep the run short on a small machine.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, startTestCluster, type TestCluster } from '../support/cluster.js';

let cluster: TestCluster;

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const fixture = (name: string): string =>
  readFileSync(new URL(`../fixtures/marathon/${name}`, import.meta.url), 'utf8');

async function call(method: string, path: string, body?: unknown): Promise<{ status: number; json: Json }> {
  const response = await fetch(`${cluster.url}${path}`, {
    method,
    headers: body === undefined ? {} : { 'Content-Type': 'application/json' },
    ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
  });
  const text = await response.text();
  return { status: response.status, json: text ? (JSON.parse(text) as Json) : {} };
}

async function app(id: string): Promise<Json> {
  const { status, json } = await call('GET', `/v2/apps${id}`);
  expect(status).toBe(200);
  return json.app as Json;
}

/** Waits until the app has `running` tasks running (healthy where it has checks) and no deployment. */
async function settled(id: string, running: number, timeoutMs = 60_000): Promise<Json> {
  return eventually(
    async () => {
      const current = await app(id);
      const healthy = current.healthChecks.length === 0 || current.tasksHealthy === running;
      const done = current.tasksRunning === running && healthy && current.deployments.length === 0;
      return done && current.tasks.length === running ? current : undefined;
    },
    timeoutMs,
    `${id} to run ${running} task(s)`,
  );
}

/** Reads /v2/events into `into` (event names and data) until aborted. */
async function listen(into: Json[], signal: AbortSignal): Promise<void> {
  const response = await fetch(`${cluster.url}/v2/events`, { signal });
  const reader = (response.body as ReadableStream<Uint8Array>).getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read().catch(() => ({ value: undefined, done: true }));
    if (done) return;
    buffer += decoder.decode(value, { stream: true });
    const blocks = buffer.split('\n\n');
    buffer = blocks.pop() ?? '';
    for (const block of blocks) {
      const data = block.split('\n').find((line) => line.startsWith('data:'));
      if (data) into.push(JSON.parse(data.slice(5)) as Json);
    }
  }
}

beforeAll(async () => {
  cluster = await startTestCluster({
    agents: 2,
    containerizer: 'auto',
    agentResources: 'cpus:2;mem:1024;disk:512',
    agent: { switchUser: false },
    master: { acls: 'permissive', agentPingTimeoutSeconds: 1, maxAgentPingTimeouts: 3 },
    services: { tickMs: 500 },
  });
}, 120_000);

afterAll(async () => {
  await cluster?.stop();
});

describe("Mantle Services through Marathon's API", () => {
  it('deploys a command app with ports from an unchanged Marathon file, then scales it up and down', async () => {
    const events: Json[] = [];
    const stop = new AbortController();
    const listening = listen(events, stop.signal);
    await eventually(async () => (events.length > 0 ? true : undefined), 10_000, 'the event stream');
    expect(events[0]?.eventType).toBe('event_stream_attached');
    const created = await call('POST', '/v2/apps', fixture('command-ports.json'));
    expect(created.status).toBe(201);
    expect(created.json).toMatchObject({ id: '/tools/echo-server', instances: 2, deployments: [{}] });
    expect(typeof created.json.version).toBe('string');
    const running = await settled('/tools/echo-server', 2);
    for (const task of running.tasks as Json[]) {
      expect(task.ports).toHaveLength(2);
      expect(task.ports[0]).toBeGreaterThanOrEqual(31000);
      expect(task.state).toBe('TASK_RUNNING');
    }
    await eventually(async () => {
      const types = new Set(events.map((event) => event.eventType));
      return types.has('deployment_success') && types.has('api_post_event') ? true : undefined;
    });
    expect(events).toContainEqual(
      expect.objectContaining({
        eventType: 'status_update_event',
        taskStatus: 'TASK_RUNNING',
        appId: '/tools/echo-server',
      }),
    );
    stop.abort();
    await listening;
    const listed = await call('GET', '/v2/tasks');
    expect(listed.json.tasks).toHaveLength(2);
    expect((await fetch(`${cluster.url}/ping`)).status).toBe(200);
    expect((await call('GET', '/v2/info')).json).toMatchObject({ name: 'marathon' });
    const scaled = await call('PUT', '/v2/apps/tools/echo-server', { instances: 3 });
    expect(scaled.status).toBe(200);
    expect(typeof scaled.json.deploymentId).toBe('string');
    const three = await settled('/tools/echo-server', 3);
    // A scale keeps the configuration: the first tasks are not replaced.
    const before = (running.tasks as Json[]).map((task) => task.id);
    expect((three.tasks as Json[]).filter((task) => before.includes(task.id))).toHaveLength(2);
    await call('PUT', '/v2/apps/tools/echo-server', { instances: 1 });
    await settled('/tools/echo-server', 1);
    const groups = await call('GET', '/v2/groups');
    expect(groups.json.groups.map((group: Json) => group.id)).toContain('/tools');
  });

  it('replaces a killed task, or not with scale=true', async () => {
    const { tasks } = await app('/tools/echo-server');
    const victim = tasks[0].id as string;
    const killed = await call('DELETE', `/v2/apps/tools/echo-server/tasks/${victim}`);
    expect(killed.status).toBe(200);
    expect(killed.json.task.id).toBe(victim);
    const replaced = await eventually(async () => {
      const current = await app('/tools/echo-server');
      const ids = (current.tasks as Json[]).filter((t) => t.state === 'TASK_RUNNING').map((t) => t.id);
      return ids.length === 1 && !ids.includes(victim) ? current : undefined;
    }, 60_000);
    const scaled = await call('DELETE', `/v2/apps/tools/echo-server/tasks/${replaced.tasks[0].id}?scale=true`);
    expect(scaled.status).toBe(200);
    const empty = await settled('/tools/echo-server', 0);
    expect(empty.instances).toBe(0);
  });

  it('answers Marathon errors: 422 with details, 404, 409 while a deployment locks the app', async () => {
    const bad = await call('POST', '/v2/apps', { id: '/Bad', cmd: 'x', cpus: -1 });
    expect(bad.status).toBe(422);
    expect(bad.json.message).toBe('Object is not valid');
    expect(bad.json.details.length).toBeGreaterThan(0);
    expect((await call('GET', '/v2/apps/nothing/here')).status).toBe(404);
    const again = await call('POST', '/v2/apps', fixture('command-ports.json'));
    expect(again.status).toBe(409);
  });

  it('backs off a crash loop by backoffFactor, until a new definition mends it', async () => {
    const definition = { id: '/crashy', cmd: 'exit 3', cpus: 0.1, mem: 16, backoffSeconds: 1, backoffFactor: 2 };
    expect((await call('POST', '/v2/apps', definition)).status).toBe(201);
    const failures: number[] = [];
    await eventually(
      async () => {
        const current = await app('/crashy');
        const failure = current.lastTaskFailure as Json | null;
        const at = failure ? Date.parse(failure.timestamp) : undefined;
        if (at !== undefined && !failures.includes(at)) failures.push(at);
        return failures.length >= 3 ? true : undefined;
      },
      60_000,
      'three failures',
    );
    expect((await app('/crashy')).lastTaskFailure).toMatchObject({ state: 'TASK_FAILED', appId: '/crashy' });
    // Delays of 1 s then 2 s between the failures (each failure's task started after the delay).
    expect((failures[1] as number) - (failures[0] as number)).toBeGreaterThanOrEqual(900);
    expect((failures[2] as number) - (failures[1] as number)).toBeGreaterThanOrEqual(1900);
    // A task that reached TASK_RUNNING ends the first deployment (as in Marathon); a new definition mends it.
    const forced = await call('PUT', '/v2/apps/crashy?force=true', { cmd: 'exec sleep 600' });
    expect(forced.status).toBe(200);
    await settled('/crashy', 1);
    expect((await call('DELETE', '/v2/apps/crashy')).status).toBe(200);
    await eventually(async () => ((await call('GET', '/v2/apps/crashy')).status === 404 ? true : undefined));
  });

  it('replaces a task whose health check fails', async () => {
    // Healthy for its first three checks, then failing: killed after 2 failures and replaced.
    const check = 'n=$(cat checks 2>/dev/null || echo 0); echo $((n+1)) > checks; [ "$n" -lt 3 ]';
    const definition = {
      id: '/sickly',
      cmd: 'exec sleep 600',
      cpus: 0.1,
      mem: 16,
      healthChecks: [
        {
          protocol: 'COMMAND',
          command: { value: check },
          intervalSeconds: 1,
          gracePeriodSeconds: 0,
          maxConsecutiveFailures: 2,
          timeoutSeconds: 5,
        },
      ],
    };
    expect((await call('POST', '/v2/apps', definition)).status).toBe(201);
    const first = await settled('/sickly', 1);
    const firstId = first.tasks[0].id as string;
    const replaced = await eventually(
      async () => {
        const current = await app('/sickly');
        const fresh = (current.tasks as Json[]).some((t) => t.id !== firstId && t.state === 'TASK_RUNNING');
        return fresh && current.lastTaskFailure?.taskId === firstId ? current : undefined;
      },
      60_000,
      'the unhealthy task replaced',
    );
    expect(replaced.lastTaskFailure.state).toBe('TASK_KILLED');
    await call('DELETE', '/v2/apps/sickly');
  });

  it('rolls an update out keeping capacity and never past maximumOverCapacity', async () => {
    const definition = {
      id: '/rolling',
      cmd: 'exec sleep 600',
      cpus: 0.1,
      mem: 16,
      instances: 2,
      healthChecks: [{ protocol: 'COMMAND', command: { value: 'true' }, intervalSeconds: 1, gracePeriodSeconds: 5 }],
      upgradeStrategy: { minimumHealthCapacity: 1, maximumOverCapacity: 0.5 },
    };
    expect((await call('POST', '/v2/apps', definition)).status).toBe(201);
    const before = await settled('/rolling', 2);
    const oldIds = (before.tasks as Json[]).map((task) => task.id);
    expect((await call('PUT', '/v2/apps/rolling', { cmd: 'exec sleep 601' })).status).toBe(200);
    let minHealthy = Infinity;
    let maxTasks = 0;
    const after = await eventually(
      async () => {
        const current = await app('/rolling');
        minHealthy = Math.min(minHealthy, current.tasksHealthy as number);
        maxTasks = Math.max(maxTasks, (current.tasks as Json[]).length);
        const ids = (current.tasks as Json[]).map((task) => task.id);
        const done = current.deployments.length === 0 && ids.length === 2 && ids.every((id) => !oldIds.includes(id));
        return done && current.tasksHealthy === 2 ? current : undefined;
      },
      90_000,
      'the rolling update',
    );
    expect(minHealthy).toBeGreaterThanOrEqual(2);
    expect(maxTasks).toBeLessThanOrEqual(3);
    expect(after.cmd).toBe('exec sleep 601');
    await call('DELETE', '/v2/apps/rolling');
  });

  it('places a constrained app from an unchanged Marathon file: one task per host', async () => {
    expect((await call('POST', '/v2/apps', fixture('constrained.json'))).status).toBe(201);
    const placed = await settled('/cache', 2);
    const hosts = (placed.tasks as Json[]).map((task) => task.host).sort();
    expect(hosts).toEqual(['agent-0.local', 'agent-1.local']);
    await call('PUT', '/v2/apps/cache', { instances: 3 });
    await new Promise((resolve) => setTimeout(resolve, 3000));
    const third = await app('/cache');
    // Nowhere to put a third: UNIQUE holds, the deployment waits, and it locks the app.
    expect(third.tasksRunning).toBe(2);
    expect(third.deployments).toHaveLength(1);
    const locked = await call('PUT', '/v2/apps/cache', { instances: 4 });
    expect(locked.status).toBe(409);
    expect(locked.json).toMatchObject({ deployments: [{ id: third.deployments[0].id }] });
    expect(locked.json.message).toContain('locked');
    const [deployment] = (await call('GET', '/v2/deployments')).json as Json[];
    expect(deployment).toMatchObject({ affectedApps: ['/cache'], currentActions: [{ action: 'ScaleApplication' }] });
    const one = await call('GET', `/v2/deployments/${deployment?.id as string}`);
    expect(one).toMatchObject({ status: 200, json: { id: deployment?.id, steps: [{ actions: [{ app: '/cache' }] }] } });
    // Cancelled: rolled back to two instances, a new deployment that completes.
    const rollback = await call('DELETE', `/v2/deployments/${deployment?.id as string}`);
    expect(rollback.status).toBe(200);
    expect(rollback.json.deploymentId).not.toBe(deployment?.id);
    const back = await settled('/cache', 2);
    expect(back.instances).toBe(2);
    expect((await call('DELETE', '/v2/apps/cache')).status).toBe(200);
  });

  it('runs a Docker web server with its health check from an unchanged Marathon file', async () => {
    if (cluster.containerizer !== 'docker') return;
    expect((await call('POST', '/v2/apps', fixture('docker-web.json'))).status).toBe(201);
    const web = await settled('/shop/web', 1, 90_000);
    const port = web.tasks[0].ports[0] as number;
    const page = await fetch(`http://127.0.0.1:${port}/index.html`);
    expect(await page.text()).toBe('ok\n');
    expect(web.tasks[0].healthCheckResults[0]).toMatchObject({ alive: true });
    await call('DELETE', '/v2/apps/shop/web');
  });

  it("answers a client written from Marathon's API docs: filters, restart, bodies and status codes", async () => {
    const definition = {
      id: '/probe/api',
      cmd: 'exec sleep 600',
      cpus: 0.1,
      mem: 16,
      labels: { team: 'probe', tier: 'api' },
      unreachableStrategy: { inactiveAfterSeconds: 0, expungeAfterSeconds: 0 },
    };
    const created = await call('POST', '/v2/apps', definition);
    expect(created.status).toBe(201);
    expect(created.json.unreachableStrategy).toEqual(definition.unreachableStrategy);
    expect((await call('GET', '/v2/deployments/no-such-plan')).status).toBe(404);
    const again = await call('POST', '/v2/apps', definition);
    expect(again).toMatchObject({ status: 409, json: { message: 'An app with id [/probe/api] already exists.' } });
    const missing = await call('GET', '/v2/apps/probe/none');
    expect(missing).toMatchObject({ status: 404, json: { message: "App '/probe/none' does not exist" } });
    const first = await settled('/probe/api', 1);
    const ids = async (query: string) =>
      ((await call('GET', `/v2/apps?${query}`)).json.apps as Json[]).map((each) => each.id);
    expect(await ids('label=team==probe,tier%20in%20(api,web)')).toEqual(['/probe/api']);
    expect(await ids('label=team!=probe')).not.toContain('/probe/api');
    expect(await ids('label=team%20notin%20(probe)')).not.toContain('/probe/api');
    expect(await ids('cmd=SLEEP%20600&id=probe')).toEqual(['/probe/api']);
    expect((await call('GET', '/v2/apps?label=team==probe,')).status).toBe(422);
    const running = (await call('GET', '/v2/tasks?status=running')).json.tasks as Json[];
    expect(running.map((task) => task.id)).toContain(first.tasks[0].id);
    expect((await call('GET', '/v2/tasks?status=staging')).json.tasks).toEqual([]);
    const ping = await fetch(`${cluster.url}/ping`);
    expect(ping.headers.get('content-type')).toMatch(/^text\/plain/);
    expect(await ping.text()).toBe('pong');
    expect((await call('GET', '/v2/info')).json).toMatchObject({ name: 'marathon', elected: true });
    // A restart replaces the task by a deployment of the same definition.
    const restarted = await call('POST', '/v2/apps/probe/api/restart');
    expect(restarted.status).toBe(200);
    expect(typeof restarted.json.deploymentId).toBe('string');
    const fresh = await eventually(async () => {
      const current = await app('/probe/api');
      const done = current.deployments.length === 0 && current.tasksRunning === 1 && current.tasks.length === 1;
      return done && current.tasks[0].id !== first.tasks[0].id ? current : undefined;
    }, 60_000);
    expect(fresh.version).toBe(restarted.json.version);
    const removed = await call('DELETE', '/v2/apps/probe/api');
    expect(removed.status).toBe(200);
    expect(Object.keys(removed.json).sort()).toEqual(['deploymentId', 'version']);
    // Gone from the API at once, as in Marathon, while its deployment kills the task.
    expect((await call('GET', '/v2/apps/probe/api')).status).toBe(404);
    expect(await ids('id=probe')).toEqual([]);
    await eventually(async () => {
      const tasks = (await call('GET', '/v2/tasks')).json.tasks as Json[];
      return tasks.some((task) => task.appId === '/probe/api') ? undefined : true;
    }, 30_000);
  });

  it('replaces the task of an agent that is lost on the other agent', async () => {
    // Short-lived: the crashed agent's process outlives it (as after kill -9) and must end by itself.
    const definition = { id: '/survivor', cmd: 'exec sleep 30', cpus: 0.1, mem: 16 };
    expect((await call('POST', '/v2/apps', definition)).status).toBe(201);
    const first = await settled('/survivor', 1);
    const lostHost = first.tasks[0].host as string;
    const index = lostHost === 'agent-0.local' ? 0 : 1;
    cluster.agents[index]?.crash();
    const moved = await eventually(
      async () => {
        const current = await app('/survivor');
        const running = (current.tasks as Json[]).filter((t) => t.state === 'TASK_RUNNING' && t.host !== lostHost);
        return running.length === 1 ? current : undefined;
      },
      60_000,
      'the task replaced on the other agent',
    );
    expect(moved.tasks[0].host).not.toBe(lostHost);
  });
});
