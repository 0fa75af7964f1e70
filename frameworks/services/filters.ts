/**
 * The query filters of Marathon's list routes (pure): `GET /v2/apps?id=&cmd=&label=` and
 * `GET /v2/tasks?status=`.
 *
 * - `id` and `cmd` keep the apps whose id or command contains the text, case-insensitively, as Marathon's do.
 * - `label` is Marathon's label selector: selectors separated by commas, all of which must hold: `key` (the label
 *   exists), `key==value`, `key!=value`, `key in (a, b)`, `key notin (a, b)`; every form needs the label to exist,
 *   as in Marathon. A comma or parenthesis inside a key or value is escaped with a backslash.
 * - `status` (once or more) keeps the tasks in one of the states, named as Marathon names them: `staging`,
 *   `starting`, `running`, `killing`, … (the Mesos state without `TASK_`, lower case).
 */
import type { App } from './model.js';

export interface LabelSelector {
  readonly key: string;
  readonly matches: (value: string) => boolean;
}

/** Splits at the commas outside parentheses that no backslash escapes. */
function splitTop(text: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let current = '';
  for (let index = 0; index < text.length; index += 1) {
    const char = text[index] as string;
    if (char === '\\' && index + 1 < text.length) {
      current += char + (text[index + 1] as string);
      index += 1;
      continue;
    }
    if (char === '(') depth += 1;
    if (char === ')') depth -= 1;
    if (char === ',' && depth === 0) {
      parts.push(current);
      current = '';
    } else current += char;
  }
  parts.push(current);
  return parts;
}

const unescape = (text: string): string => text.trim().replace(/\\(.)/g, '$1');

function parseSelector(text: string): LabelSelector | undefined {
  const set = /^\s*((?:\\.|[^\s\\])+)\s+(in|notin)\s*\((.*)\)\s*$/.exec(text);
  if (set) {
    const values = splitTop(set[3] as string).map(unescape);
    const inSet = set[2] === 'in';
    return { key: unescape(set[1] as string), matches: (value) => values.includes(value) === inSet };
  }
  const equals = /^\s*((?:\\.|[^=!\\])+?)\s*(==|!=)\s*((?:\\.|[^\\])*)$/.exec(text);
  if (equals) {
    const wanted = unescape(equals[3] as string);
    const same = equals[2] === '==';
    return { key: unescape(equals[1] as string), matches: (value) => (value === wanted) === same };
  }
  const exists = /^\s*((?:\\.|[^\s=!(),\\])+)\s*$/.exec(text);
  return exists ? { key: unescape(exists[1] as string), matches: () => true } : undefined;
}

/** A label query's selectors, or undefined when it is not one (Marathon answers 422). */
export function parseLabelQuery(query: string): LabelSelector[] | undefined {
  const selectors = splitTop(query).map(parseSelector);
  return selectors.every((selector) => selector !== undefined) ? (selectors as LabelSelector[]) : undefined;
}

export interface AppFilter {
  readonly id?: string | undefined;
  readonly cmd?: string | undefined;
  readonly labels?: readonly LabelSelector[] | undefined;
}

const contains = (text: string | undefined, part: string): boolean =>
  text !== undefined && text.toLowerCase().includes(part.toLowerCase());

export function appMatches(app: Pick<App, 'id' | 'cmd' | 'labels'>, filter: AppFilter): boolean {
  if (filter.id !== undefined && !contains(app.id, filter.id)) return false;
  if (filter.cmd !== undefined && !contains(app.cmd, filter.cmd)) return false;
  return (filter.labels ?? []).every(
    ({ key, matches }) => Object.hasOwn(app.labels, key) && matches(app.labels[key] as string),
  );
}

/** Whether a task's Mesos state is one of Marathon's `status` names (none given: every task). */
export function taskStatusMatches(state: string, statuses: readonly string[] | undefined): boolean {
  if (statuses === undefined || statuses.length === 0) return true;
  const name = state.replace(/^TASK_/, '').toLowerCase();
  return statuses.some((status) => status.toLowerCase() === name);
}
