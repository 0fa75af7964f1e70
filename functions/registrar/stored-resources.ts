/**
 * How the agents table stores resources (an agent's total, its offers', tasks' and executors' shares): as Mesos's
 * text form, `*|cpus:8;mem:30000;ports:[31000-31009]` (the allocation role, if any, before `|`), when that gives
 * back exactly the same resources, else as their JSON. The text is about a tenth of the JSON, and DynamoDB bills
 * every write of the agent's item by its whole size (docs/cost.md). Pure; items written as JSON read as before.
 */
import type { Resource } from '#shared/protocol/mesos.js';
import type { Expression } from './expression.js';

function valueText(resource: Resource): string | undefined {
  switch (resource.type) {
    case 'SCALAR':
      return resource.scalar ? String(resource.scalar.value) : undefined;
    case 'RANGES':
      return resource.ranges
        ? `[${(resource.ranges.range ?? []).map((range) => `${range.begin}-${range.end}`).join(',')}]`
        : undefined;
    case 'SET':
      return resource.set ? `{${(resource.set.item ?? []).join(',')}}` : undefined;
    default:
      return undefined;
  }
}

function fromText(text: string): Resource[] {
  const bar = text.indexOf('|');
  const role = bar < 0 ? undefined : text.slice(0, bar);
  return text
    .slice(bar + 1)
    .split(';')
    .map((entry) => {
      const colon = entry.indexOf(':');
      const name = entry.slice(0, colon);
      const value = entry.slice(colon + 1);
      const allocation = role === undefined ? {} : { allocation_info: { role } };
      if (value.startsWith('[')) {
        const range = value
          .slice(1, -1)
          .split(',')
          .map((pair) => {
            const [begin, end] = pair.split('-').map(Number);
            return { begin: begin as number, end: end as number };
          });
        return { name, type: 'RANGES', ranges: { range }, ...allocation };
      }
      if (value.startsWith('{'))
        return { name, type: 'SET', set: { item: value.slice(1, -1).split(',') }, ...allocation };
      return { name, type: 'SCALAR', scalar: { value: Number(value) }, ...allocation };
    });
}

function toText(resources: readonly Resource[]): string | undefined {
  if (resources.length === 0) return undefined;
  const roles = new Set(resources.map((resource) => resource.allocation_info?.role));
  const [role] = roles;
  if (roles.size !== 1 || (role === undefined && resources.some((resource) => resource.allocation_info))) {
    return undefined;
  }
  const entries: string[] = [];
  for (const resource of resources) {
    const value = valueText(resource);
    if (value === undefined) return undefined;
    entries.push(`${resource.name}:${value}`);
  }
  return `${role === undefined ? '' : `${role}|`}${entries.join(';')}`;
}

/** The stored form: the text when it reads back as exactly these resources (same fields, same order), else JSON. */
export function storedResources(resources: readonly Resource[]): string {
  const json = JSON.stringify(resources);
  const text = toText(resources);
  return text !== undefined && !text.startsWith('[') && JSON.stringify(fromText(text)) === json ? text : json;
}

export function resourcesFromStored(stored: string): Resource[] {
  return stored.startsWith('[') ? (JSON.parse(stored) as Resource[]) : fromText(stored);
}

/** A condition that `path` holds these resources, in the stored form or as the JSON of items written before it. */
export function holdsResources(x: Expression, path: string, resources: readonly Resource[]): string {
  const json = JSON.stringify(resources);
  const stored = storedResources(resources);
  return stored === json ? `${path} = ${x.value(json)}` : `${path} IN (${x.value(stored)}, ${x.value(json)})`;
}
