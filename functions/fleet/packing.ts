/**
 * How many agents the pending demand needs: a first-fit-decreasing estimate over resource shapes, pure.
 * Tasks of each shape go first onto the free resources of schedulable agents (busy agents before idle
 * ones, so that idle agents stay free for scale-in), then onto new agents of the fleet's shape; what no
 * new agent could hold is unplaceable (no point scaling out for it). Shapes are packed largest first
 * (relative to the fleet's shape), and agents of one state are grouped with a multiplicity, so that
 * 10,000 tasks of a few shapes cost a few steps, not 10,000.
 */
import type { Quantities } from '#shared/resources/resources.js';

/** One resource shape and how many tasks of it wait. */
export interface DemandShape {
  /** Scalars per task (cpus, mem, gpus, ...), each > 0. */
  readonly need: Quantities;
  readonly count: number;
  /** False when the GPU filter keeps these tasks off agents with GPUs. */
  readonly gpuAgents: boolean;
}

/** A schedulable agent's free resources. */
export interface FreeAgent {
  readonly free: Quantities;
  readonly hasGpus: boolean;
  readonly idle: boolean;
}

export interface Packing {
  /** Tasks the free resources of existing agents can hold. */
  readonly placed: number;
  /** Tasks that wait for new agents (which could hold them). */
  readonly waiting: number;
  /** The GPUs of those tasks. */
  readonly waitingGpus: number;
  /** New agents of the fleet's shape that the waiting tasks need. */
  readonly agentsNeeded: number;
  /** Tasks that no agent of the fleet's shape could hold, or that the GPU filter keeps off it. */
  readonly unplaceable: number;
  /** Idle agents that the packing left untouched. */
  readonly idleUnused: number;
}

interface Bin {
  free: Quantities;
  /** How many agents are in this state. */
  n: number;
  readonly hasGpus: boolean;
  idle: boolean;
}

/** Tasks of `need` that fit in `free` (names `need` asks for but `free` lacks count as 0). */
export function fitsIn(free: Quantities, need: Quantities): number {
  let fits = Number.POSITIVE_INFINITY;
  for (const [name, amount] of Object.entries(need)) {
    if (amount <= 0) continue;
    // Mesos counts scalars in thousandths: a little slack keeps 0.1 × 3 inside 0.3.
    fits = Math.min(fits, Math.floor((free[name] ?? 0) / amount + 1e-9));
  }
  return fits === Number.POSITIVE_INFINITY ? 0 : fits;
}

/** Mesos's fixed point: scalars in thousandths, so sums do not drift. */
function milli(value: number): number {
  return Math.round(value * 1000) / 1000;
}

function minus(free: Quantities, need: Quantities, times: number): Quantities {
  const left: Quantities = { ...free };
  for (const [name, amount] of Object.entries(need))
    left[name] = Math.max(0, milli((left[name] ?? 0) - amount * times));
  return left;
}

/**
 * Puts up to `remaining` tasks into the bins (first fit, in order), splitting a group of identical bins
 * into the ones filled, one partly filled and the untouched rest. Returns what is left.
 */
function fill(bins: Bin[], need: Quantities, remaining: number, eligible: (bin: Bin) => boolean): number {
  for (let i = 0; i < bins.length && remaining > 0; i++) {
    const bin = bins[i] as Bin;
    const each = eligible(bin) ? fitsIn(bin.free, need) : 0;
    if (each === 0) continue;
    const full = Math.min(bin.n, Math.floor(remaining / each));
    const rest = full < bin.n ? remaining - full * each : 0;
    const parts: Bin[] = [];
    if (full > 0) parts.push({ ...bin, free: minus(bin.free, need, each), n: full, idle: false });
    if (rest > 0) parts.push({ ...bin, free: minus(bin.free, need, rest), n: 1, idle: false });
    const untouched = bin.n - full - (rest > 0 ? 1 : 0);
    if (untouched > 0) parts.push({ ...bin, n: untouched });
    bins.splice(i, 1, ...parts);
    i += parts.length - 1;
    remaining -= full * each + rest;
  }
  return remaining;
}

/** Largest first, relative to the fleet's shape (the dominant share), then by total, then by text. */
function bySize(agentShape: Quantities): (a: DemandShape, b: DemandShape) => number {
  const share = (name: string, amount: number) => ((agentShape[name] ?? 0) > 0 ? amount / (agentShape[name] ?? 1) : 0);
  const size = (shape: DemandShape) =>
    Math.max(0, ...Object.entries(shape.need).map(([name, amount]) => share(name, amount)));
  const total = (shape: DemandShape) => Object.values(shape.need).reduce((sum, amount) => sum + amount, 0);
  return (a, b) =>
    size(b) - size(a) || total(b) - total(a) || JSON.stringify(a.need).localeCompare(JSON.stringify(b.need));
}

/**
 * Packs the demand onto the agents, then onto new agents of `agentShape` (the resources one new agent
 * offers). Names the fleet's shape does not list are not checked for new agents; a shape that names
 * only such resources is unplaceable (nothing says a new agent would have them).
 */
export function packDemand(
  shapes: readonly DemandShape[],
  agents: readonly FreeAgent[],
  agentShape: Quantities,
): Packing {
  const ordered = [...agents].sort((a, b) => Number(a.idle) - Number(b.idle));
  const existing: Bin[] = ordered.map((agent) => ({ ...agent, free: { ...agent.free }, n: 1 }));
  const fresh: Bin[] = [];
  const shapeHasGpus = (agentShape.gpus ?? 0) > 0;
  let placed = 0;
  let waiting = 0;
  let waitingGpus = 0;
  let unplaceable = 0;
  for (const shape of [...shapes].sort(bySize(agentShape))) {
    const eligible = (bin: Bin) => shape.gpuAgents || !bin.hasGpus;
    let remaining = fill(existing, shape.need, shape.count, eligible);
    placed += shape.count - remaining;
    if (remaining === 0) continue;
    const known = Object.fromEntries(Object.entries(shape.need).filter(([name]) => name in agentShape));
    const each = fitsIn(agentShape, known);
    if ((shapeHasGpus && !shape.gpuAgents) || each === 0) {
      unplaceable += remaining;
      continue;
    }
    waiting += remaining;
    waitingGpus = milli(waitingGpus + remaining * (shape.need.gpus ?? 0));
    remaining = fill(fresh, known, remaining, () => true);
    if (remaining === 0) continue;
    const opened: Bin[] = [
      { free: { ...agentShape }, n: Math.ceil(remaining / each), hasGpus: shapeHasGpus, idle: true },
    ];
    fill(opened, known, remaining, () => true);
    fresh.push(...opened);
  }
  return {
    placed,
    waiting,
    waitingGpus,
    agentsNeeded: fresh.reduce((sum, bin) => sum + bin.n, 0),
    unplaceable,
    idleUnused: existing.filter((bin) => bin.idle).reduce((sum, bin) => sum + bin.n, 0),
  };
}
