/**
 * The operator API's events (Mesos `master.proto` `Event`) from the registrar's change feed, and the
 * objects they carry in Mesos's JSON: `Task`, `Response.GetAgents.Agent`, `Response.GetFrameworks.Framework`.
 * Pure.
 */
import type { AgentRecord, FrameworkRecord, RegistrarChange, TaskRecord } from '../registrar/index.js';
import { allocatedResources } from '../registrar/index.js';

const time = (ms: number | undefined): { nanoseconds: number } | undefined =>
  ms === undefined ? undefined : { nanoseconds: ms * 1_000_000 };

function defined(object: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(object).filter(([, value]) => value !== undefined));
}

/** Mesos `Task`. */
export function taskJson(task: TaskRecord, info: Record<string, unknown> = {}): Record<string, unknown> {
  return defined({
    ...info,
    name: task.name,
    task_id: { value: task.taskId },
    framework_id: { value: task.frameworkId },
    agent_id: { value: task.agentId },
    state: task.state,
    resources: task.resources,
    statuses: task.status ? [task.status] : [],
    status_update_state: task.status?.state,
    status_update_uuid: task.status?.uuid,
    role: task.role,
  });
}

/** Mesos `Response.GetAgents.Agent`. */
export function agentJson(agent: AgentRecord, version: string): Record<string, unknown> {
  return defined({
    agent_info: defined({
      hostname: agent.hostname,
      port: agent.port,
      id: { value: agent.agentId },
      resources: agent.total,
      attributes: agent.attributes,
      domain: agent.domain,
    }),
    active: agent.status === 'ACTIVE' && !agent.deactivated,
    deactivated: agent.deactivated,
    version,
    pid: `slave(1)@${agent.ip}:${agent.port}`,
    registered_time: time(agent.registeredAt),
    reregistered_time: time(agent.reregisteredAt),
    total_resources: agent.total,
    allocated_resources: allocatedResources(agent),
    offered_resources: [],
    capabilities: agent.capabilities.map((type) => ({ type })),
    gpus: agent.gpuDevices?.length ? agent.gpuDevices : undefined,
  });
}

/** Mesos `Response.GetFrameworks.Framework`. */
export function frameworkJson(framework: FrameworkRecord): Record<string, unknown> {
  const active = framework.status === 'SUBSCRIBED' || framework.status === 'DISCONNECTED';
  return defined({
    framework_info: { ...framework.info, id: { value: framework.frameworkId } },
    active,
    connected: framework.status === 'SUBSCRIBED',
    recovered: false,
    registered_time: time(framework.registeredAt),
    reregistered_time: time(framework.reregisteredAt ?? framework.registeredAt),
    unregistered_time: time(framework.removedAt),
    offers: [],
    inverse_offers: [],
    allocated_resources: [],
    offered_resources: [],
  });
}

/** The operator event a registrar change is (Mesos `Event`). */
export function operatorEvent(change: RegistrarChange, version: string): Record<string, unknown> {
  switch (change.kind) {
    case 'TASK_ADDED':
      return { type: 'TASK_ADDED', task_added: { task: taskJson(change.task, change.info) } };
    case 'TASK_UPDATED':
      return {
        type: 'TASK_UPDATED',
        task_updated: defined({
          framework_id: { value: change.task.frameworkId },
          status: change.task.status,
          state: change.task.state,
        }),
      };
    case 'AGENT_ADDED':
      return { type: 'AGENT_ADDED', agent_added: { agent: agentJson(change.agent, version) } };
    case 'AGENT_REMOVED':
      return { type: 'AGENT_REMOVED', agent_removed: { agent_id: { value: change.agentId } } };
    case 'FRAMEWORK_ADDED':
      return { type: 'FRAMEWORK_ADDED', framework_added: { framework: frameworkJson(change.framework) } };
    case 'FRAMEWORK_UPDATED':
      return { type: 'FRAMEWORK_UPDATED', framework_updated: { framework: frameworkJson(change.framework) } };
    case 'FRAMEWORK_REMOVED':
      return {
        type: 'FRAMEWORK_REMOVED',
        framework_removed: {
          framework_info: { ...change.framework.info, id: { value: change.framework.frameworkId } },
        },
      };
  }
}
