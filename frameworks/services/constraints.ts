/**
 * Marathon's placement constraints (pure): `[field, operator, value?]`, the field `hostname` or an agent
 * attribute (text, scalar, set and ranges rendered as Mesos prints them).
 *
 * - UNIQUE: no two of the app's tasks share the field's value.
 * - CLUSTER value: every task where the field is `value` (without a value: where the first task went).
 * - GROUP_BY [n]: spread evenly over the field's values: a task goes to a value with the fewest tasks (with
 *   `n`, values not seen yet count as empty until n are known).
 * - LIKE / UNLIKE regex: the whole value matches / does not match.
 * - MAX_PER n: at most n tasks per value.
 * - IS value: the value is exactly `value`.
 *
 * An agent without the attribute meets only UNLIKE.
 */
import type { Attribute } from '#shared/protocol/mesos.js';

/** Where a task is, or could go: its hostname and its agent's attributes. */
export interface Place {
  readonly hostname: string;
  readonly attributes: Readonly<Record<string, string>>;
}

/** Mesos attributes as `name → value` text. */
export function attributeValues(attributes: readonly Attribute[] | undefined): Record<string, string> {
  const values: Record<string, string> = {};
  for (const attribute of attributes ?? []) {
    if (attribute.text) values[attribute.name] = attribute.text.value;
    else if (attribute.scalar) values[attribute.name] = String(attribute.scalar.value);
    else if (attribute.set) values[attribute.name] = `{${(attribute.set.item ?? []).join(',')}}`;
    else if (attribute.ranges) {
      values[attribute.name] = `[${(attribute.ranges.range ?? []).map((r) => `${r.begin}-${r.end}`).join(',')}]`;
    }
  }
  return values;
}

function valueOf(place: Place, field: string): string | undefined {
  return field === 'hostname' ? place.hostname : place.attributes[field];
}

function fullMatch(pattern: string, value: string): boolean {
  try {
    return new RegExp(`^(?:${pattern})$`).test(value);
  } catch {
    return false;
  }
}

function counts(placed: readonly Place[], field: string): Map<string, number> {
  const byValue = new Map<string, number>();
  for (const place of placed) {
    const value = valueOf(place, field);
    if (value !== undefined) byValue.set(value, (byValue.get(value) ?? 0) + 1);
  }
  return byValue;
}

function groupBy(value: string, placed: readonly Place[], field: string, groups: number | undefined): boolean {
  const byValue = counts(placed, field);
  const mine = byValue.get(value) ?? 0;
  if (groups !== undefined && byValue.size < groups) return mine === 0 || mine < Math.min(...byValue.values()) + 1;
  const least = Math.min(mine, ...byValue.values());
  return mine === least;
}

/** Whether one constraint lets a task go to `place`, given where the app's tasks are (`placed`). */
export function meets(constraint: readonly string[], place: Place, placed: readonly Place[]): boolean {
  const [field = '', operator, parameter] = constraint;
  const value = valueOf(place, field);
  if (operator === 'UNLIKE') return value === undefined || parameter === undefined || !fullMatch(parameter, value);
  if (value === undefined) return false;
  switch (operator) {
    case 'UNIQUE':
      return !placed.some((other) => valueOf(other, field) === value);
    case 'CLUSTER': {
      const target = parameter ?? (placed[0] ? valueOf(placed[0], field) : undefined);
      return target === undefined || target === value;
    }
    case 'IS':
      return value === parameter;
    case 'LIKE':
      return parameter !== undefined && fullMatch(parameter, value);
    case 'MAX_PER':
      return (counts(placed, field).get(value) ?? 0) < Number(parameter ?? 1);
    case 'GROUP_BY':
      return groupBy(value, placed, field, parameter === undefined ? undefined : Number(parameter));
    default:
      return false;
  }
}

/** Whether every constraint of the app lets a task go to `place`. */
export function meetsAll(
  app: { readonly constraints: readonly (readonly string[])[] },
  place: Place,
  placed: readonly Place[],
): boolean {
  return app.constraints.every((constraint) => meets(constraint, place, placed));
}

/** Checks a constraint's parameter (Marathon's 422 for a bad one): the message, or undefined. */
export function constraintError(constraint: readonly string[]): string | undefined {
  const [, operator, parameter] = constraint;
  if (
    (operator === 'MAX_PER' || (operator === 'GROUP_BY' && parameter !== undefined)) &&
    !/^\d+$/.test(parameter ?? '')
  ) {
    return `${operator} needs a whole number`;
  }
  if ((operator === 'LIKE' || operator === 'UNLIKE' || operator === 'IS') && parameter === undefined) {
    return `${operator} needs a value`;
  }
  if ((operator === 'LIKE' || operator === 'UNLIKE') && parameter !== undefined) {
    try {
      new RegExp(parameter);
    } catch {
      return `'${parameter}' is not a valid regular expression`;
    }
  }
  return undefined;
}
