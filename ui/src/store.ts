/**
 * The cluster as the UI knows it: agents and frameworks from SUBSCRIBE's SUBSCRIBED state, the tasks
 * paged in with GET_TASKS once SUBSCRIBED has come (first a small page, to draw at once), and all of it
 * kept current by the stream's events. An event is newer than any page read after SUBSCRIBED, so a
 * task an event has touched keeps the event's word; an update to a task no page has brought yet waits
 * for it. Pages read the store through useCluster(), re-rendered at most once a frame however fast
 * events come. Each task's state history is what this tab saw (the master keeps only its latest status).
 */
import { useEffect, useState } from 'preact/hooks';
import {
  LoginRequired,
  subscribe,
  taskPage,
  type Agent,
  type Framework,
  type OperatorEvent,
  type State,
  type Task,
  type TaskPage,
} from './api.js';

type TaskUpdate = NonNullable<OperatorEvent['task_updated']>;

/**
 * Pages as large as the master answers: at 1,000 tasks one read draws everything (a small first page drew its
 * first rows a little sooner, but every count and the full list then waited for a second round trip).
 */
const FIRST_PAGE = 1000;
const PAGE = 1000;

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
  /** Pages of tasks are still to come (since the last SUBSCRIBED). */
  loadingTasks = false;
  error: string | null = null;
  /** Tasks the stream's events have set since the last SUBSCRIBED: pages read earlier do not overwrite them. */
  private touched = new Set<string>();
  private waiting = new Map<string, TaskUpdate>();
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
    this.touched.clear();
    this.waiting.clear();
    this.loadingTasks = true;
    for (const agent of state.get_agents?.agents ?? []) this.putAgent(agent);
    for (const framework of state.get_frameworks?.frameworks ?? []) this.putFramework(framework);
  }

  /** A page of tasks read after SUBSCRIBED: adds what the events have not already said. */
  loadPage(page: TaskPage): void {
    for (const list of [page.completed_tasks, page.unreachable_tasks, page.pending_tasks, page.tasks]) {
      for (const task of list ?? []) {
        const id = task.task_id.value;
        if (this.touched.has(id)) continue;
        this.putTask(task);
        const update = this.waiting.get(id);
        if (update) {
          this.waiting.delete(id);
          this.updateTask(update);
        }
      }
    }
    if (!page.next_cursor) {
      // Every task is in: from here the events alone keep them current.
      this.loadingTasks = false;
      this.touched.clear();
      this.waiting.clear();
    }
    this.changed();
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
    else if (event.task_added) {
      this.touched.add(event.task_added.task.task_id.value);
      this.putTask(event.task_added.task);
    } else if (event.task_updated) this.updateTask(event.task_updated);
    else if (event.agent_added) this.putAgent(event.agent_added.agent);
    else if (event.agent_removed) this.agents.delete(event.agent_removed.agent_id.value);
    else if (event.framework_added) this.putFramework(event.framework_added.framework);
    else if (event.framework_updated) this.putFramework(event.framework_updated.framework);
    else if (event.framework_removed) this.frameworks.delete(event.framework_removed.framework_info.id?.value ?? '');
    else return;
    this.changed();
  }

  private updateTask(update: TaskUpdate): void {
    const id = update.status.task_id.value;
    const task = this.tasks.get(id);
    if (!task) {
      if (this.loadingTasks) this.waiting.set(id, update);
      return;
    }
    this.touched.add(id);
    this.tasks.set(id, { ...task, state: update.state, statuses: [update.status] });
    this.record(id, update.state, update.status.timestamp, update.status.message);
  }
}

export const cluster = new Cluster();

/** Pages the tasks in after a SUBSCRIBED, until the last page or until `stream` (that stream) ends. */
async function loadTasks(target: Cluster, stream: AbortSignal): Promise<void> {
  let cursor: string | undefined;
  do {
    const page = await taskPage(cursor ? PAGE : FIRST_PAGE, cursor, stream);
    if (stream.aborted) return;
    target.loadPage(page);
    cursor = page.next_cursor;
  } while (cursor);
}

/** One SUBSCRIBE stream, until it ends; its tasks paged in beside it. */
async function followOnce(target: Cluster, signal: AbortSignal): Promise<void> {
  const stream = new AbortController();
  const stop = () => stream.abort();
  signal.addEventListener('abort', stop);
  const paging: Promise<void>[] = [];
  let pageError: unknown;
  try {
    for await (const event of subscribe(stream.signal)) {
      if (!target.connected || target.error) {
        target.connected = true;
        target.error = null;
        target.changed();
      }
      target.apply(event);
      if (event.subscribed) {
        const loading = loadTasks(target, stream.signal).catch((error: unknown) => {
          // A page that fails ends the stream too: the tab resubscribes and pages afresh.
          if (!stream.signal.aborted) pageError = error;
          stop();
        });
        paging.push(loading);
      }
    }
  } catch (error) {
    if (pageError === undefined) throw error;
  } finally {
    stream.abort();
    signal.removeEventListener('abort', stop);
    await Promise.all(paging);
  }
  if (pageError !== undefined) throw pageError;
}

/** Keeps a SUBSCRIBE stream open, resubscribing (and so reloading the state) whenever it ends. */
export async function follow(target: Cluster, signal: AbortSignal, onLogin: () => void): Promise<void> {
  while (!signal.aborted) {
    try {
      await followOnce(target, signal);
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
