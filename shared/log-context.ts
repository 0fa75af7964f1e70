/**
 * The ids a log line is about (docs/operator.md, "Logs"): the correlation id of the API call that started the
 * work, and the framework, task and agent it concerns. They live in an AsyncLocalStorage scope, so every log
 * line written while a request or a queue message is handled carries them (shared/log.ts adds them), without
 * a logger passed down every call; the queues put them on every message sent from inside a scope
 * (shared/queues/attributes.ts), so the next hop's scope starts with them.
 */
import { AsyncLocalStorage } from 'node:async_hooks';

export interface LogContext {
  readonly correlation_id?: string;
  readonly framework_id?: string;
  readonly task_id?: string;
  readonly agent_id?: string;
}

export const LOG_CONTEXT_KEYS = ['correlation_id', 'framework_id', 'task_id', 'agent_id'] as const;

const scopes = new AsyncLocalStorage<Record<string, string>>();

function defined(ids: LogContext): Record<string, string> {
  const result: Record<string, string> = {};
  for (const key of LOG_CONTEXT_KEYS) {
    const value = ids[key];
    if (value) result[key] = value;
  }
  return result;
}

/** The ids of the scope this code runs in (none outside one). */
export function logContext(): LogContext {
  return { ...scopes.getStore() };
}

/** Runs `work` in a scope with these ids added to the current scope's. */
export function withLogContext<T>(ids: LogContext, work: () => T): T {
  return scopes.run({ ...scopes.getStore(), ...defined(ids) }, work);
}

/** Runs `work` in a scope with exactly these ids (handling one message: nothing of the handler's scope leaks in). */
export function inLogContext<T>(ids: LogContext, work: () => T): T {
  return scopes.run(defined(ids), work);
}

/** Adds ids to the current scope, once they are known (a request's framework, after authentication). */
export function addToLogContext(ids: LogContext): void {
  const scope = scopes.getStore();
  if (scope) Object.assign(scope, defined(ids));
}
