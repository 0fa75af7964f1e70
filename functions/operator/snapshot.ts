/**
 * Reads what the operator's views are built from (state.ts): every agent, framework and task in the
 * registrar. Scans: an operator's read costs a read of the cluster's records, as Mesos's `/state`
 * serialises its whole in-memory state; only the parts a call needs are read.
 */
import type { Master } from '../master/master.js';
import type { AgentRecord, FrameworkRecord } from '../registrar/index.js';
import { MANTLE_VERSION } from '../scheduler/subscribe.js';
import { getState, type ClusterSnapshot } from './state.js';

export interface SnapshotParts {
  readonly agents?: boolean;
  readonly frameworks?: boolean;
  readonly tasks?: boolean;
}

async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const found: T[] = [];
  for await (const item of items) found.push(item);
  return found;
}

export async function readSnapshot(master: Pick<Master, 'registrar'>, parts: SnapshotParts): Promise<ClusterSnapshot> {
  const registrar = master.registrar;
  const [agents, frameworks, tasks] = await Promise.all([
    parts.agents ? collect<AgentRecord>(registrar.agents.list()) : [],
    parts.frameworks ? collect<FrameworkRecord>(registrar.frameworks.list()) : [],
    parts.tasks ? collect(registrar.tasks.scanWithInfo()) : [],
  ]);
  return {
    agents: agents.sort((a, b) => a.registeredAt - b.registeredAt),
    frameworks: frameworks.sort((a, b) => a.registeredAt - b.registeredAt),
    tasks: tasks.sort((a, b) => a.task.createdAt - b.task.createdAt),
    version: MANTLE_VERSION,
  };
}

export const EVERYTHING: SnapshotParts = { agents: true, frameworks: true, tasks: true };

/** Mesos `Response.GetState`: GET_STATE's answer and the operator stream's SUBSCRIBED. */
export async function stateOf(
  master: Pick<Master, 'registrar'>,
  options: { readonly tasks: boolean } = { tasks: true },
): Promise<Record<string, unknown>> {
  return getState(await readSnapshot(master, { ...EVERYTHING, tasks: options.tasks }));
}
