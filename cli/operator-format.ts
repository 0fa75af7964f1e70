/**
 * How the operator verbs print the cluster for people: agents, frameworks, tasks and roles as tables
 * (`--json` prints the operator API's JSON instead). Pure.
 */
import type { Agent, Framework, Resource, Role, Task, TimeInfo } from '../sdk/operator-types.js';
import { table } from './job-format.js';

/** The scalar total of one resource name over a list (reserved and unreserved alike). */
export function scalar(resources: readonly Resource[] | undefined, name: string): number {
  let total = 0;
  for (const resource of resources ?? []) if (resource.name === name) total += resource.scalar?.value ?? 0;
  return total;
}

/** A quantity without float noise: 0.30000000000000004 → 0.3. */
export function quantity(value: number): string {
  return String(Math.round(value * 1000) / 1000);
}

/** `used/total` of one resource, or `-` where the agent has none. */
function usage(used: readonly Resource[] | undefined, total: readonly Resource[] | undefined, name: string): string {
  const all = scalar(total, name);
  return all === 0 ? '-' : `${quantity(scalar(used, name))}/${quantity(all)}`;
}

export function timeText(time: TimeInfo | number | undefined): string {
  if (time === undefined) return '-';
  const ms = typeof time === 'number' ? time * 1000 : time.nanoseconds / 1e6;
  return new Date(ms).toISOString().replace(/\.\d+Z$/, 'Z');
}

/** An agent's state as an operator says it: active, deactivated, draining, drained, or disconnected. */
export function agentState(agent: Agent): string {
  if (agent.drain_info?.state === 'DRAINING' || agent.drain_info?.state === 'DRAINED') {
    return agent.drain_info.state.toLowerCase();
  }
  if (agent.deactivated) return 'deactivated';
  return agent.active ? 'active' : 'inactive';
}

export function agentsTable(agents: readonly Agent[]): string[] {
  if (agents.length === 0) return ['no agents'];
  return table(
    ['ID', 'HOSTNAME', 'STATE', 'CPUS', 'MEM', 'GPUS', 'DISK', 'REGISTERED'],
    agents.map((agent) => {
      const used = agent.allocated_resources;
      const total = agent.total_resources ?? agent.agent_info.resources;
      return [
        agent.agent_info.id?.value ?? '-',
        agent.agent_info.hostname,
        agentState(agent),
        usage(used, total, 'cpus'),
        usage(used, total, 'mem'),
        usage(used, total, 'gpus'),
        usage(used, total, 'disk'),
        timeText(agent.reregistered_time ?? agent.registered_time),
      ];
    }),
  );
}

function rolesOf(framework: Framework): string {
  const { roles, role } = framework.framework_info;
  return roles && roles.length > 0 ? roles.join(',') : (role ?? '*');
}

export function frameworksTable(frameworks: readonly Framework[], completed = false): string[] {
  if (frameworks.length === 0) return [completed ? 'no frameworks, none completed' : 'no frameworks'];
  return table(
    ['ID', 'NAME', 'ROLES', 'PRINCIPAL', 'STATE', 'CPUS', 'MEM', 'GPUS'],
    frameworks.map((framework) => {
      const state = !framework.active
        ? completed
          ? 'completed'
          : 'inactive'
        : framework.connected
          ? 'connected'
          : 'disconnected';
      return [
        framework.framework_info.id?.value ?? '-',
        framework.framework_info.name,
        rolesOf(framework),
        framework.framework_info.principal ?? '-',
        state,
        quantity(scalar(framework.allocated_resources, 'cpus')),
        quantity(scalar(framework.allocated_resources, 'mem')),
        quantity(scalar(framework.allocated_resources, 'gpus')),
      ];
    }),
  );
}

/** The time of a task's latest status, in seconds since the epoch (Mesos's TaskStatus.timestamp). */
function lastUpdate(task: Task): number | undefined {
  const statuses = task.statuses ?? [];
  return statuses[statuses.length - 1]?.timestamp;
}

export function tasksTable(tasks: readonly Task[]): string[] {
  if (tasks.length === 0) return ['no tasks'];
  return table(
    ['ID', 'NAME', 'STATE', 'FRAMEWORK', 'AGENT', 'CPUS', 'MEM', 'GPUS', 'UPDATED'],
    tasks.map((task) => [
      task.task_id.value,
      task.name,
      task.state,
      task.framework_id.value,
      task.agent_id.value,
      quantity(scalar(task.resources, 'cpus')),
      quantity(scalar(task.resources, 'mem')),
      quantity(scalar(task.resources, 'gpus')),
      timeText(lastUpdate(task)),
    ]),
  );
}

/** `cpus:4;mem:1024` of a quantity map, or `-` when empty. */
export function quantitiesText(quantities: Readonly<Record<string, number | { value: number }>> | undefined): string {
  // By name, so a table reads the same whatever order the master answered in.
  const entries = Object.entries(quantities ?? {}).sort(([a], [b]) => a.localeCompare(b));
  if (entries.length === 0) return '-';
  return entries
    .map(([name, value]) => `${name}:${quantity(typeof value === 'number' ? value : value.value)}`)
    .join(';');
}

export function rolesTable(roles: readonly Role[]): string[] {
  if (roles.length === 0) return ['no roles'];
  return table(
    ['ROLE', 'WEIGHT', 'FRAMEWORKS', 'CPUS', 'MEM', 'GPUS', 'GUARANTEE', 'LIMIT'],
    roles.map((role) => {
      const allocated = role.allocated ?? role.resources;
      return [
        role.name,
        quantity(role.weight),
        String(role.frameworks?.length ?? 0),
        quantity(scalar(allocated, 'cpus')),
        quantity(scalar(allocated, 'mem')),
        quantity(scalar(allocated, 'gpus')),
        quantitiesText(role.quota?.guarantee),
        quantitiesText(role.quota?.limit),
      ];
    }),
  );
}
