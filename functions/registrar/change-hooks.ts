/**
 * Which store writes feed the change feed (change-feed.ts), and as what. Every writer of tasks, agents
 * and frameworks goes through these store methods, so whoever changes the state — a scheduler call,
 * the status pipeline, the sweeper, an operator call — is covered without knowing of the feed.
 *
 * The events follow Mesos's master: a task added or changing state, an agent registering (or coming
 * back from unreachable) and leaving (unreachable, gone), a framework subscribing, resubscribing,
 * updating, disconnecting or being deactivated, and removed.
 */
import type { AgentRegistry } from './agents.js';
import type { ChangeFeed, RegistrarChange } from './change-feed.js';
import type { FrameworkRecord, FrameworkRegistry } from './frameworks.js';
import type { TaskRegistry } from './tasks.js';
import type { TaskInfo } from '#shared/protocol/mesos.js';

type AsyncMethod = (...args: never[]) => Promise<unknown>;
type Result<T> = { readonly ok: true; readonly value: T } | { readonly ok: false };

/** Replaces `store[key]` with the same method followed by publishing what `describe` makes of its outcome. */
function observe<S extends Record<K, AsyncMethod>, K extends keyof S>(
  store: S,
  key: K,
  feed: ChangeFeed,
  describe: (result: Awaited<ReturnType<S[K]>>, ...args: Parameters<S[K]>) => RegistrarChange[],
): void {
  const original = store[key].bind(store) as unknown as (
    ...args: Parameters<S[K]>
  ) => Promise<Awaited<ReturnType<S[K]>>>;
  const observed = async (...args: Parameters<S[K]>): Promise<Awaited<ReturnType<S[K]>>> => {
    const result = await original(...args);
    await feed.publish(describe(result, ...args));
    return result;
  };
  store[key] = observed as unknown as S[K];
}

function ifOk<T>(result: Result<T>, change: (value: T) => RegistrarChange | undefined): RegistrarChange[] {
  if (!result.ok) return [];
  const made = change(result.value);
  return made ? [made] : [];
}

function keptInfo(info: unknown): Partial<TaskInfo> | undefined {
  if (typeof info !== 'object' || info === null) return undefined;
  const { data: _data, ...kept } = info as Record<string, unknown>;
  return kept as Partial<TaskInfo>;
}

export function feedChanges(
  stores: { tasks: TaskRegistry; agents: AgentRegistry; frameworks: FrameworkRegistry },
  feed: ChangeFeed,
): void {
  const { tasks, agents, frameworks } = stores;
  observe(tasks, 'add', feed, (result, task) =>
    ifOk(result, (added) => {
      const info = keptInfo(task.info);
      return { kind: 'TASK_ADDED', task: added, ...(info ? { info } : {}) };
    }),
  );
  observe(tasks, 'updateStatus', feed, (result) =>
    ifOk(result, (update) => (update.outcome === 'applied' ? { kind: 'TASK_UPDATED', task: update.task } : undefined)),
  );
  observe(agents, 'admit', feed, (result) => ifOk(result, (agent) => ({ kind: 'AGENT_ADDED', agent })));
  observe(agents, 'readmit', feed, (result) =>
    ifOk(result, (back) => (back.wasUnreachable ? { kind: 'AGENT_ADDED', agent: back.agent } : undefined)),
  );
  observe(agents, 'markUnreachable', feed, (result, agentId) =>
    ifOk(result, () => ({ kind: 'AGENT_REMOVED', agentId })),
  );
  observe(agents, 'markGone', feed, (result, agentId) => ifOk(result, () => ({ kind: 'AGENT_REMOVED', agentId })));
  observe(frameworks, 'subscribe', feed, (result) =>
    ifOk(result, (subscribed) => ({
      kind: subscribed.created ? 'FRAMEWORK_ADDED' : 'FRAMEWORK_UPDATED',
      framework: subscribed.framework,
    })),
  );
  observe(frameworks, 'update', feed, (result) =>
    ifOk(result, (updated) => ({ kind: 'FRAMEWORK_UPDATED', framework: updated.framework })),
  );
  const updated = (result: Result<FrameworkRecord>): RegistrarChange[] =>
    ifOk(result, (framework) => ({ kind: 'FRAMEWORK_UPDATED', framework }));
  observe(frameworks, 'disconnect', feed, updated);
  observe(frameworks, 'deactivate', feed, updated);
  observe(frameworks, 'remove', feed, (result) =>
    ifOk(result, (framework) => ({ kind: 'FRAMEWORK_REMOVED', framework })),
  );
}
