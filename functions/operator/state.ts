/**
 * The cluster as Mesos's operator API shows it (`master.proto` `Response.GetAgents`, `GetFrameworks`,
 * `GetExecutors`, `GetTasks`, `GetState`), built from the registrar's records. Pure: snapshot.ts reads
 * the records.
 *
 * Mesos's classes map onto Mantle's records so:
 * - agents: the ACTIVE ones (an unreachable agent is not registered in Mesos either; a gone one never
 *   comes back); `active` is false while deactivated or draining.
 * - frameworks: every one not removed; removed ones are `completed_frameworks`.
 * - tasks: active ones and terminal ones not yet acknowledged are `tasks`, TASK_UNREACHABLE ones
 *   `unreachable_tasks`, terminal and acknowledged ones `completed_tasks`.
 * - executors: those named by a task's TaskInfo (a command task's executor is the agent's, as in Mesos).
 */
import type { ExecutorInfo, Resource, TaskInfo } from '#shared/protocol/mesos.js';
import { add } from '#shared/resources/resources.js';
import { isTerminal } from '#shared/tasks/state-machine.js';
import { mesosOffer, recipientOf } from '../allocator/offers.js';
import type { AgentRecord, FrameworkRecord, TaskRecord } from '../registrar/index.js';
import { allocations } from '../registrar/ledger.js';

export interface ClusterSnapshot {
  readonly agents: readonly AgentRecord[];
  readonly frameworks: readonly FrameworkRecord[];
  readonly tasks: ReadonlyArray<{ readonly task: TaskRecord; readonly info?: TaskInfo }>;
  /** The version agents report (Mantle's own). */
  readonly version: string;
}

/** Mesos `TimeInfo` from epoch milliseconds. */
export function timeInfo(ms: number): { nanoseconds: number } {
  return { nanoseconds: Math.round(ms * 1e6) };
}

function withRole(resources: readonly Resource[], role: string): Resource[] {
  return resources.map((resource) =>
    resource.allocation_info ? resource : { ...resource, allocation_info: { role } },
  );
}

function sum(resources: ReadonlyArray<readonly Resource[]>): Resource[] {
  return resources.reduce<Resource[]>((total, next) => add(total, next), []);
}

export function agentAllocated(agent: AgentRecord): Resource[] {
  return sum(allocations(agent).map((held) => withRole(held.resources, held.role)));
}

export function agentOffered(agent: AgentRecord): Resource[] {
  return sum(Object.values(agent.offers).map((offer) => withRole(offer.resources, offer.role)));
}

/** Mesos `DrainInfo`: DRAINING until the agent holds no task, then DRAINED. */
export function drainInfo(agent: AgentRecord): Record<string, unknown> | undefined {
  if (!agent.drain) return undefined;
  const state = Object.keys(agent.tasks).length === 0 ? 'DRAINED' : 'DRAINING';
  const grace = agent.drain.maxGracePeriodSeconds;
  return {
    state,
    config: {
      ...(grace !== undefined ? { max_grace_period: { nanoseconds: Math.round(grace * 1e9) } } : {}),
      mark_gone: agent.drain.markGone === true,
    },
  };
}

export function agentInfo(agent: AgentRecord): Record<string, unknown> {
  return {
    hostname: agent.hostname,
    port: agent.port,
    resources: agent.total,
    attributes: agent.attributes,
    id: { value: agent.agentId },
    ...(agent.domain ? { domain: agent.domain } : {}),
  };
}

/** `Response.GetAgents.Agent`. */
export function mesosAgent(agent: AgentRecord, version: string): Record<string, unknown> {
  const drain = drainInfo(agent);
  return {
    agent_info: agentInfo(agent),
    active: agent.status === 'ACTIVE' && !agent.deactivated,
    deactivated: agent.deactivated,
    version,
    pid: `slave(1)@${agent.ip}:${agent.port}`,
    registered_time: timeInfo(agent.registeredAt),
    ...(agent.reregisteredAt !== undefined ? { reregistered_time: timeInfo(agent.reregisteredAt) } : {}),
    total_resources: agent.total,
    allocated_resources: agentAllocated(agent),
    offered_resources: agentOffered(agent),
    capabilities: agent.capabilities.map((type) => ({ type })),
    ...(drain ? { drain_info: drain } : {}),
    ...(agent.drain ? { estimated_drain_start_time: timeInfo(agent.drain.startedAt) } : {}),
    // Mantle's extension (docs/operator.md): the GPUs behind the `gpus` resource, by index.
    ...(agent.gpuDevices?.length ? { gpus: agent.gpuDevices } : {}),
  };
}

export function getAgents(snapshot: ClusterSnapshot): Record<string, unknown> {
  return {
    agents: snapshot.agents.filter((agent) => agent.status === 'ACTIVE').map((a) => mesosAgent(a, snapshot.version)),
    recovered_agents: [],
  };
}

/** `Response.GetFrameworks.Framework`. */
export function mesosFramework(framework: FrameworkRecord, agents: readonly AgentRecord[]): Record<string, unknown> {
  const id = framework.frameworkId;
  const offers = agents.flatMap((agent) =>
    Object.values(agent.offers)
      .filter((offer) => offer.frameworkId === id)
      .map((offer) => mesosOffer(offer, agent, recipientOf(framework.info))),
  );
  const allocated = agents.flatMap((agent) =>
    allocations(agent)
      .filter((held) => held.frameworkId === id)
      .map((held) => withRole(held.resources, held.role)),
  );
  const unregistered = framework.removedAt ?? framework.disconnectedAt;
  return {
    framework_info: { ...framework.info, id: { value: id } },
    active: framework.status === 'SUBSCRIBED' || framework.status === 'DISCONNECTED',
    connected: framework.status === 'SUBSCRIBED',
    recovered: false,
    registered_time: timeInfo(framework.registeredAt),
    ...(framework.reregisteredAt !== undefined ? { reregistered_time: timeInfo(framework.reregisteredAt) } : {}),
    ...(unregistered !== undefined ? { unregistered_time: timeInfo(unregistered) } : {}),
    offers,
    inverse_offers: [],
    allocated_resources: sum(allocated),
    offered_resources: sum(offers.map((offer) => offer.resources ?? [])),
    ...(framework.offerConstraints ? { offer_constraints: framework.offerConstraints } : {}),
  };
}

export function getFrameworks(snapshot: ClusterSnapshot): Record<string, unknown> {
  const show = (framework: FrameworkRecord) => mesosFramework(framework, snapshot.agents);
  return {
    frameworks: snapshot.frameworks.filter((f) => f.status !== 'REMOVED').map(show),
    completed_frameworks: snapshot.frameworks.filter((f) => f.status === 'REMOVED').map(show),
  };
}

/** Mesos `Task`, from the row and the TaskInfo it was launched with. */
export function mesosTask(task: TaskRecord, info: TaskInfo | undefined): Record<string, unknown> {
  const executorId = info?.executor?.executor_id;
  return {
    name: task.name,
    task_id: { value: task.taskId },
    framework_id: { value: task.frameworkId },
    ...(executorId ? { executor_id: executorId } : {}),
    agent_id: { value: task.agentId },
    state: task.state,
    resources: withRole(task.resources, task.role),
    statuses: task.status ? [task.status] : [],
    ...(task.status ? { status_update_state: task.status.state } : {}),
    ...(task.status?.uuid ? { status_update_uuid: task.status.uuid } : {}),
    ...(info?.labels ? { labels: info.labels } : {}),
    ...(info?.discovery ? { discovery: info.discovery } : {}),
    ...(info?.container ? { container: info.container } : {}),
    ...(info?.health_check ? { health_check: info.health_check } : {}),
    ...(info?.kill_policy ? { kill_policy: info.kill_policy } : {}),
    ...(info?.command?.user ? { user: info.command.user } : {}),
    ...(info?.limits && Object.keys(info.limits).length > 0 ? { limits: info.limits } : {}),
  };
}

export type TaskClass = 'tasks' | 'unreachable_tasks' | 'completed_tasks';

export function taskClass(task: TaskRecord): TaskClass {
  if (task.state === 'TASK_UNREACHABLE') return 'unreachable_tasks';
  return isTerminal(task.state) && task.acknowledged ? 'completed_tasks' : 'tasks';
}

export function getTasks(snapshot: ClusterSnapshot): Record<string, unknown[]> {
  const classes: Record<TaskClass, unknown[]> = { tasks: [], unreachable_tasks: [], completed_tasks: [] };
  for (const { task, info } of snapshot.tasks) classes[taskClass(task)].push(mesosTask(task, info));
  return { pending_tasks: [], ...classes, orphan_tasks: [] };
}

export function getExecutors(snapshot: ClusterSnapshot): Record<string, unknown[]> {
  const executors = new Map<string, { executor_info: ExecutorInfo; agent_id: { value: string } }>();
  for (const { task, info } of snapshot.tasks) {
    if (!info?.executor || isTerminal(task.state)) continue;
    const key = `${task.frameworkId}/${task.agentId}/${info.executor.executor_id.value}`;
    executors.set(key, {
      executor_info: { ...info.executor, framework_id: { value: task.frameworkId } },
      agent_id: { value: task.agentId },
    });
  }
  return { executors: [...executors.values()], orphan_executors: [] };
}

/** `Response.GetState`: everything at once. */
export function getState(snapshot: ClusterSnapshot): Record<string, unknown> {
  return {
    get_tasks: getTasks(snapshot),
    get_executors: getExecutors(snapshot),
    get_frameworks: getFrameworks(snapshot),
    get_agents: getAgents(snapshot),
  };
}
