/**
 * The cluster as the UI knows it: filled from SUBSCRIBE's SUBSCRIBED state, then kept current by its
 * events. Pages read it through useCluster(), re-rendered at most once a frame however fast events come.
 * Each task's state history is what this tab saw (the master keeps only a task's latest status).
 */
import { useEffect, useState } from 'preact/hooks';
import {
  LoginRequired,
  subscribe,
  type Agent,
  type Framework,
  type OperatorEvent,
  type State,
  type Task,
} from './api.js';

export interface Transition {
  readonly state: string;
  readonly at: number;
  readonly message?: string;
}

export class Cluster {
  readonly agents = new Map<string, Agent>();
  readonly frameworks = new Map<string, Framework>();
  readonly tasks = new Map<string, Task>();
  readonly history = new Map<string, Transition[]>();
  connected = false;
  error: string | null = null;
  version = 0;
  private listeners = new Set<() => void>();
  private scheduled = false;

  listen(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  changed(): void {
    this.version++;
    if (this.scheduled) return;
    this.scheduled = true;
    requestAnimationFrame(() => {
      this.scheduled = false;
      for (const listener of this.listeners) listener();
    });
  }

  load(state: State): void {
    this.agents.clear();
    this.frameworks.clear();
    this.tasks.clear();
    for (const agent of state.get_agents?.agents ?? []) this.putAgent(agent);
    for (const framework of state.get_frameworks?.frameworks ?? []) this.putFramework(framework);
    const tasks = state.get_tasks ?? {};
    for (const list of [tasks.completed_tasks, tasks.unreachable_tasks, tasks.pending_tasks, tasks.tasks]) {
      for (const task of list ?? []) this.putTask(task);
    }
  }

  putAgent(agent: Agent): void {
    const id = agent.agent_info.id?.value;
    if (id) this.agents.set(id, agent);
  }

  putFramework(framework: Framework): void {
    const id = framework.framework_info.id?.value;
    if (id) this.frameworks.set(id, framework);
  }

  putTask(task: Task): void {
    this.tasks.set(task.task_id.value, task);
    const status = task.statuses?.at(-1);
    this.record(task.task_id.value, task.state, status?.timestamp, status?.message);
  }

  private record(taskId: string, state: string, timestamp?: number, message?: string): void {
    const history = this.history.get(taskId) ?? [];
    if (history.at(-1)?.state === state) return;
    history.push({ state, at: timestamp ? timestamp * 1000 : Date.now(), ...(message ? { message } : {}) });
    this.history.set(taskId, history);
  }

  apply(event: OperatorEvent): void {
    if (event.subscribed) this.load(event.subscribed.get_state);
    else if (event.task_added) this.putTask(event.task_added.task);
    else if (event.task_updated) this.updateTask(event.task_updated);
    else if (event.agent_added) this.putAgent(event.agent_added.agent);
    else if (event.agent_removed) this.agents.delete(event.agent_removed.agent_id.value);
    else if (event.framework_added) this.putFramework(event.framework_added.framework);
    else if (event.framework_updated) this.putFramework(event.framework_updated.framework);
    else if (event.framework_removed) this.frameworks.delete(event.framework_removed.framework_info.id?.value ?? '');
    else return;
    this.changed();
  }

  private updateTask(update: NonNullable<OperatorEvent['task_updated']>): void {
    const id = update.status.task_id.value;
    const task = this.tasks.get(id);
    if (task) this.tasks.set(id, { ...task, state: update.state, statuses: [update.status] });
    this.record(id, update.state, update.status.timestamp, update.status.message);
  }
}

export const cluster = new Cluster();

/** Keeps a SUBSCRIBE stream open, resubscribing (and so reloading the state) whenever it ends. */
export async function follow(target: Cluster, signal: AbortSignal, onLogin: () => void): Promise<void> {
  while (!signal.aborted) {
    try {
      for await (const event of subscribe(signal)) {
        if (!target.connected || target.error) {
          target.connected = true;
          target.error = null;
          target.changed();
        }
        target.apply(event);
      }
    } catch (error) {
      if (signal.aborted) return;
      if (error instanceof LoginRequired) {
        onLogin();
        return;
      }
      target.error = (error as Error).message;
    }
    target.connected = false;
    target.changed();
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
}

/** Re-renders the calling component whenever the cluster changes. */
export function useCluster(): Cluster {
  const [, setVersion] = useState(0);
  useEffect(() => cluster.listen(() => setVersion(cluster.version)), []);
  return cluster;
}
