/**
 * Scalar quantities as small numeric vectors (Mesos `ResourceQuantities`, made dense): every resource
 * name gets an index, and a vector holds thousandths (Mesos's fixed-point precision) per index, so sums
 * and differences are exact integers and a warm allocator's running totals equal a fresh recount.
 * Ranges and sets count their elements (×1000, to share the scale), as Mesos's quantities do.
 */
import type { Resource } from '#shared/protocol/mesos.js';
import { toMillis } from '#shared/resources/values.js';

export type Quantities = Float64Array;

/** Resource names ↔ dense indices; grows as names appear and never forgets one. */
export class ResourceNames {
  private readonly index = new Map<string, number>();
  readonly names: string[] = [];

  id(name: string): number {
    let id = this.index.get(name);
    if (id === undefined) {
      id = this.names.length;
      this.index.set(name, id);
      this.names.push(name);
    }
    return id;
  }

  get size(): number {
    return this.names.length;
  }
}

/** The element count of a ranges or set resource, or the scalar, in thousandths. */
export function quantityOf(resource: Resource): number {
  switch (resource.type) {
    case 'SCALAR':
      return toMillis(resource.scalar?.value ?? 0);
    case 'RANGES':
      return 1000 * (resource.ranges?.range ?? []).reduce((sum, range) => sum + (range.end - range.begin + 1), 0);
    case 'SET':
      return 1000 * (resource.set?.item?.length ?? 0);
    default:
      return 0;
  }
}

/** target += source (source may be shorter: missing entries are zero). */
export function addTo(target: Quantities, source: Quantities, sign = 1): void {
  const n = Math.min(target.length, source.length);
  for (let i = 0; i < n; i++) target[i] = (target[i] as number) + sign * (source[i] as number);
}

export function isZero(vector: Quantities): boolean {
  for (let i = 0; i < vector.length; i++) if (vector[i] !== 0) return false;
  return true;
}
