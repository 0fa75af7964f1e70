/**
 * Cursors of the paged task read (TaskRegistry.page): the last task read (its framework and task id, from
 * which its sharded key follows), as an opaque base64url string. A cursor is checked before it reaches DynamoDB: one that does not decode to a task
 * key (or names another framework than the read's) is the caller's error, never a failed request.
 */
import { failure, type RegistrarError } from './errors.js';

/** The most tasks one page answers (DynamoDB also stops a page at 1 MB). */
export const MAX_TASK_PAGE = 1000;

export interface TaskKey {
  readonly framework_id: string;
  readonly task_id: string;
}

export function encodeCursor(key: Record<string, unknown>): string {
  return Buffer.from(JSON.stringify({ f: key.framework_id, t: key.task_id })).toString('base64url');
}

const MAX_CURSOR_CHARS = 4096;

function badCursor(): { ok: false; error: RegistrarError<'INVALID_ARGUMENT'> } {
  return failure('INVALID_ARGUMENT', 'Invalid cursor: pass the next_cursor of an earlier page unchanged');
}

/** The key a cursor stands for; `frameworkId` when the read is one framework's. */
export function decodeCursor(
  cursor: string,
  frameworkId?: string,
): { ok: true; value: TaskKey } | { ok: false; error: RegistrarError<'INVALID_ARGUMENT'> } {
  if (cursor.length > MAX_CURSOR_CHARS || !/^[A-Za-z0-9_-]+$/.test(cursor)) return badCursor();
  let decoded: unknown;
  try {
    decoded = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    return badCursor();
  }
  const { f, t } = (decoded ?? {}) as { f?: unknown; t?: unknown };
  const valid = (value: unknown): value is string =>
    typeof value === 'string' && value.length > 0 && Buffer.byteLength(value) <= 1024;
  if (!valid(f) || !valid(t)) return badCursor();
  if (frameworkId !== undefined && f !== frameworkId) {
    return failure('INVALID_ARGUMENT', 'Invalid cursor: it continues a read of another framework');
  }
  return { ok: true, value: { framework_id: f, task_id: t } };
}
