/**
 * The cluster's figures under Mesos's metric names (Mesos docs/monitoring.md, "Master Nodes"), computed
 * from the registrar's records rather than from one process's counters: agents and their ledgers,
 * frameworks, and the task counts the task writes keep (registrar/counters.ts). Pure.
 *
 * How Mantle's records map to Mesos's notions:
 * - an agent is *registered* while ACTIVE (UNREACHABLE and GONE agents are not); registered agents are
 *   *connected* (an agent that stops heartbeating becomes UNREACHABLE), *active* unless deactivated or
 *   draining; resources count only registered agents, as Mesos's do;
 * - *used* resources are those of the tasks in the ledgers (Mesos's tasks' and executors'), not offers;
 * - a framework is *connected* while SUBSCRIBED, *active* while SUBSCRIBED or DISCONNECTED (Mantle keeps a
 *   disconnected framework active through its reconnect grace, docs/registrar.md), REMOVED ones are not
 *   counted.
 */
import type { Resource, TaskState } from '#shared/protocol/mesos.js';
import { TERMINAL_STATES } from '#shared/tasks/state-machine.js';
import type { AgentRecord, FrameworkRecord, TaskCounts } from '../registrar/index.js';
import { allocations } from '../registrar/ledger.js';

/** The scalar resources Mesos reports cluster-wide. */
export const METRIC_RESOURCES = ['cpus', 'gpus', 'mem', 'disk'] as const;

/** Mesos's task metrics: `master/tasks_<state>` for every state a task can be in (TASK_UNKNOWN aside). */
export function taskMetricName(state: TaskState): string {
  return `master/tasks_${state.slice('TASK_'.length).toLowerCase()}`;
}

/** The cluster figures that only ever go up (Mesos's counters): tasks that reached a terminal state. */
export const CLUSTER_COUNTERS: ReadonlySet<string> = new Set([...TERMINAL_STATES].map(taskMetricName));

export interface ClusterRecords {
  readonly agents: readonly AgentRecord[];
  readonly frameworks: readonly FrameworkRecord[];
  readonly tasks: TaskCounts;
  /** Seconds this master (the process answering) has been up. */
  readonly uptimeSeconds: number;
}

interface Sums {
  total: number;
  used: number;
}

function scalarSums(
  sums: Map<string, Sums>,
  resources: readonly Resource[],
  key: keyof Sums,
  revocable: boolean,
): void {
  for (const resource of resources) {
    if (resource.type !== 'SCALAR' || resource.scalar === undefined) continue;
    if ((resource.revocable !== undefined) !== revocable) continue;
    const entry = sums.get(resource.name) ?? { total: 0, used: 0 };
    entry[key] += resource.scalar.value;
    sums.set(resource.name, entry);
  }
}

function resourceMetrics(agents: readonly AgentRecord[], into: Record<string, number>): void {
  for (const revocable of [false, true]) {
    const sums = new Map<string, Sums>();
    for (const agent of agents) {
      scalarSums(sums, agent.total, 'total', revocable);
      for (const held of allocations(agent)) scalarSums(sums, held.resources, 'used', revocable);
    }
    const infix = revocable ? '_revocable' : '';
    for (const name of METRIC_RESOURCES) {
      const { total, used } = sums.get(name) ?? { total: 0, used: 0 };
      into[`master/${name}${infix}_total`] = round(total);
      into[`master/${name}${infix}_used`] = round(used);
      into[`master/${name}${infix}_percent`] = total > 0 ? used / total : 0;
    }
  }
}

/** Scalar sums of fixed-point values (Mesos keeps three decimals). */
function round(value: number): number {
  return Math.round(value * 1000) / 1000;
}

function agentMetrics(agents: readonly AgentRecord[], into: Record<string, number>): AgentRecord[] {
  const registered = agents.filter((agent) => agent.status === 'ACTIVE');
  const active = registered.filter((agent) => !agent.deactivated).length;
  into['master/slaves_connected'] = registered.length;
  into['master/slaves_disconnected'] = 0;
  into['master/slaves_active'] = active;
  into['master/slaves_inactive'] = registered.length - active;
  into['master/slaves_unreachable'] = agents.filter((agent) => agent.status === 'UNREACHABLE').length;
  const offers = registered.reduce((sum, agent) => sum + Object.keys(agent.offers).length, 0);
  into['master/outstanding_offers'] = offers;
  into['master/offers_pending'] = offers;
  return registered;
}

function frameworkMetrics(frameworks: readonly FrameworkRecord[], into: Record<string, number>): void {
  const count = (status: FrameworkRecord['status']) => frameworks.filter((f) => f.status === status).length;
  const [subscribed, disconnected, inactive] = [count('SUBSCRIBED'), count('DISCONNECTED'), count('INACTIVE')];
  into['master/frameworks_connected'] = subscribed;
  into['master/frameworks_disconnected'] = disconnected + inactive;
  into['master/frameworks_active'] = subscribed + disconnected;
  into['master/frameworks_inactive'] = inactive;
}

/** The cluster-wide metrics, flat, as `/metrics/snapshot` shows them. */
export function clusterMetrics(records: ClusterRecords): Record<string, number> {
  const into: Record<string, number> = {
    'master/elected': 1,
    'master/uptime_secs': records.uptimeSeconds,
  };
  const registered = agentMetrics(records.agents, into);
  resourceMetrics(registered, into);
  frameworkMetrics(records.frameworks, into);
  for (const [state, count] of Object.entries(records.tasks) as Array<[TaskState, number]>) {
    if (state !== 'TASK_UNKNOWN') into[taskMetricName(state)] = count;
  }
  return into;
}
