/** Mesos resource lists summed by name, and how the pages print quantities. */
import type { Resource } from './api.js';

export type Totals = Record<string, number>;

export function scalars(resources: readonly Resource[] | undefined): Totals {
  const totals: Totals = {};
  for (const resource of resources ?? []) {
    if (resource.scalar) totals[resource.name] = (totals[resource.name] ?? 0) + resource.scalar.value;
  }
  return totals;
}

export function add(into: Totals, more: Totals): Totals {
  for (const [name, value] of Object.entries(more)) into[name] = (into[name] ?? 0) + value;
  return into;
}

/** The role a resource is allocated to (multi-role frameworks), else its reservation's, else `*`. */
export function roleOf(resource: Resource): string {
  return resource.allocation_info?.role ?? resource.reservations?.at(-1)?.role ?? '*';
}

export function byRole(resources: readonly Resource[] | undefined): Map<string, Totals> {
  const roles = new Map<string, Totals>();
  for (const resource of resources ?? []) {
    if (!resource.scalar) continue;
    const role = roleOf(resource);
    const totals = roles.get(role) ?? {};
    totals[resource.name] = (totals[resource.name] ?? 0) + resource.scalar.value;
    roles.set(role, totals);
  }
  return roles;
}

export function quantity(name: string, value: number | undefined): string {
  const v = value ?? 0;
  if (name === 'mem' || name === 'disk') return v >= 1024 ? `${(v / 1024).toFixed(1)} GB` : `${Math.round(v)} MB`;
  return Number.isInteger(v) ? String(v) : v.toFixed(2);
}

/** "cpus 0.1 · mem 32 MB" for the common names. */
export function summary(totals: Totals): string {
  return ['cpus', 'mem', 'gpus', 'disk']
    .filter((name) => totals[name] !== undefined)
    .map((name) => `${name} ${quantity(name, totals[name])}`)
    .join(' · ');
}

/** The GPUs an agent offers, by index and model, from its `gpus` set or attributes (when it names them). */
export function gpuList(resources: readonly Resource[] | undefined): string[] {
  return (resources ?? []).filter((r) => r.name === 'gpus' && r.set).flatMap((r) => r.set?.item ?? []);
}
