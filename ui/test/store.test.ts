/**
 * The web UI's store (ui/src/store.ts): tasks paged in after SUBSCRIBED and the stream's events merged
 * over them — an event's word stands over a page read before it arrived, and an update to a task no
 * page has brought yet waits for that page.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { OperatorEvent, Task, TaskPage } from '../src/api.js';
import { Cluster } from '../src/store.js';

beforeAll(() => {
  // The store re-renders once a frame; there are no frames here.
  globalThis.requestAnimationFrame ??= (callback: FrameRequestCallback) => {
    setTimeout(() => callback(0), 0);
    return 0;
  };
});

const task = (id: string, state: string): Task => ({
  name: id,
  task_id: { value: id },
  framework_id: { value: 'fw' },
  state,
  resources: [],
  statuses: [{ state, timestamp: 1 }],
});

const page = (tasks: Task[], next?: string): TaskPage => ({
  tasks,
  completed_tasks: [],
  unreachable_tasks: [],
  pending_tasks: [],
  ...(next ? { next_cursor: next } : {}),
});

const updated = (id: string, state: string): OperatorEvent => ({
  type: 'TASK_UPDATED',
  task_updated: { framework_id: { value: 'fw' }, status: { task_id: { value: id }, state, timestamp: 2 }, state },
});

function subscribed(cluster: Cluster): void {
  cluster.apply({ type: 'SUBSCRIBED', subscribed: { get_state: { get_agents: { agents: [] } } } });
}

describe('the UI store pages tasks in beside the stream', () => {
  it('adds pages until one has no cursor, then stops saying it loads', () => {
    const cluster = new Cluster();
    subscribed(cluster);
    expect(cluster.loadingTasks).toBe(true);
    cluster.loadPage(page([task('a', 'TASK_RUNNING')], 'next'));
    expect(cluster.loadingTasks).toBe(true);
    cluster.loadPage(page([task('b', 'TASK_FINISHED')]));
    expect(cluster.loadingTasks).toBe(false);
    expect([...cluster.tasks.keys()]).toEqual(['a', 'b']);
  });

  it("keeps an event's word over a page that was read before it", () => {
    const cluster = new Cluster();
    subscribed(cluster);
    cluster.apply({ type: 'TASK_ADDED', task_added: { task: task('a', 'TASK_STAGING') } });
    cluster.apply(updated('a', 'TASK_RUNNING'));
    cluster.loadPage(page([task('a', 'TASK_STAGING')]));
    expect(cluster.tasks.get('a')?.state).toBe('TASK_RUNNING');
    expect(cluster.history.get('a')?.map((step) => step.state)).toEqual(['TASK_STAGING', 'TASK_RUNNING']);
  });

  it('holds an update to a task no page has brought yet, and applies it when its page comes', () => {
    const cluster = new Cluster();
    subscribed(cluster);
    cluster.apply(updated('b', 'TASK_FINISHED'));
    expect(cluster.tasks.has('b')).toBe(false);
    cluster.loadPage(page([task('b', 'TASK_RUNNING')]));
    expect(cluster.tasks.get('b')?.state).toBe('TASK_FINISHED');
  });

  it('starts afresh at the next SUBSCRIBED', () => {
    const cluster = new Cluster();
    subscribed(cluster);
    cluster.apply({ type: 'TASK_ADDED', task_added: { task: task('a', 'TASK_RUNNING') } });
    cluster.loadPage(page([]));
    subscribed(cluster);
    expect(cluster.tasks.size).toBe(0);
    cluster.loadPage(page([task('a', 'TASK_FINISHED')]));
    expect(cluster.tasks.get('a')?.state).toBe('TASK_FINISHED');
  });
});
