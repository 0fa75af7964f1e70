/**
 * Cluster-wide metrics against the cluster itself: two agents, a framework with tasks that finish, fail
 * and keep running; `/metrics/snapshot` (Mesos's names) and `/metrics` on the master and on each agent
 * (Prometheus text, parsed with a Prometheus text-format parser) agree with what the cluster holds.
 */
import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { METRICS_CACHE_MS } from '../../functions/operator/metrics.js';
import { runBatch, type BatchRun } from '../support/batch-framework.js';
import { eventually, startTestCluster, type TestCluster } from '../support/cluster.js';

let cluster: TestCluster;
let run: BatchRun;

beforeAll(async () => {
  cluster = await startTestCluster({
    agents: 2,
    agentResources: 'cpus:2;mem:1024;disk:1024',
    containerizer: 'mesos',
    agent: { port: 0 },
  });
  run = await runBatch({
    master: cluster.url,
    tasks: [
      ...Array.from({ length: 3 }, (_, i) => ({ taskId: `done-${i}`, command: 'true', resources: 'cpus:0.1;mem:16' })),
      { taskId: 'fails', command: 'exit 3', resources: 'cpus:0.1;mem:16' },
      ...Array.from({ length: 4 }, (_, i) => ({
        taskId: `long-${i}`,
        command: 'sleep 60',
        resources: 'cpus:0.5;mem:64',
      })),
    ],
  });
  await eventually(
    async () => {
      const states = [...run.timelines.values()].map((t) => t.ended?.state ?? t.updates.at(-1)?.state);
      const ended = states.filter((s) => s === 'TASK_FINISHED' || s === 'TASK_FAILED').length;
      return ended === 4 && states.filter((s) => s === 'TASK_RUNNING').length === 4 ? true : undefined;
    },
    60_000,
    'four tasks ended and four running',
  );
}, 120_000);

afterAll(async () => {
  await run?.stop();
  await cluster?.stop();
});

async function snapshot(): Promise<Record<string, number>> {
  const response = await fetch(`${cluster.url}/metrics/snapshot`);
  expect(response.status).toBe(200);
  return (await response.json()) as Record<string, number>;
}

/** A scrape as Prometheus reads it: family name -> its one sample's value, and each family's type. */
async function scrape(url: string): Promise<{ values: Map<string, number>; types: Map<string, string> }> {
  const response = await fetch(`${url}/metrics`);
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toContain('text/plain; version=0.0.4');
  const families = parsePrometheusTextFormat(await response.text());
  return {
    values: new Map(families.map((family) => [family.name, Number(family.metrics[0]?.value)])),
    types: new Map(families.map((family) => [family.name, family.type])),
  };
}

describe('cluster-wide metrics', () => {
  it('/metrics/snapshot counts agents, frameworks, tasks and resources of the whole cluster', async () => {
    const figures = await eventually(
      async () => {
        const s = await snapshot();
        return s['master/tasks_running'] === 4 && s['master/tasks_finished'] === 3 ? s : undefined;
      },
      METRICS_CACHE_MS + 10_000,
      'the counts to settle',
    );
    expect(figures).toMatchObject({
      'master/elected': 1,
      'master/slaves_active': 2,
      'master/slaves_connected': 2,
      'master/slaves_inactive': 0,
      'master/slaves_unreachable': 0,
      'master/frameworks_active': 1,
      'master/frameworks_connected': 1,
      'master/frameworks_inactive': 0,
      'master/tasks_staging': 0,
      'master/tasks_starting': 0,
      'master/tasks_running': 4,
      'master/tasks_finished': 3,
      'master/tasks_failed': 1,
      'master/tasks_killed': 0,
      'master/tasks_lost': 0,
      'master/cpus_total': 4,
      'master/cpus_used': 2,
      'master/cpus_percent': 0.5,
      'master/mem_total': 2048,
      'master/mem_used': 256,
      'master/disk_total': 2048,
      'master/gpus_total': 0,
      'master/gpus_used': 0,
    });
    expect(figures['master/outstanding_offers']).toBe(figures['master/offers_pending']);
    expect(figures['master/uptime_secs']).toBeGreaterThan(0);
  });

  it("the master's /metrics is the same figures in Prometheus's text format", async () => {
    const figures = await snapshot();
    const { values, types } = await scrape(cluster.url);
    for (const name of ['master/tasks_running', 'master/slaves_active', 'master/cpus_used', 'master/mem_total']) {
      expect(values.get(`mesos_${name.replace('/', '_')}`), name).toBe(figures[name]);
    }
    expect(values.get('mesos_master_tasks_finished')).toBe(3);
    expect(types.get('mesos_master_tasks_finished')).toBe('COUNTER');
    expect(types.get('mesos_master_tasks_running')).toBe('GAUGE');
  });

  it("each agent's /metrics shows its own tasks, resources, containers and status updates", async () => {
    let tasks = 0;
    for (const agent of cluster.agents) {
      const url = agent.endpoint?.url;
      expect(url).toBeDefined();
      const { values, types } = await scrape(url as string);
      const mine = agent.tasks().filter((task) => task.state === 'TASK_RUNNING');
      expect(values.get('mesos_slave_tasks_running')).toBe(mine.length);
      expect(values.get('mesos_slave_cpus_total')).toBe(2);
      expect(values.get('mesos_slave_cpus_used')).toBeCloseTo(mine.length * 0.5, 5);
      expect(values.get('mesos_slave_mem_used')).toBe(mine.length * 64);
      expect(values.get('mesos_slave_executors_running')).toBe(mine.length);
      expect(values.get('mesos_slave_registered')).toBe(1);
      expect(types.get('mesos_slave_status_updates')).toBe('COUNTER');
      expect(values.get('mesos_slave_status_updates')).toBeGreaterThanOrEqual(mine.length * 2);
      tasks += mine.length;
    }
    expect(tasks).toBe(4);
  });

  it('/metrics asks for an operator when authentication is on (401 without credentials)', async () => {
    const secured = await startTestCluster({ agents: 0, master: { authenticate: true } });
    try {
      expect((await fetch(`${secured.url}/metrics`)).status).toBe(401);
      expect((await fetch(`${secured.url}/metrics/snapshot`)).status).toBe(401);
    } finally {
      await secured.stop();
    }
  }, 60_000);
});
