/** Mesos resource lists summed by name, and how the pages print quantities. */
import type { AgentGpu, Resource } from './api.js';

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

/** "0–3, 6" for 0, 1, 2, 3, 6. */
function indexRanges(indices: readonly number[]): string {
  const sorted = [...new Set(indices)].sort((a, b) => a - b);
  const ranges: string[] = [];
  for (let i = 0; i < sorted.length;) {
    let j = i;
    while (j + 1 < sorted.length && (sorted[j + 1] as number) === (sorted[j] as number) + 1) j += 1;
    ranges.push(i === j ? String(sorted[i]) : `${sorted[i]}–${sorted[j]}`);
    i = j + 1;
  }
  return ranges.join(', ');
}

/**
 * An agent's GPUs by model, one line a kind (so a row keeps its height): "4 × NVIDIA A10G 22.5 GB (0–3)";
 * MIG devices by profile, with the indices of their GPUs: "3 × NVIDIA A100-SXM4-40GB MIG 3g.20gb 19.5 GB (0, 5)".
 */
export function gpuList(gpus: readonly AgentGpu[] | undefined): string[] {
  const kinds = new Map<string, number[]>();
  for (const gpu of [...(gpus ?? [])].sort((a, b) => a.index - b.index)) {
    const mig = gpu.mig_profile ? ` MIG ${gpu.mig_profile}` : '';
    const kind = `${gpu.model || 'GPU'}${mig} ${quantity('mem', gpu.memory_mib)}`;
    kinds.set(kind, [...(kinds.get(kind) ?? []), gpu.index]);
  }
  return [...kinds].map(([kind, indices]) => `${indices.length} × ${kind} (${indexRanges(indices)})`);
}
