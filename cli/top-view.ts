/**
 * What `mantle top` shows, from one GET_STATE: the cluster's totals (agents, frameworks, tasks by state,
 * resources used of total), then the agents, the frameworks and the live tasks, cut to the screen. Pure.
 */
import type { GetState, Task } from '../sdk/operator-types.js';
import { agentsTable, frameworksTable, quantity, scalar, tasksTable } from './operator-format.js';

export interface TopScreen {
  readonly master: string;
  readonly now: Date;
  /** Lines available (the terminal's rows); undefined: no limit (stdout is not a terminal). */
  readonly rows?: number;
  readonly columns?: number;
}

const RESOURCES = ['cpus', 'mem', 'gpus', 'disk'] as const;

function percent(used: number, total: number): string {
  return total === 0 ? '-' : `${Math.round((used / total) * 100)}%`;
}

function countBy(values: readonly string[]): string {
  const counts = new Map<string, number>();
  for (const value of values) counts.set(value, (counts.get(value) ?? 0) + 1);
  if (counts.size === 0) return 'none';
  return [...counts.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([value, n]) => `${n} ${value.replace(/^TASK_/, '').toLowerCase()}`)
    .join(', ');
}

/** The summary lines: who is there and how much of the cluster is in use. */
export function summary(state: GetState): string[] {
  const agents = state.get_agents?.agents ?? [];
  const frameworks = state.get_frameworks?.frameworks ?? [];
  const live = [...(state.get_tasks?.tasks ?? []), ...(state.get_tasks?.unreachable_tasks ?? [])];
  const active = agents.filter((agent) => agent.active).length;
  const connected = frameworks.filter((framework) => framework.connected).length;
  const usage = RESOURCES.map((name) => {
    const total = agents.reduce(
      (sum, agent) => sum + scalar(agent.total_resources ?? agent.agent_info.resources, name),
      0,
    );
    const used = agents.reduce((sum, agent) => sum + scalar(agent.allocated_resources, name), 0);
    return `${name} ${quantity(used)}/${quantity(total)} (${percent(used, total)})`;
  });
  return [
    `agents ${agents.length} (${active} active)   frameworks ${frameworks.length} (${connected} connected)`,
    `tasks ${live.length}: ${countBy(live.map((task) => task.state))}   completed ${state.get_tasks?.completed_tasks?.length ?? 0}`,
    usage.join('   '),
  ];
}

/** A section: its title and table, cut to `room` lines (saying how many were left out). */
function section(title: string, lines: readonly string[], room: number | undefined): string[] {
  const all = ['', title, ...lines];
  if (room === undefined || all.length <= room) return all;
  if (room < 4) return [];
  const shown = all.slice(0, room - 1);
  return [...shown, `  … ${all.length - shown.length} more`];
}

/** Running tasks first, then the rest of the live ones, newest update first within each. */
function liveTasks(state: GetState): Task[] {
  const live = [...(state.get_tasks?.tasks ?? []), ...(state.get_tasks?.unreachable_tasks ?? [])];
  const updated = (task: Task) => task.statuses?.[task.statuses.length - 1]?.timestamp ?? 0;
  return live.sort(
    (a, b) => Number(b.state === 'TASK_RUNNING') - Number(a.state === 'TASK_RUNNING') || updated(b) - updated(a),
  );
}

export function renderTop(state: GetState, screen: TopScreen): string[] {
  const header = [
    `mantle top   ${screen.master}   ${screen.now.toISOString().replace(/\.\d+Z$/, 'Z')}   (q to quit)`,
    ...summary(state),
  ];
  const agents = agentsTable(state.get_agents?.agents ?? []);
  const frameworks = frameworksTable(state.get_frameworks?.frameworks ?? []);
  const tasks = tasksTable(liveTasks(state));
  let lines: string[];
  if (screen.rows === undefined) {
    lines = [...header, ...section('AGENTS', agents, undefined), ...section('FRAMEWORKS', frameworks, undefined)];
    lines.push(...section('TASKS', tasks, undefined));
  } else {
    // Agents and frameworks get at most a third of what is left each; tasks take the rest.
    const left = Math.max(0, screen.rows - header.length);
    const agentPart = section('AGENTS', agents, Math.min(agents.length + 2, Math.floor(left / 3)));
    const frameworkPart = section('FRAMEWORKS', frameworks, Math.min(frameworks.length + 2, Math.floor(left / 3)));
    const rest = left - agentPart.length - frameworkPart.length;
    lines = [...header, ...agentPart, ...frameworkPart, ...section('TASKS', tasks, rest)];
  }
  const width = screen.columns;
  return width === undefined ? lines : lines.map((line) => (line.length > width ? line.slice(0, width) : line));
}
