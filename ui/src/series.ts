/**
 * The in-browser time series behind the overview's charts: every SAMPLE_MS the UI reads the agents and
 * the roles (GET_AGENTS, GET_ROLES) and keeps, per resource, the cluster's total and each role's
 * allocation, for the last hour. The agents read also refreshes the store: draining and deactivation
 * change an agent without an event on the stream.
 */
import { operator, type Agent, type Resource } from './api.js';
import { add, byRole, scalars, type Totals } from './resources.js';
import type { Cluster } from './store.js';

export const SAMPLE_MS = 5000;
const HOUR_MS = 3_600_000;
export const CHARTED = ['cpus', 'mem', 'gpus'] as const;

export interface Sample {
  readonly at: number;
  readonly total: Totals;
  readonly allocated: ReadonlyMap<string, Totals>;
}

export class Series {
  readonly samples: Sample[] = [];

  push(sample: Sample): void {
    this.samples.push(sample);
    while (this.samples.length > 0 && (this.samples[0]?.at ?? 0) < sample.at - HOUR_MS) this.samples.shift();
  }

  roles(): string[] {
    const roles = new Set<string>();
    for (const sample of this.samples) for (const role of sample.allocated.keys()) roles.add(role);
    return [...roles].sort();
  }

  /** uPlot's columns: times (seconds), the total, then each role's allocation of `name`. */
  columns(name: string, roles: readonly string[]): number[][] {
    return [
      this.samples.map((s) => s.at / 1000),
      this.samples.map((s) => s.total[name] ?? 0),
      ...roles.map((role) => this.samples.map((s) => s.allocated.get(role)?.[name] ?? 0)),
    ];
  }
}

export const series = new Series();

interface Role {
  readonly name: string;
  readonly resources?: readonly Resource[];
}

export async function sample(target: Cluster, into: Series, signal: AbortSignal): Promise<void> {
  const [agents, roles] = await Promise.all([
    operator<{ agents?: Agent[] }>({ type: 'GET_AGENTS' }, signal),
    operator<{ roles?: Role[] }>({ type: 'GET_ROLES' }, signal),
  ]);
  const total: Totals = {};
  target.agents.clear();
  for (const agent of agents.agents ?? []) {
    target.putAgent(agent);
    add(total, scalars(agent.total_resources));
  }
  const allocated = new Map<string, Totals>();
  for (const role of roles.roles ?? []) {
    const totals = byRole(role.resources).get(role.name) ?? scalars(role.resources);
    if (Object.keys(totals).length > 0) allocated.set(role.name, totals);
  }
  into.push({ at: Date.now(), total, allocated });
  target.changed();
}
