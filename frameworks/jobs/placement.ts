/**
 * Which pending jobs the offers in hand can launch, and why each of the others waits (pure).
 *
 * - Queues are Mesos roles: a job uses only offers made to its queue's role, so queues never compete for
 *   an offer here (the allocator shares the cluster between them, by DRF, weights and quota).
 * - Within a queue, strict priority (higher first), FIFO within a priority (`created_at`, then id), and NO
 *   backfill: once a job cannot be placed, no job behind it in its queue is placed in this round, even
 *   one that would fit. A large job at the head (a gang, a GPU job) is never starved by a stream of small
 *   ones — the trade Slurm's strict priority makes without its backfill scheduler, and AWS Batch's FIFO
 *   queues make too; the cost is capacity left idle while the head waits (it is offered on, not held).
 * - A gang of N is placed all-or-nothing: N slots (each the job's resources) on any agents together —
 *   several may share an agent — or none, with the reason "gang of N: only M slots free".
 * - Offers are first fit, in the order given, except that a job without GPUs tries the offers without
 *   GPUs first, so CPU work does not take the GPU agents' CPUs while others are free.
 * - A queue's quota limit (the resources its running jobs hold, plus what this round places) is never
 *   exceeded: a job that would exceed it waits with "the queue's quota".
 * - Resources are subtracted from the offers as jobs are placed (the shared resource arithmetic), so an
 *   offer is never over-committed; a launch's resources are taken from its offer (its allocation and
 *   reservations kept), as Mesos expects a task's resources to be.
 */
import { groupBy } from '#shared/collections.js';
import type { Resource } from '#shared/protocol/mesos.js';
import { flatten, quantities, subtract, takeScalars, type Quantities } from '#shared/resources/resources.js';
import { addScalars, subtractScalars } from '#shared/resources/values.js';
import { queueRole } from './model.js';

export interface PendingJob {
  readonly id: string;
  readonly queue: string;
  readonly priority: number;
  /** ISO 8601; FIFO order within a priority. */
  readonly created_at: string;
  /** One task's resources: unreserved scalars (a job spec's). */
  readonly resources: readonly Resource[];
  /** Tasks launched together (null: one task). */
  readonly gang: number | null;
}

export interface Offer {
  readonly id: string;
  readonly agentId: string;
  readonly hostname: string;
  /** The role it was offered to (its resources' allocation_info.role). */
  readonly role: string;
  readonly resources: readonly Resource[];
}

export interface QueueQuota {
  /** Per resource name; a name not listed is not limited. */
  readonly limits: Quantities;
  /** What the queue's running tasks hold now. */
  readonly used: Quantities;
}

export interface Launch {
  readonly jobId: string;
  /** The gang member's index; null for a job that is not a gang. */
  readonly gangIndex: number | null;
  readonly offerId: string;
  readonly agentId: string;
  readonly hostname: string;
  /** Taken from the offer: what the task's TaskInfo carries. */
  readonly resources: Resource[];
}

/**
 * NO_OFFERS: nothing was offered to the queue's role in this round — the allocator's reason (quota,
 * filters, GPU agents, fair share) says more, and a reason from an earlier round may still hold.
 */
export type PendingCode = 'PRIORITY' | 'QUOTA' | 'RESOURCES' | 'GANG' | 'NO_OFFERS';

export interface PendingReason {
  readonly code: PendingCode;
  readonly message: string;
}

export interface Placement {
  readonly launches: Launch[];
  /** Why each job not placed waits. */
  readonly pending: Map<string, PendingReason>;
  /** What is left of each offer (offer id → resources): to decline, or to keep for a later round. */
  readonly remaining: Map<string, Resource[]>;
}

export interface PlacementInput {
  readonly jobs: readonly PendingJob[];
  readonly offers: readonly Offer[];
  /** Queues with a quota limit; others are limited only by what is offered. */
  readonly quotas?: ReadonlyMap<string, QueueQuota>;
}

/** Higher priority first, then FIFO, then id: the order a queue is served in. */
export function queueOrder(left: PendingJob, right: PendingJob): number {
  if (left.priority !== right.priority) return right.priority - left.priority;
  if (left.created_at !== right.created_at) return left.created_at < right.created_at ? -1 : 1;
  return left.id < right.id ? -1 : left.id > right.id ? 1 : 0;
}

/** Mesos text of what one task asks for: `cpus:4;mem:8192;gpus:1`. */
export function describeDemand(need: Quantities): string {
  return Object.entries(need)
    .map(([name, value]) => `${name}:${value}`)
    .join(';');
}

function fits(available: Quantities, need: Quantities): boolean {
  return Object.entries(need).every(([name, value]) => subtractScalars(available[name] ?? 0, value) >= 0);
}

function minus(available: Quantities, need: Quantities): Quantities {
  const left = { ...available };
  for (const [name, value] of Object.entries(need)) left[name] = subtractScalars(left[name] ?? 0, value);
  return left;
}

/** `need` × count, per name. */
function times(need: Quantities, count: number): Quantities {
  return Object.fromEntries(Object.entries(need).map(([name, value]) => [name, value * count]));
}

/** The first resource name whose quota limit `more` would pass, or undefined. */
function quotaExceeded(quota: QueueQuota | undefined, placed: Quantities, more: Quantities): string | undefined {
  if (quota === undefined) return undefined;
  for (const [name, value] of Object.entries(more)) {
    const limit = quota.limits[name];
    if (limit === undefined) continue;
    const total = addScalars(addScalars(quota.used[name] ?? 0, placed[name] ?? 0), value);
    if (subtractScalars(limit, total) < 0) return `${name} limit ${limit} (${quota.used[name] ?? 0} in use)`;
  }
  return undefined;
}

interface OfferState {
  readonly offer: Offer;
  readonly gpus: boolean;
  resources: Resource[];
  available: Quantities;
}

/** Where up to `count` tasks of `need` go, first fit over the offers; fewer when fewer fit. */
function findSlots(offers: readonly OfferState[], need: Quantities, count: number): OfferState[] {
  const slots: OfferState[] = [];
  const usesGpus = (need.gpus ?? 0) > 0;
  const ordered = usesGpus ? offers : [...offers.filter((each) => !each.gpus), ...offers.filter((each) => each.gpus)];
  for (const state of ordered) {
    let available = state.available;
    while (slots.length < count && fits(available, need)) {
      slots.push(state);
      available = minus(available, need);
    }
    if (slots.length === count) break;
  }
  return slots;
}

function launchOn(state: OfferState, job: PendingJob, need: Quantities, gangIndex: number | null): Launch {
  const resources = takeScalars(state.resources, need);
  state.resources = subtract(state.resources, resources);
  state.available = quantities(flatten(state.resources));
  const { offer } = state;
  return { jobId: job.id, gangIndex, offerId: offer.id, agentId: offer.agentId, hostname: offer.hostname, resources };
}

/** Every place in a queue begins so: it is one reason whatever the counts (written once, counted when read). */
const BEHIND = 'behind ';

/** Whether a written reason is a place in the queue ("behind N jobs …"). */
export function isQueuePlace(reason: string | null): boolean {
  return reason?.startsWith(BEHIND) ?? false;
}

/** "behind N jobs of higher priority and M jobs submitted earlier in queue q"; first in its queue when none. */
export function behind(queue: string, higher: number, earlier: number): PendingReason {
  const parts = [
    ...(higher > 0 ? [`${higher} ${higher === 1 ? 'job' : 'jobs'} of higher priority`] : []),
    ...(earlier > 0 ? [`${earlier} ${earlier === 1 ? 'job' : 'jobs'} submitted earlier`] : []),
  ];
  if (parts.length === 0) return { code: 'PRIORITY', message: `first in queue ${queue}: waiting for the next offers` };
  return { code: 'PRIORITY', message: `${BEHIND}${parts.join(' and ')} in queue ${queue}` };
}

/**
 * The jobs behind the first that waits (`head`), each behind those from the head on: in queue order the
 * ones of higher priority come first, so a single pass counts them.
 */
function waitBehind(queue: string, jobs: readonly PendingJob[], head: number, out: Placement): void {
  let runStart = head;
  for (let i = head + 1; i < jobs.length; i++) {
    const job = jobs[i] as PendingJob;
    if (job.priority !== jobs[i - 1]?.priority) runStart = i;
    out.pending.set(job.id, behind(queue, runStart - head, i - runStart));
  }
}

/** One queue, in its order: place each job, or say why it waits; nothing passes a job that waits. */
function placeQueue(
  queue: string,
  jobs: readonly PendingJob[],
  offers: readonly OfferState[],
  quota: QueueQuota | undefined,
  out: Placement,
): void {
  let placed: Quantities = {};
  for (const [index, job] of jobs.entries()) {
    const need = quantities(flatten(job.resources));
    const count = job.gang ?? 1;
    const over = quotaExceeded(quota, placed, times(need, count));
    const slots = over === undefined ? findSlots(offers, need, count) : [];
    if (over === undefined && slots.length === count) {
      slots.forEach((state, member) =>
        out.launches.push(launchOn(state, job, need, job.gang === null ? null : member)),
      );
      placed = addQuantities(placed, times(need, count));
      continue;
    }
    out.pending.set(job.id, waitReason(queue, job, need, over, offers.length === 0 ? undefined : slots.length));
    waitBehind(queue, jobs, index, out);
    return;
  }
}

function addQuantities(left: Quantities, right: Quantities): Quantities {
  const sum = { ...left };
  for (const [name, value] of Object.entries(right)) sum[name] = addScalars(sum[name] ?? 0, value);
  return sum;
}

/** Why the head of a queue waits; `slots` undefined when the queue was offered nothing. */
function waitReason(
  queue: string,
  job: PendingJob,
  need: Quantities,
  quotaLimit: string | undefined,
  slots: number | undefined,
): PendingReason {
  if (quotaLimit !== undefined) {
    return { code: 'QUOTA', message: `the queue's quota: queue ${queue} is at its ${quotaLimit}` };
  }
  if (slots === undefined) return { code: 'NO_OFFERS', message: `no offers to queue ${queue}` };
  if (job.gang !== null && job.gang > 1) {
    const free = slots === 1 ? '1 slot' : `${slots} slots`;
    return { code: 'GANG', message: `gang of ${job.gang}: only ${free} free (${describeDemand(need)} each)` };
  }
  return { code: 'RESOURCES', message: `no agent with the resources: ${describeDemand(need)}` };
}

/**
 * Places the pending jobs on the offers. Every job gets either launches (one, or N for a gang of N) or a
 * pending reason; no offer gives out more than it holds.
 */
export function place(input: PlacementInput): Placement {
  const out: Placement = { launches: [], pending: new Map(), remaining: new Map() };
  const states: OfferState[] = input.offers.map((offer) => {
    const available = quantities(flatten(offer.resources));
    return { offer, gpus: (available.gpus ?? 0) > 0, resources: [...offer.resources], available };
  });
  const queues = groupBy(input.jobs, (job) => job.queue);
  for (const queue of [...queues.keys()].sort()) {
    const jobs = (queues.get(queue) ?? []).sort(queueOrder);
    const role = queueRole(queue);
    placeQueue(
      queue,
      jobs,
      states.filter((state) => state.offer.role === role),
      input.quotas?.get(queue),
      out,
    );
  }
  for (const state of states) out.remaining.set(state.offer.id, state.resources);
  return out;
}
