import { describe, expect, it } from 'vitest';
import { parseApp, type App } from '../../frameworks/services/model.js';
import {
  backoffAfterFailure,
  NO_BACKOFF,
  plan,
  type AppRecord,
  type TaskRecord,
} from '../../frameworks/services/plan.js';

function app(fields: Record<string, unknown> = {}): App {
  const parsed = parseApp({ id: '/a', cmd: 'x', ...fields });
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.error));
  return parsed.value;
}

function record(definition: App, configVersion = 'v2', extra: Partial<AppRecord> = {}): AppRecord {
  return {
    app: definition,
    version: configVersion,
    configVersion,
    lastScalingAt: configVersion,
    deployment: null,
    backoff: NO_BACKOFF,
    lastTaskFailure: null,
    deleting: false,
    revision: 1,
    ...extra,
  };
}

let n = 0;
function task(version: string, fields: Partial<TaskRecord> = {}): TaskRecord {
  n += 1;
  return {
    id: `a.${n}`,
    appId: '/a',
    version,
    agentId: 'agent',
    host: 'h',
    ports: [],
    attributes: {},
    state: 'TASK_RUNNING',
    healthy: null,
    stagedAt: `2026-01-01T00:00:${String(n).padStart(2, '0')}.000Z`,
    startedAt: null,
    killing: false,
    consecutiveFailures: 0,
    lastFailure: null,
    lastSuccess: null,
    ...fields,
  };
}

describe('the app plan', () => {
  it('launches up to instances and kills the surplus, youngest first', () => {
    expect(plan(record(app({ instances: 3 })), [task('v2')], 0)).toMatchObject({ launch: 2, kill: [] });
    const tasks = [task('v2'), task('v2'), task('v2')];
    expect(plan(record(app({ instances: 1 })), tasks, 0).kill).toEqual([tasks[2]?.id, tasks[1]?.id]);
    const oldest = plan(record(app({ instances: 2, killSelection: 'OLDEST_FIRST' })), tasks, 0);
    expect(oldest.kill).toEqual([tasks[0]?.id]);
  });

  it('waits out the backoff before launching', () => {
    const waiting = record(app({ instances: 1 }), 'v2', { backoff: { delaySeconds: 5, until: 10_000 } });
    expect(plan(waiting, [], 5_000)).toMatchObject({ launch: 0, delayed: 1 });
    expect(plan(waiting, [], 10_000)).toMatchObject({ launch: 1, delayed: 0 });
  });

  it('grows the backoff by its factor up to the maximum', () => {
    const definition = app({ backoffSeconds: 2, backoffFactor: 2, maxLaunchDelaySeconds: 5 });
    const first = backoffAfterFailure(definition, NO_BACKOFF, 0);
    const second = backoffAfterFailure(definition, first, 0);
    const third = backoffAfterFailure(definition, second, 0);
    expect([first.delaySeconds, second.delaySeconds, third.delaySeconds]).toEqual([2, 4, 5]);
    expect(third.until).toBe(5_000);
  });

  it('rolls an upgrade within maximumOverCapacity, killing old tasks only once new ones are healthy', () => {
    const definition = app({ instances: 2, upgradeStrategy: { minimumHealthCapacity: 1, maximumOverCapacity: 0.5 } });
    const old = [task('v1'), task('v1')];
    const start = plan(record(definition), old, 0);
    expect(start).toMatchObject({ launch: 1, kill: [], done: false });
    const staging = task('v2', { state: 'TASK_STAGING' });
    expect(plan(record(definition), [...old, staging], 0)).toMatchObject({ launch: 0, kill: [] });
    const running = { ...staging, state: 'TASK_RUNNING' };
    const step = plan(record(definition), [...old, running], 0);
    expect(step.kill).toHaveLength(1);
    expect(step.launch).toBe(0);
    const rest = [old[0] as TaskRecord, running, task('v2')];
    expect(plan(record(definition), rest, 0).kill).toEqual([old[0]?.id]);
    expect(plan(record(definition), [running, task('v2')], 0)).toMatchObject({ done: true, kill: [], launch: 0 });
  });

  it('waits for health checks before killing old tasks', () => {
    const definition = app({ instances: 1, healthChecks: [{ protocol: 'MESOS_TCP' }] });
    const old = task('v1', { healthy: true });
    const fresh = task('v2', { healthy: null });
    expect(plan(record(definition), [old, fresh], 0).kill).toEqual([]);
    expect(plan(record(definition), [old, { ...fresh, healthy: true }], 0).kill).toEqual([old.id]);
  });

  it('kills one old task first when neither bound leaves room', () => {
    const definition = app({ instances: 2, upgradeStrategy: { minimumHealthCapacity: 1, maximumOverCapacity: 0 } });
    const old = [task('v1'), task('v1')];
    const decided = plan(record(definition), old, 0);
    expect(decided.kill).toHaveLength(1);
    expect(decided.launch).toBe(0);
    const killing = old.map((each, i) => (i === 0 ? { ...each, killing: true } : each));
    expect(plan(record(definition), killing, 0)).toMatchObject({ launch: 0, kill: [] });
    expect(plan(record(definition), killing.slice(1), 0)).toMatchObject({ launch: 1 });
  });

  it('kills everything of an app being deleted', () => {
    const tasks = [task('v2'), task('v2', { killing: true })];
    expect(plan(record(app(), 'v2', { deleting: true }), tasks, 0)).toMatchObject({
      kill: [tasks[0]?.id],
      done: false,
    });
  });
});
