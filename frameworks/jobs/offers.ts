/**
 * What the Jobs framework does with offers: read the pending jobs of the offered queues (bounded) and, for those
 * with a quota limit, their quota (quotas.ts), place them (placement.ts), record each job's attempt (conditional write) BEFORE the ACCEPT that launches it, accept,
 * decline the rest with a short filter, and write back why the others wait (bounded writes).
 *
 * Gangs: a gang at the head of its queue that the offers in hand cannot hold is given a short while — the
 * offers of its queue are held (kept in the store, not declined) and placed again with the next offers; past
 * the bound they are declined, so no offer is held for long.
 */
import { mapConcurrently } from '#shared/collections.js';
import type { Offer as MesosOffer, TaskInfo } from '#shared/protocol/mesos.js';
import type { QueueScheduler } from '../../sdk/queue-scheduler.js';
import { taskEnvironment } from './lifecycle.js';
import { isQueuePlace, place, type Launch, type Offer, type PendingJob, type Placement } from './placement.js';
import { queueRole, type Job } from './model.js';
import { recordAttempt } from './attempts.js';
import type { JobsEngine } from './engine.js';
import type { StoredJob } from './store.js';
import { queueQuotas, type QuotaSource } from './quotas.js';

export interface OfferSettings {
  /** Pending jobs read per offered queue. */
  readonly pendingLimit: number;
  /** Pending-reason writes per OFFERS event. */
  readonly reasonWrites: number;
  /** The filter on declined offers (seconds). */
  readonly declineSeconds: number;
  /** How long a gang may hold offers, at most (ms). */
  readonly gangHoldMs: number;
}

/** Attempts recorded at once while an offer batch is placed (each is one DynamoDB transaction). */
const RECORD_CONCURRENCY = 8;
export const DEFAULT_OFFER_SETTINGS: OfferSettings = {
  pendingLimit: 200,
  reasonWrites: 25,
  declineSeconds: 2,
  gangHoldMs: 5_000,
};

/** Test hooks: throw at a point between writes, as a handler killed there would stop. */
export interface FaultHooks {
  afterRecord?(jobId: string): void;
  afterAccept?(jobId: string): void;
}

export interface OffersContext {
  readonly engine: JobsEngine;
  readonly scheduler: QueueScheduler;
  readonly settings: OfferSettings;
  readonly faults?: FaultHooks;
  readonly onLaunched?: (count: number) => void;
  /** The queues' quota (quotas.ts); without it, placement knows only what is offered. */
  readonly quotas?: QuotaSource;
}

/** An offer as placement sees it: its role (MULTI_ROLE's allocation_info) and resources. */
export function placementOffer(offer: MesosOffer): Offer {
  const resources = offer.resources ?? [];
  const role = offer.allocation_info?.role ?? resources[0]?.allocation_info?.role ?? '*';
  return {
    id: offer.id.value,
    agentId: offer.agent_id.value,
    hostname: offer.hostname,
    role,
    resources,
  };
}

function pendingJob(stored: StoredJob): PendingJob {
  const { job } = stored;
  return {
    id: job.id,
    queue: job.queue,
    priority: job.priority,
    created_at: job.created_at,
    resources: job.resources,
    gang: job.gang,
  };
}

/** The TaskInfo of one task of an attempt: the job's command or image, its environment, the offer's resources. */
export function taskInfo(
  job: Job,
  taskId: string,
  attempt: number,
  launch: Launch,
  hosts: readonly string[],
): TaskInfo {
  const gang = job.gang === null ? undefined : { index: launch.gangIndex ?? 0, hosts };
  const variables = Object.entries(taskEnvironment(job, attempt, gang)).map(([name, value]) => ({ name, value }));
  const command =
    job.command === null
      ? { shell: false, environment: { variables } }
      : { shell: true, value: job.command, environment: { variables } };
  return {
    name: job.name,
    task_id: { value: taskId },
    agent_id: { value: launch.agentId },
    resources: launch.resources,
    command,
    ...(job.docker_image === null ? {} : { container: { type: 'DOCKER', docker: { image: job.docker_image } } }),
  } as TaskInfo;
}

/** The pending jobs of the offered queues, each queue's first `limit` in placement order. */
async function pendingOf(ctx: OffersContext, offers: readonly Offer[]): Promise<Map<string, StoredJob>> {
  const queues = [...new Set(offers.map((offer) => offer.role))];
  const pages = await Promise.all(queues.map((queue) => ctx.engine.store.pending(queue, ctx.settings.pendingLimit)));
  return new Map(pages.flat().map((stored) => [stored.job.id, stored]));
}

export interface OffersOutcome {
  readonly placement: Placement;
  /** Offers not used: to decline or hold. */
  readonly unused: string[];
  /** Jobs launched. */
  readonly launched: string[];
  /** Queues with a gang at the head waiting for more slots. */
  readonly gangWaiting: Set<string>;
  readonly pending: Map<string, StoredJob>;
}

/**
 * Places and launches. An offer is used when a recorded attempt launches on it; the others come back unused. A
 * job that moved since it was read (placed elsewhere, cancelled) is not launched, and its offer is freed.
 */
export async function handleOffers(ctx: OffersContext, offers: readonly Offer[]): Promise<OffersOutcome> {
  const pending = await pendingOf(ctx, offers);
  const queues = [...new Set([...pending.values()].map((stored) => stored.job.queue))];
  const quotas = await queueQuotas(ctx.quotas, queues, ctx.engine.logger);
  const placement = place({ jobs: [...pending.values()].map(pendingJob), offers, quotas });
  const byJob = new Map<string, Launch[]>();
  for (const launch of placement.launches) byJob.set(launch.jobId, [...(byJob.get(launch.jobId) ?? []), launch]);
  // Each job's attempt is its own transaction: recorded a few at a time, then one ACCEPT per offer, at once.
  const recorded = await mapConcurrently([...byJob], RECORD_CONCURRENCY, async ([jobId, launches]) => {
    const attempt = await recordAttempt(ctx.engine, pending.get(jobId) as StoredJob, launches);
    if (attempt !== undefined) ctx.faults?.afterRecord?.(jobId);
    return attempt === undefined ? undefined : { jobId, launches, ...attempt };
  });
  const byOffer = new Map<string, TaskInfo[]>();
  const launched: string[] = [];
  for (const each of recorded) {
    if (each === undefined) continue;
    const hosts = each.launches.map((launch) => launch.hostname);
    each.attempt.tasks.forEach((task, index) => {
      const launch = each.launches[index] as Launch;
      const info = taskInfo(each.stored.job, task.task_id, each.attempt.attempt, launch, hosts);
      byOffer.set(launch.offerId, [...(byOffer.get(launch.offerId) ?? []), info]);
    });
    launched.push(each.jobId);
  }
  await Promise.all(
    [...byOffer].map(async ([offerId, tasks]) => {
      await ctx.scheduler.launch([offerId], tasks);
      ctx.onLaunched?.(tasks.length);
    }),
  );
  for (const jobId of launched) ctx.faults?.afterAccept?.(jobId);
  const gangWaiting = new Set<string>();
  for (const [jobId, reason] of placement.pending) {
    if (reason.code === 'GANG') gangWaiting.add(pending.get(jobId)?.job.queue ?? '');
  }
  const unused = offers.map((offer) => offer.id).filter((id) => !byOffer.has(id));
  return { placement, unused, launched, gangWaiting, pending };
}

/**
 * What a reason says, with its counts taken out: a reason is written again only when this changes. A place in
 * the queue is one kind whatever its counts, since every launch moves every job behind it (writing each move
 * rewrote the same jobs on every offer round under a backlog); the API counts the place when the job is read.
 */
export function reasonKind(message: string | null): string | null {
  if (message === null) return null;
  return isQueuePlace(message) ? 'behind' : message.replace(/\d+(\.\d+)?/g, 'N');
}

/** Writes the pending reasons whose kind changed (reasonKind), at most `limit`, each conditional on the version read. */
export async function writeReasons(ctx: OffersContext, outcome: OffersOutcome): Promise<number> {
  const changed = [...outcome.placement.pending]
    .filter(([jobId, reason]) => {
      const written = outcome.pending.get(jobId)?.job;
      return written !== undefined && reasonKind(written.pending_reason) !== reasonKind(reason.message);
    })
    .slice(0, ctx.settings.reasonWrites);
  await mapConcurrently(changed, RECORD_CONCURRENCY, ([jobId, reason]) => {
    const seen = outcome.pending.get(jobId) as StoredJob;
    return ctx.engine.mutate(jobId, (current) =>
      current.job.version !== seen.job.version || current.job.state !== 'PENDING'
        ? undefined
        : { ...current, job: { ...current.job, pending_reason: reason.message } },
    );
  });
  return changed.length;
}

/** The queue roles of the queues jobs wait in (for REVIVE and the framework's roles). */
export function rolesOf(queues: Iterable<string>): string[] {
  return [...new Set([...queues].map(queueRole))].sort();
}
