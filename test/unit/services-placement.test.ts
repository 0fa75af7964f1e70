import { describe, expect, it } from 'vitest';
import { rangesResource, scalarResource } from '#shared/resources/resource.js';
import { meets } from '../../frameworks/services/constraints.js';
import { parseApp, type App } from '../../frameworks/services/model.js';
import { place, type Offer } from '../../frameworks/services/placement.js';
import { appIdOfTask, newTaskId, taskInfo } from '../../frameworks/services/task-info.js';

function app(fields: Record<string, unknown>): App {
  const parsed = parseApp({ id: '/team/web', cmd: 'x', cpus: 1, mem: 64, ...fields });
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.error));
  return parsed.value;
}

function offer(id: string, hostname: string, attributes: Record<string, string> = {}, cpus = 4): Offer {
  return {
    id,
    agentId: `agent-${id}`,
    hostname,
    role: '*',
    attributes,
    resources: [
      scalarResource('cpus', cpus),
      scalarResource('mem', 1024),
      rangesResource('ports', [{ begin: 31000, end: 31002 }]),
    ],
  };
}

describe('placing tasks', () => {
  it("takes scalars and the lowest free host ports, never over an offer's resources", () => {
    const launches = place([{ app: app({ instances: 3, ports: [0, 0] }), count: 3, placed: [] }], [offer('1', 'a')]);
    // Three ports in the offer, two per task: one task fits.
    expect(launches.map((l) => l.ports)).toEqual([[31000, 31001]]);
    expect(launches[0]?.resources.find((r) => r.name === 'ports')?.ranges?.range).toEqual([
      { begin: 31000, end: 31001 },
    ]);
  });

  it('uses the fixed port with requirePorts, and nowhere without it', () => {
    const fixed = app({ portDefinitions: [{ port: 31002 }], requirePorts: true });
    expect(place([{ app: fixed, count: 1, placed: [] }], [offer('1', 'a')])[0]?.ports).toEqual([31002]);
    const missing = app({ portDefinitions: [{ port: 80 }], requirePorts: true });
    expect(place([{ app: missing, count: 1, placed: [] }], [offer('1', 'a')])).toEqual([]);
  });

  it('keeps to the app role and its constraints', () => {
    const unique = app({ constraints: [['hostname', 'UNIQUE']], portDefinitions: [] });
    const launches = place([{ app: unique, count: 3, placed: [] }], [offer('1', 'a'), offer('2', 'b')]);
    expect(launches.map((l) => l.offer.hostname)).toEqual(['a', 'b']);
    const other = app({ role: 'ml', portDefinitions: [] });
    expect(place([{ app: other, count: 1, placed: [] }], [offer('1', 'a')])).toEqual([]);
  });

  it("applies Marathon's operators", () => {
    const at = (hostname: string, rack?: string) => ({
      hostname,
      attributes: (rack ? { rack } : {}) as Record<string, string>,
    });
    expect(meets(['hostname', 'UNIQUE'], at('a'), [at('a')])).toBe(false);
    expect(meets(['rack', 'CLUSTER', 'r1'], at('a', 'r1'), [])).toBe(true);
    expect(meets(['rack', 'CLUSTER', 'r1'], at('a', 'r2'), [])).toBe(false);
    expect(meets(['rack', 'CLUSTER'], at('b', 'r2'), [at('a', 'r1')])).toBe(false);
    expect(meets(['rack', 'LIKE', 'r[0-9]'], at('a', 'r1'), [])).toBe(true);
    expect(meets(['rack', 'LIKE', 'r'], at('a', 'r1'), [])).toBe(false);
    expect(meets(['rack', 'UNLIKE', 'r1'], at('a', 'r1'), [])).toBe(false);
    expect(meets(['rack', 'UNLIKE', 'r1'], at('a'), [])).toBe(true);
    expect(meets(['rack', 'MAX_PER', '2'], at('c', 'r1'), [at('a', 'r1'), at('b', 'r1')])).toBe(false);
    expect(meets(['rack', 'MAX_PER', '2'], at('c', 'r2'), [at('a', 'r1'), at('b', 'r1')])).toBe(true);
    expect(meets(['rack', 'GROUP_BY'], at('c', 'r1'), [at('a', 'r1'), at('b', 'r2')])).toBe(true);
    expect(meets(['rack', 'GROUP_BY'], at('c', 'r1'), [at('a', 'r1'), at('b', 'r2'), at('d', 'r1')])).toBe(false);
    expect(meets(['rack', 'GROUP_BY', '2'], at('c', 'r2'), [at('a', 'r1')])).toBe(true);
    expect(meets(['rack', 'IS', 'r1'], at('c', 'r1'), [])).toBe(true);
  });

  it("gives the task Marathon's environment, its ports and the health check on its port", () => {
    const definition = app({
      portDefinitions: [
        { port: 0, name: 'http' },
        { port: 0, name: 'admin-api' },
      ],
      healthChecks: [{ protocol: 'HTTP', portIndex: 1, path: '/health' }],
    });
    const [launch] = place([{ app: definition, count: 1, placed: [] }], [offer('1', 'a')]);
    if (!launch) throw new Error('not placed');
    const id = newTaskId(definition.id, 'u-1');
    expect(appIdOfTask(id)).toBe('/team/web');
    const info = taskInfo(definition, id, 'v1', launch);
    const env = Object.fromEntries((info.command?.environment?.variables ?? []).map((v) => [v.name, v.value]));
    expect(env).toMatchObject({
      PORT0: '31000',
      PORT1: '31001',
      PORT: '31000',
      PORTS: '31000,31001',
      PORT_HTTP: '31000',
      PORT_ADMIN_API: '31001',
      HOST: 'a',
      MARATHON_APP_ID: '/team/web',
      MARATHON_APP_VERSION: 'v1',
      MESOS_TASK_ID: id,
    });
    expect(info.health_check).toMatchObject({ type: 'HTTP', http: { port: 31001, path: '/health' } });
    expect(info.name).toBe('web.team');
  });
});
