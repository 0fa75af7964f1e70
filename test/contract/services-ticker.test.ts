/**
 * The Services timer (frameworks/services/ticker.ts) over the real store on DynamoDB Local and a real master: a
 * task recorded but unheard of is reconciled first LAUNCH_CHECK_MS after it was recorded, then twice as late each
 * time (its next check kept with it in the table, so any timer continues the schedule), every app's due tasks in
 * one batched RECONCILE; the kills it sends again are remembered only while their task is being killed (or, for an
 * app it could not read, a bounded time). The framework is subscribed to the test master by queue; the calls it
 * makes are seen on their way to the master's app.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createApp } from '../../functions/handlers/app.js';
import { createTable } from '../../frameworks/common/table.js';
import { RECONCILE_MAX_MS } from '../../frameworks/common/reconciliation.js';
import { ServicesEngine } from '../../frameworks/services/engine.js';
import { ServicesFramework } from '../../frameworks/services/framework.js';
import { parseApp } from '../../frameworks/services/model.js';
import type { TaskRecord } from '../../frameworks/services/plan.js';
import { ServicesService } from '../../frameworks/services/service.js';
import { ServicesStore } from '../../frameworks/services/store.js';
import { SERVICES_TABLE, servicesTableName } from '../../frameworks/services/tables.js';
import { KILL_AGAIN_MS, KILL_MEMORY_MS, LAUNCH_CHECK_MS, ServicesTicker } from '../../frameworks/services/ticker.js';
import { inProcess } from '../../sdk/queue-scheduler.js';
import { startTestMaster, type TestMaster } from '../support/master.js';

let tm: TestMaster;
let store: ServicesStore;
let engine: ServicesEngine;
let service: ServicesService;
let framework: ServicesFramework;
let now = Date.parse('2026-12-06T08:00:00Z');
const calls: Array<{ type: string; body: Record<string, any> }> = []; // eslint-disable-line @typescript-eslint/no-explicit-any

beforeAll(async () => {
  tm = await startTestMaster();
  const table = servicesTableName(tm.cluster);
  await createTable(tm.clients.dynamodb, table, SERVICES_TABLE);
  store = new ServicesStore({ documents: tm.clients.documents, table });
  engine = new ServicesEngine(store, () => now);
  const master = inProcess(createApp(tm.master));
  framework = new ServicesFramework({
    engine,
    master: tm.url,
    user: 'nobody',
    fetch: async (url, init) => {
      if (typeof init.body === 'string') {
        const body = JSON.parse(init.body) as { type: string };
        calls.push({ type: body.type, body });
      }
      return master(url, init);
    },
  });
  await framework.start({ resubscribe: true });
  service = new ServicesService(engine, () => undefined);
}, 60_000);

afterAll(async () => {
  await tm?.close();
});

async function newApp(id: string): Promise<void> {
  const parsed = parseApp({ id, cmd: 'sleep 1000', instances: 1 });
  if (!parsed.ok) throw new Error(parsed.error.message);
  expect((await service.create(parsed.value)).ok).toBe(true);
}

/** Records a task of the app as the framework does before its ACCEPT (TASK_STAGING, never heard of). */
async function recordTask(appId: string, id: string, changes: Partial<TaskRecord> = {}): Promise<void> {
  const task = (version: string): TaskRecord => ({
    id,
    appId,
    version,
    agentId: 'agent-nowhere',
    host: 'h',
    ports: [],
    attributes: {},
    state: 'TASK_STAGING',
    healthy: null,
    stagedAt: new Date(now).toISOString(),
    startedAt: null,
    killing: false,
    consecutiveFailures: 0,
    lastFailure: null,
    lastSuccess: null,
    ...changes,
  });
  await engine.mutate(appId, (record) => ({
    tasks: [{ kind: 'task', expected: 'any', task: task(record.configVersion) }],
  }));
}

/** The tasks named by RECONCILE calls since the last look, per call. */
function reconciled(): string[][] {
  const seen = calls
    .filter((call) => call.type === 'RECONCILE')
    .map((call) => (call.body.reconcile.tasks as Array<{ task_id: { value: string } }>).map((t) => t.task_id.value));
  calls.length = 0;
  return seen;
}

function killed(): string[] {
  const seen = calls.filter((call) => call.type === 'KILL').map((call) => call.body.kill.task_id.value as string);
  calls.length = 0;
  return seen;
}

describe('reconciling tasks nobody heard of', () => {
  it('asks first after LAUNCH_CHECK_MS, then backs off, all due tasks of every app in one RECONCILE', async () => {
    const ticker = new ServicesTicker(framework);
    await newApp('/rec/a');
    await newApp('/rec/b');
    const recorded = now;
    await recordTask('/rec/a', 'rec_a.1');
    await recordTask('/rec/b', 'rec_b.1');
    calls.length = 0;
    const asked: Array<[number, string[][]]> = [];
    // Tick every 5 s (the Lambda's pace) for twelve minutes.
    for (let at = recorded; at <= recorded + 12 * 60_000; at += 5_000) {
      now = at;
      await ticker.tick();
      const seen = reconciled();
      if (seen.length > 0) asked.push([at - recorded, seen]);
    }
    expect(LAUNCH_CHECK_MS).toBe(120_000);
    // 120 s after it was recorded, then 240 s later, then every RECONCILE_MAX_MS (300 s).
    expect(asked.map(([at]) => at)).toEqual([120_000, 360_000, 660_000]);
    for (const [, seen] of asked) expect(seen.map((ids) => [...ids].sort())).toEqual([['rec_a.1', 'rec_b.1']]);
    // The schedule is kept with the task: a new timer (another handler) continues it.
    expect((await store.task('/rec/a', 'rec_a.1'))?.check).toEqual({
      until: recorded + 660_000 + RECONCILE_MAX_MS,
      every: RECONCILE_MAX_MS,
    });
    now = recorded + 660_000 + RECONCILE_MAX_MS;
    await new ServicesTicker(framework).tick();
    expect(reconciled().map((ids) => [...ids].sort())).toEqual([['rec_a.1', 'rec_b.1']]);
    await deleteApps('/rec/a', '/rec/b');
  }, 120_000);

  it('never asks about a task heard of', async () => {
    const ticker = new ServicesTicker(framework);
    await newApp('/heard');
    const recorded = now;
    await recordTask('/heard', 'heard.1', { state: 'TASK_RUNNING', startedAt: new Date(now).toISOString() });
    calls.length = 0;
    for (const at of [recorded + LAUNCH_CHECK_MS, recorded + 10 * LAUNCH_CHECK_MS]) {
      now = at;
      await ticker.tick();
    }
    expect(reconciled()).toEqual([]);
    await deleteApps('/heard');
  });
});

describe('kills sent again', () => {
  it('are sent every KILL_AGAIN_MS while the task is being killed, and forgotten once it has ended', async () => {
    const ticker = new ServicesTicker(framework);
    await newApp('/kill/a');
    await recordTask('/kill/a', 'kill_a.1', { state: 'TASK_RUNNING', killing: true });
    calls.length = 0;
    await ticker.tick();
    expect(ticker.rememberedKills).toBe(1);
    now += KILL_AGAIN_MS;
    await ticker.tick();
    expect(killed()).toContain('kill_a.1');
    expect(ticker.rememberedKills).toBe(1);
    // The task ended: the store no longer has it.
    await engine.mutate('/kill/a', () => ({
      tasks: [{ kind: 'delete-task', appId: '/kill/a', taskId: 'kill_a.1' }],
    }));
    now += KILL_AGAIN_MS;
    await ticker.tick();
    expect(killed()).not.toContain('kill_a.1');
    expect(ticker.rememberedKills).toBe(0);
    await deleteApps('/kill/a');
  });

  it('are forgotten with their app, and kept a bounded time for an app the timer cannot read', async () => {
    const ticker = new ServicesTicker(framework);
    await newApp('/kill/b');
    await newApp('/kill/c');
    await recordTask('/kill/b', 'kill_b.1', { state: 'TASK_RUNNING', killing: true });
    await recordTask('/kill/c', 'kill_c.1', { state: 'TASK_RUNNING', killing: true });
    await ticker.tick();
    expect(ticker.rememberedKills).toBe(2);
    // /kill/c's tasks cannot be read (a DynamoDB fault): its kill is kept while young, /kill/b goes with its app.
    const tasks = store.tasks.bind(store);
    const fault = vi.spyOn(store, 'tasks').mockImplementation(async (appId) => {
      if (appId === '/kill/c') throw new Error('ProvisionedThroughputExceededException');
      return tasks(appId);
    });
    try {
      await deleteApps('/kill/b');
      now += KILL_AGAIN_MS;
      await ticker.tick();
      expect(ticker.rememberedKills).toBe(1);
      now += KILL_MEMORY_MS + 1;
      await ticker.tick();
      expect(ticker.rememberedKills).toBe(0);
    } finally {
      fault.mockRestore();
    }
    await deleteApps('/kill/c');
  });
});

/** Removes the apps outright (their items), so the next test's timer sees only its own. */
async function deleteApps(...ids: string[]): Promise<void> {
  for (const id of ids) {
    const record = await store.app(id);
    if (!record) continue;
    const tasks = await store.tasks(id);
    expect(
      await store.transact([
        { kind: 'delete-app', id, expected: record.revision },
        ...tasks.map((task) => ({ kind: 'delete-task' as const, appId: id, taskId: task.id })),
      ]),
    ).toBe(true);
  }
}
