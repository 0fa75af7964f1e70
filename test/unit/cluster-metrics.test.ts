import { describe, expect, it } from 'vitest';
import { CLUSTER_COUNTERS, clusterMetrics, taskMetricName } from '../../functions/operator/cluster-metrics.js';
import type { AgentRecord, FrameworkRecord, TaskCounts } from '../../functions/registrar/index.js';
import { TASK_STATES } from '#shared/protocol/mesos.js';
import { scalarResource } from '#shared/resources/resource.js';

function agent(id: string, status: AgentRecord['status'], extra: Partial<AgentRecord> = {}): AgentRecord {
  return {
    agentId: id,
    hostname: id,
    ip: '127.0.0.1',
    port: 5051,
    commandQueueUrl: '',
    containerizers: [],
    principal: '',
    attributes: [],
    capabilities: [],
    total: [scalarResource('cpus', 4), scalarResource('mem', 1000), scalarResource('gpus', 2)],
    offers: {},
    tasks: {},
    executors: {},
    version: 1,
    status,
    deactivated: false,
    registeredAt: 0,
    lastHeartbeat: 0,
    ...extra,
  };
}

function framework(status: FrameworkRecord['status']): FrameworkRecord {
  return {
    frameworkId: `fw-${status}`,
    info: { user: 'u', name: 'n' },
    principal: '',
    roles: ['*'],
    suppressedRoles: [],
    status,
    eventQueueUrl: '',
    delivery: 'stream',
    version: 1,
    registeredAt: 0,
  };
}

const none = Object.fromEntries(TASK_STATES.map((state) => [state, 0])) as TaskCounts;

describe('clusterMetrics', () => {
  it("maps the registrar's records onto Mesos's names", () => {
    const task = (cpus: number) => ({
      frameworkId: 'f',
      taskId: `t${cpus}`,
      role: '*',
      resources: [scalarResource('cpus', cpus, { allocationRole: '*' }), scalarResource('gpus', 1)],
      launchId: 'l',
      launchedAt: 0,
    });
    const offer = { offerId: 'o', agentId: 'a', frameworkId: 'f', role: '*', resources: [], createdAt: 0 };
    const figures = clusterMetrics({
      agents: [
        agent('a', 'ACTIVE', { tasks: { x: task(1.5), y: task(0.5) }, offers: { o: offer } }),
        agent('b', 'ACTIVE', { deactivated: true }),
        agent('c', 'UNREACHABLE', { tasks: { z: task(3) } }),
        agent('d', 'GONE'),
      ],
      frameworks: ['SUBSCRIBED', 'SUBSCRIBED', 'DISCONNECTED', 'INACTIVE', 'REMOVED'].map((s) =>
        framework(s as FrameworkRecord['status']),
      ),
      tasks: { ...none, TASK_RUNNING: 2, TASK_FINISHED: 7, TASK_GONE_BY_OPERATOR: 1, TASK_UNKNOWN: 3 },
      uptimeSeconds: 42,
    });
    expect(figures).toMatchObject({
      'master/elected': 1,
      'master/uptime_secs': 42,
      'master/slaves_connected': 2,
      'master/slaves_disconnected': 0,
      'master/slaves_active': 1,
      'master/slaves_inactive': 1,
      'master/slaves_unreachable': 1,
      'master/outstanding_offers': 1,
      'master/offers_pending': 1,
      'master/frameworks_connected': 2,
      'master/frameworks_disconnected': 2,
      'master/frameworks_active': 3,
      'master/frameworks_inactive': 1,
      'master/tasks_running': 2,
      'master/tasks_finished': 7,
      'master/tasks_gone_by_operator': 1,
      // Only registered agents count: the unreachable one's tasks and resources are left out.
      'master/cpus_total': 8,
      'master/cpus_used': 2,
      'master/cpus_percent': 0.25,
      'master/gpus_total': 4,
      'master/gpus_used': 2,
      'master/gpus_percent': 0.5,
      'master/disk_total': 0,
      'master/disk_percent': 0,
      'master/cpus_revocable_total': 0,
    });
    expect(figures).not.toHaveProperty('master/tasks_unknown');
  });

  it('names every task state as Mesos does, and types the terminal ones as counters', () => {
    expect(taskMetricName('TASK_GONE_BY_OPERATOR')).toBe('master/tasks_gone_by_operator');
    expect(CLUSTER_COUNTERS.has('master/tasks_finished')).toBe(true);
    expect(CLUSTER_COUNTERS.has('master/tasks_running')).toBe(false);
  });
});
