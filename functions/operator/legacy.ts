/**
 * The legacy (v0) read endpoints' JSON, as Mesos's master writes it (`src/master/readonly_handler.cpp`,
 * `src/common/http.cpp` `model(...)`): `/master/state`, `/master/state-summary`, `/master/frameworks`,
 * `/master/slaves`, `/master/tasks`, `/master/roles`, `/flags`, `/version`. Resources are flat maps
 * (`{"cpus": 2, "ports": "[31000-31099]"}`), times are seconds, ids are strings. Pure.
 */
import type { Resource } from '#shared/protocol/mesos.js';
import type { FrameworkRecord, RoleRecord, TaskRecord } from '../registrar/index.js';
import type { AgentRecord } from '../registrar/index.js';
import { agentAllocated, agentOffered, drainInfo, type ClusterSnapshot } from './state.js';
import type { TaskInfo } from '#shared/protocol/mesos.js';
import { isTerminal } from '#shared/tasks/state-machine.js';
import { allocations } from '../registrar/ledger.js';

type Json = Record<string, unknown>;

/** Mesos `model(Resources)`: scalars as numbers, ranges as "[a-b, c-d]", sets as "{a, b}". */
export function flatResources(resources: readonly Resource[]): Record<string, number | string> {
  const flat: Record<string, number | string> = { cpus: 0, mem: 0, disk: 0, gpus: 0 };
  for (const resource of resources) {
    if (resource.scalar) flat[resource.name] = Number(flat[resource.name] ?? 0) + resource.scalar.value;
    else if (resource.ranges) {
      const ranges = (resource.ranges.range ?? []).map((range) => `${range.begin}-${range.end}`);
      flat[resource.name] = `[${ranges.join(', ')}]`;
    } else if (resource.set) flat[resource.name] = `{${(resource.set.item ?? []).join(', ')}}`;
  }
  return flat;
}

const secs = (ms: number | undefined): number => (ms ?? 0) / 1000;

function attributes(agent: AgentRecord): Json {
  return Object.fromEntries(
    agent.attributes.map((attribute) => [
      attribute.name,
      attribute.scalar?.value ?? attribute.text?.value ?? flatResources([attribute as Resource])[attribute.name],
    ]),
  );
}

function reservedByRole(resources: readonly Resource[]): Map<string, Resource[]> {
  const byRole = new Map<string, Resource[]>();
  for (const resource of resources) {
    const role =
      resource.reservations?.at(-1)?.role ?? (resource.role && resource.role !== '*' ? resource.role : undefined);
    if (role) byRole.set(role, [...(byRole.get(role) ?? []), resource]);
  }
  return byRole;
}

export function legacySlave(agent: AgentRecord, version: string): Json {
  const reserved = reservedByRole(agent.total);
  const unreserved = agent.total.filter((r) => !(r.reservations?.length || (r.role && r.role !== '*')));
  const used = agentAllocated(agent);
  const offered = agentOffered(agent);
  const drain = drainInfo(agent);
  return {
    id: agent.agentId,
    pid: `slave(1)@${agent.ip}:${agent.port}`,
    hostname: agent.hostname,
    port: agent.port,
    registered_time: secs(agent.registeredAt),
    ...(agent.reregisteredAt !== undefined ? { reregistered_time: secs(agent.reregisteredAt) } : {}),
    resources: flatResources(agent.total),
    used_resources: flatResources(used),
    offered_resources: flatResources(offered),
    reserved_resources: Object.fromEntries([...reserved].map(([role, r]) => [role, flatResources(r)])),
    unreserved_resources: flatResources(unreserved),
    attributes: attributes(agent),
    active: agent.status === 'ACTIVE' && !agent.deactivated,
    deactivated: agent.deactivated,
    version,
    capabilities: agent.capabilities,
    reserved_resources_full: Object.fromEntries(reserved),
    unreserved_resources_full: unreserved,
    used_resources_full: used,
    offered_resources_full: offered,
    ...(drain ? { drain_info: drain } : {}),
    ...(agent.domain ? { domain: agent.domain } : {}),
    ...(agent.gpuDevices?.length ? { gpus: agent.gpuDevices } : {}),
  };
}

export function legacyTask(task: TaskRecord, info: TaskInfo | undefined): Json {
  return {
    id: task.taskId,
    name: task.name,
    framework_id: task.frameworkId,
    executor_id: info?.executor?.executor_id.value ?? '',
    slave_id: task.agentId,
    state: task.state,
    resources: flatResources(task.resources),
    role: task.role,
    statuses: task.status
      ? [
          {
            state: task.status.state,
            timestamp: task.status.timestamp ?? secs(task.updatedAt),
            ...(task.status.container_status ? { container_status: task.status.container_status } : {}),
          },
        ]
      : [],
    ...(info?.command?.user ? { user: info.command.user } : {}),
    ...(info?.labels?.labels ? { labels: info.labels.labels } : {}),
    ...(info?.discovery ? { discovery: info.discovery } : {}),
    ...(info?.container ? { container: info.container } : {}),
    ...(info?.health_check ? { health_check: info.health_check } : {}),
  };
}

function legacyFramework(framework: FrameworkRecord, snapshot: ClusterSnapshot): Json {
  const id = framework.frameworkId;
  const info = framework.info;
  const own = snapshot.tasks.filter(({ task }) => task.frameworkId === id);
  const tasks = (pick: (task: TaskRecord) => boolean) =>
    own.filter(({ task }) => pick(task)).map(({ task, info: taskInfo }) => legacyTask(task, taskInfo));
  const offers = snapshot.agents.flatMap((agent) =>
    Object.values(agent.offers).filter((offer) => offer.frameworkId === id),
  );
  const used = snapshot.agents.flatMap((agent) =>
    allocations(agent)
      .filter((held) => held.frameworkId === id)
      .flatMap((held) => held.resources),
  );
  const offered = offers.flatMap((offer) => offer.resources);
  return {
    id,
    name: info.name,
    used_resources: flatResources(used),
    offered_resources: flatResources(offered),
    capabilities: (info.capabilities ?? []).map((capability) => capability.type),
    hostname: info.hostname ?? '',
    webui_url: info.webui_url ?? '',
    active: framework.status === 'SUBSCRIBED' || framework.status === 'DISCONNECTED',
    connected: framework.status === 'SUBSCRIBED',
    recovered: false,
    user: info.user,
    failover_timeout: info.failover_timeout ?? 0,
    checkpoint: info.checkpoint ?? false,
    registered_time: secs(framework.registeredAt),
    unregistered_time: secs(framework.removedAt ?? framework.disconnectedAt),
    ...(framework.reregisteredAt !== undefined ? { reregistered_time: secs(framework.reregisteredAt) } : {}),
    ...(framework.principal ? { principal: framework.principal } : {}),
    ...(info.roles?.length ? { roles: info.roles } : { role: info.role ?? '*' }),
    resources: flatResources(used),
    tasks: tasks((t) => t.state !== 'TASK_UNREACHABLE' && !(t.acknowledged && isDone(t))),
    unreachable_tasks: tasks((t) => t.state === 'TASK_UNREACHABLE'),
    completed_tasks: tasks((t) => t.acknowledged && isDone(t)),
    offers: offers.map((offer) => ({
      id: offer.offerId,
      framework_id: offer.frameworkId,
      slave_id: offer.agentId,
      resources: flatResources(offer.resources),
      allocation_info: { role: offer.role },
    })),
    executors: [],
    ...(info.labels?.labels ? { labels: info.labels.labels } : {}),
  };
}

const isDone = (task: TaskRecord): boolean => isTerminal(task.state);

/** `/master/frameworks`; `frameworkId` (its `framework_id` query) keeps that framework only, as Mesos's does. */
export function legacyFrameworks(snapshot: ClusterSnapshot, frameworkId?: string): Json {
  const chosen = snapshot.frameworks.filter((f) => frameworkId === undefined || f.frameworkId === frameworkId);
  return {
    frameworks: chosen.filter((f) => f.status !== 'REMOVED').map((f) => legacyFramework(f, snapshot)),
    completed_frameworks: chosen.filter((f) => f.status === 'REMOVED').map((f) => legacyFramework(f, snapshot)),
    unregistered_frameworks: [],
  };
}

/** `/master/slaves`; `agentId` (its `slave_id` query) keeps that agent only, as Mesos's does. */
export function legacySlaves(snapshot: ClusterSnapshot, agentId?: string): Json {
  return {
    slaves: snapshot.agents
      .filter((a) => a.status === 'ACTIVE' && (agentId === undefined || a.agentId === agentId))
      .map((a) => legacySlave(a, snapshot.version)),
    recovered_slaves: [],
  };
}

/** The task counts by state `/master/state-summary` gives each agent and framework. */
function taskCounts(tasks: readonly TaskRecord[]): Record<string, number> {
  const states = [
    'STAGING',
    'STARTING',
    'RUNNING',
    'KILLING',
    'FINISHED',
    'KILLED',
    'FAILED',
    'LOST',
    'ERROR',
    'UNREACHABLE',
  ];
  return Object.fromEntries(states.map((s) => [`TASK_${s}`, tasks.filter((t) => t.state === `TASK_${s}`).length]));
}

/** `/master/state-summary`: the master's `hostname` and `cluster`, and the agents and frameworks without tasks. */
export function legacyStateSummary(snapshot: ClusterSnapshot, master: { hostname: string; cluster: string }): Json {
  const tasks = snapshot.tasks.map(({ task }) => task);
  const slaves = snapshot.agents
    .filter((agent) => agent.status === 'ACTIVE')
    .map((agent) => {
      const { used_resources_full: _u, offered_resources_full: _o, ...summary } = legacySlave(agent, snapshot.version);
      const own = tasks.filter((task) => task.agentId === agent.agentId);
      return { ...summary, ...taskCounts(own), framework_ids: [...new Set(own.map((task) => task.frameworkId))] };
    });
  const frameworks = snapshot.frameworks
    .filter((framework) => framework.status !== 'REMOVED')
    .map((framework) => {
      const {
        tasks: _t,
        unreachable_tasks: _ut,
        completed_tasks: _ct,
        offers: _of,
        executors: _e,
        ...summary
      } = legacyFramework(framework, snapshot);
      const own = tasks.filter((task) => task.frameworkId === framework.frameworkId);
      return { ...summary, ...taskCounts(own), slave_ids: [...new Set(own.map((task) => task.agentId))] };
    });
  return { hostname: master.hostname, cluster: master.cluster, slaves, frameworks };
}

/** `/master/roles`: Mesos 1.9's shape, quota included. */
export function legacyRoles(v1Roles: ReadonlyArray<Record<string, unknown>>, records: readonly RoleRecord[]): Json {
  const quotas = new Map(records.map((record) => [record.role, record.quota]));
  return {
    roles: v1Roles.map((role) => {
      const name = role.name as string;
      const allocated = role.resources as Resource[];
      const quota = quotas.get(name);
      return {
        name,
        weight: role.weight,
        quota: {
          role: name,
          guarantee: quota?.guarantees ?? {},
          limit: quota?.limits ?? {},
          consumed: flatResources(allocated),
        },
        resources: flatResources(allocated),
        allocated: flatResources(allocated),
        offered: {},
        reserved: {},
        frameworks: (role.frameworks as Array<{ value: string }>).map((framework) => framework.value),
      };
    }),
  };
}

/** `/master/state`: the master, its flags, and every agent and framework with their tasks. */
export function legacyState(
  snapshot: ClusterSnapshot,
  master: Json,
  flags: ReadonlyArray<{ name: string; value: string }>,
): Json {
  const active = snapshot.agents.filter((agent) => agent.status === 'ACTIVE');
  return {
    ...master,
    activated_slaves: active.filter((agent) => !agent.deactivated).length,
    deactivated_slaves: active.filter((agent) => agent.deactivated).length,
    unreachable_slaves: snapshot.agents.filter((agent) => agent.status === 'UNREACHABLE').length,
    flags: Object.fromEntries(flags.map((flag) => [flag.name, flag.value])),
    ...legacySlaves(snapshot),
    ...legacyFrameworks(snapshot),
    orphan_tasks: [],
  };
}

export interface TaskQuery {
  readonly limit: number;
  readonly offset: number;
  readonly order: 'asc' | 'des';
  readonly frameworkId?: string;
  readonly taskId?: string;
}

/** `/master/tasks`: every task, newest first unless `order=asc`, paged (Mesos: limit 100 by default). */
export function legacyTasks(snapshot: ClusterSnapshot, query: TaskQuery): Json {
  const matching = snapshot.tasks.filter(
    ({ task }) =>
      (query.frameworkId === undefined || task.frameworkId === query.frameworkId) &&
      (query.taskId === undefined || task.taskId === query.taskId),
  );
  const ordered = query.order === 'asc' ? matching : [...matching].reverse();
  return {
    tasks: ordered.slice(query.offset, query.offset + query.limit).map(({ task, info }) => legacyTask(task, info)),
  };
}
