/**
 * The agent ledger's arithmetic, pure: what an agent has offered and allocated, what is free, and the
 * invariant every write must keep — offered + allocated never exceed the agent's total.
 */
import type { Resource } from '#shared/protocol/mesos.js';
import { add, contains, subtract, unallocate } from '#shared/resources/resources.js';

export interface OfferRecord {
  readonly offerId: string;
  readonly agentId: string;
  readonly frameworkId: string;
  readonly role: string;
  /** Allocated to `role` (each resource carries allocation_info). */
  readonly resources: Resource[];
  readonly createdAt: number;
  readonly expiresAt?: number;
}

export interface AllocatedTask {
  readonly frameworkId: string;
  readonly taskId: string;
  readonly role: string;
  readonly resources: Resource[];
  /** The ACCEPT that placed the task (see AgentRegistry.acceptOffers). */
  readonly launchId: string;
  readonly launchedAt: number;
  /** The executor the task runs under (custom or DEFAULT), whose charge is an entry of its own. */
  readonly executorId?: string;
}

/**
 * An executor's resources, held once per executor and agent as Mesos holds them (`Slave::addExecutor`):
 * charged with the first task that names it, given back when it ends (see docs/executors.md).
 */
export interface AllocatedExecutor {
  readonly frameworkId: string;
  readonly executorId: string;
  /** CUSTOM executors end by the agent's EXECUTOR_EXITED; a DEFAULT one when its last task is released. */
  readonly kind: 'CUSTOM' | 'DEFAULT';
  readonly role: string;
  readonly resources: Resource[];
  /** A digest of its ExecutorInfo: a later task naming the executor must describe the same one. */
  readonly infoHash: string;
  readonly launchId: string;
  readonly launchedAt: number;
}

export interface Ledger {
  readonly total: readonly Resource[];
  readonly offers: Readonly<Record<string, OfferRecord>>;
  readonly tasks: Readonly<Record<string, AllocatedTask>>;
  readonly executors: Readonly<Record<string, AllocatedExecutor>>;
}

/** Every holder of allocated resources: the tasks, and the executors they run under. */
export function allocations(ledger: Pick<Ledger, 'tasks' | 'executors'>): Array<AllocatedTask | AllocatedExecutor> {
  return [...Object.values(ledger.tasks), ...Object.values(ledger.executors)];
}

/** What tasks and executors hold, one part each (for takeInTurn). */
export function allocatedParts(ledger: Pick<Ledger, 'tasks' | 'executors'>): Resource[][] {
  return allocations(ledger).map((holder) => holder.resources);
}

export function offeredResources(ledger: Ledger): Resource[] {
  return add(
    [],
    Object.values(ledger.offers).flatMap((offer) => offer.resources),
  );
}

export function allocatedResources(ledger: Pick<Ledger, 'tasks' | 'executors'>): Resource[] {
  return add([], allocatedParts(ledger).flat());
}

/** What neither an outstanding offer nor a task or executor holds (reservations kept, allocation dropped). */
export function freeResources(ledger: Ledger): Resource[] {
  return subtract(ledger.total, unallocate([...offeredResources(ledger), ...allocatedResources(ledger)]));
}

/**
 * Takes each part out of `available` in turn (allocation roles ignored). Returns what is left, or the
 * index of the first part that does not fit. Parts are taken one by one so that a port claimed twice
 * counts twice: a union of ranges would hide the double booking.
 */
export function takeInTurn(
  available: readonly Resource[],
  parts: ReadonlyArray<readonly Resource[]>,
): { fits: true; remaining: Resource[] } | { fits: false; index: number } {
  let remaining = unallocate(available);
  for (const [index, part] of parts.entries()) {
    const held = unallocate(part);
    if (!contains(remaining, held)) return { fits: false, index };
    remaining = subtract(remaining, held);
  }
  return { fits: true, remaining };
}

/** Why the ledger is inconsistent, or undefined when offered + allocated fit in the total. */
export function ledgerViolation(ledger: Ledger): string | undefined {
  const holders = [
    ...Object.keys(ledger.offers).map((id) => `offer ${id}`),
    ...Object.keys(ledger.tasks).map((key) => `task ${key}`),
    ...Object.keys(ledger.executors).map((key) => `executor ${key}`),
  ];
  const parts = [...Object.values(ledger.offers).map((offer) => offer.resources), ...allocatedParts(ledger)];
  const result = takeInTurn(ledger.total, parts);
  return result.fits ? undefined : `${holders[result.index]} holds resources beyond what the agent has left`;
}
