/**
 * The Jobs framework: a queue-delivered Mesos framework (sdk/queue-scheduler.ts) named `jobs`, with no process or
 * stream of its own. Its events come from its queue to `handler()` (a Lambda event source in AWS, the local
 * cluster's poller locally); its state is the jobs table. It subscribes once (the framework id and stream id kept
 * in the table), resumes from there in a new handler, and reconciles after every (re)subscription.
 *
 * - OFFERS: placement and launches (offers.ts); offers of a queue whose head is a gang short of slots are held
 *   a few seconds (in the table), everything else is declined with a short filter; SUPPRESS when nothing waits.
 * - UPDATE: the attempt's task, then the job settles (retries, FAILED, parents, dependents). A TASK_ERROR
 *   refusing a duplicate task id is the master refusing a second launch of a running attempt: ignored.
 * - RESCIND: a held offer is forgotten.
 */
import type { Metrics } from '#shared/metrics.js';
import type { Offer as MesosOffer, TaskStatus } from '#shared/protocol/mesos.js';
import { TERMINAL_STATES } from '#shared/tasks/state-machine.js';
import type { BatchResponse, QueueRecord, QueueScheduler } from '../../sdk/queue-scheduler.js';
import {
  hostedFrameworkInfo,
  hostedScheduler,
  queueHandler,
  startHosted,
  type HostedConnection,
} from '../common/hosting.js';
import { attemptGroups } from './lifecycle.js';
import { applyStatus } from './attempts.js';
import type { JobsEngine } from './engine.js';
import {
  DEFAULT_OFFER_SETTINGS,
  handleOffers,
  placementOffer,
  rolesOf,
  writeReasons,
  type FaultHooks,
  type OfferSettings,
} from './offers.js';
import type { JobsActions } from './service.js';
import { DEFAULT_QUEUE } from './model.js';
import type { HeldOffer } from './store.js';
import type { QuotaSource } from './quotas.js';

export const JOBS_FRAMEWORK_NAME = 'jobs';
export const JOBS_PRINCIPAL = 'mantle-jobs';

export interface JobsFrameworkOptions extends HostedConnection {
  readonly engine: JobsEngine;
  readonly metrics?: Metrics;
  readonly settings?: Partial<OfferSettings>;
  readonly faults?: FaultHooks;
  /** The queues' quota limits and consumption, for placement (the master's; absent: the allocator alone). */
  readonly quotas?: QuotaSource;
}

export class JobsFramework implements JobsActions {
  readonly engine: JobsEngine;
  readonly settings: OfferSettings;
  private roles: string[] = [DEFAULT_QUEUE];
  private current: QueueScheduler | undefined;

  constructor(private readonly options: JobsFrameworkOptions) {
    this.engine = options.engine;
    this.settings = { ...DEFAULT_OFFER_SETTINGS, ...options.settings };
  }

  /** When this process last received an offer for each role (queue): the ticker's reasons leave those alone. */
  readonly offeredAt = new Map<string, number>();

  /** The SDK's scheduler, once start() has run. */
  get scheduler(): QueueScheduler {
    if (this.current === undefined) throw new Error('The Jobs framework has not started');
    return this.current;
  }

  private newScheduler(frameworkId: string | undefined, suppressed: readonly string[]): QueueScheduler {
    this.current = hostedScheduler(
      this.options,
      'Jobs',
      {
        resourceOffers: (_driver, offers) => this.offers(offers),
        statusUpdate: (_driver, status) => this.update(status),
        offerRescinded: (_driver, offerId) => this.engine.store.releaseHeld([offerId]),
      },
      { info: this.info(), frameworkId, suppressed },
    );
    return this.current;
  }

  private info() {
    return hostedFrameworkInfo(this.options, JOBS_FRAMEWORK_NAME, this.roles);
  }

  /** Takes up the subscription kept in the table, or makes one (frameworks/common/hosting.ts). */
  async start(options: { resubscribe: boolean }): Promise<void> {
    const store = this.engine.store;
    this.roles = rolesOf([DEFAULT_QUEUE, ...(await store.queues())]);
    // Nothing waiting: subscribe suppressed, so an idle Jobs takes no offers from anyone.
    const kept = await store.subscription();
    const suppressed = kept && !options.resubscribe ? [] : (await this.idle()) ? this.roles : [];
    await startHosted(
      {
        state: store.state,
        name: 'Jobs',
        scheduler: (frameworkId, roles) => this.newScheduler(frameworkId, roles),
        ...(this.options.logger ? { logger: this.options.logger } : {}),
      },
      options.resubscribe,
      suppressed,
    );
  }

  /**
   * The SQS handler (Lambda's event source with ReportBatchItemFailures, or the local poller). A message handled
   * before (the queue delivered it again: a lost acknowledgement, a handler that died after its work) is skipped:
   * an OFFERS event handled twice would place jobs on offers already used.
   */
  handler(): (event: { Records: readonly QueueRecord[] }) => Promise<BatchResponse> {
    return queueHandler(
      this.engine.store.state,
      () => this.current,
      this.engine.now,
      (count) => this.options.metrics?.increment('jobs/events_redelivered', count),
    );
  }

  private async offers(offers: MesosOffer[]): Promise<void> {
    const store = this.engine.store;
    const now = this.engine.now();
    const held = await store.held();
    const fresh = offers.map(placementOffer);
    for (const offer of fresh) this.offeredAt.set(offer.role, now);
    const all = [...held.map((each) => each.offer), ...fresh];
    const outcome = await handleOffers(this.context(), all);
    this.options.metrics?.increment('jobs/offers_received', offers.length);
    const used = new Set(all.map((offer) => offer.id).filter((id) => !outcome.unused.includes(id)));
    await store.releaseHeld(held.map((each) => each.offer.id).filter((id) => used.has(id)));
    const heldSince = new Map(held.map((each) => [each.offer.id, each.since]));
    const toHold: HeldOffer[] = [];
    const toDecline: string[] = [];
    for (const offer of all.filter((each) => !used.has(each.id))) {
      const since = heldSince.get(offer.id) ?? now;
      const waiting = outcome.gangWaiting.has(offer.role) && now - since < this.settings.gangHoldMs;
      if (waiting) toHold.push({ offer, since });
      else toDecline.push(offer.id);
    }
    const newlyHeld = toHold.filter((each) => !heldSince.has(each.offer.id));
    await store.hold(newlyHeld);
    if (newlyHeld.length > 0) this.options.metrics?.increment('jobs/offers_held', newlyHeld.length);
    await store.releaseHeld(toDecline.filter((id) => heldSince.has(id)));
    if (toDecline.length > 0) await this.scheduler.decline(toDecline, this.settings.declineSeconds);
    await writeReasons(this.context(), outcome);
    if (outcome.pending.size === 0 && toHold.length === 0) await this.suppressIfIdle();
  }

  private context() {
    return {
      engine: this.engine,
      scheduler: this.scheduler,
      settings: this.settings,
      ...(this.options.faults ? { faults: this.options.faults } : {}),
      ...(this.options.quotas ? { quotas: this.options.quotas } : {}),
      onLaunched: (count: number) => this.options.metrics?.increment('jobs/attempts_launched', count),
    };
  }

  private async update(status: TaskStatus): Promise<void> {
    const taskId = status.task_id.value;
    if (status.state === 'TASK_ERROR' && status.message?.startsWith('Task has duplicate ID')) {
      // The master refused a second launch of a task that exists: the first one stands.
      this.options.metrics?.increment('jobs/duplicate_launches_refused');
      this.options.logger?.warn('A duplicate launch was refused by the master', { taskId });
      return;
    }
    const settled = await applyStatus(this.engine, {
      taskId,
      state: status.state,
      time: status.timestamp === undefined ? this.engine.now() : Math.round(status.timestamp * 1000),
      ...(status.message === undefined ? {} : { message: status.message }),
      ...(status.reason === undefined ? {} : { reason: status.reason }),
      ...(status.data === undefined ? {} : { output: Buffer.from(status.data, 'base64').toString('utf8') }),
    });
    if (settled === undefined) return;
    if (TERMINAL_STATES.has(status.state))
      this.options.metrics?.increment(`jobs/tasks_${status.state.slice(5).toLowerCase()}`);
    if (settled.wait?.kind === 'kill') await this.kill(settled.job.id);
    if (settled.job.state === 'PENDING' && settled.wait === null) await this.wake([settled.job.queue]);
  }

  /** JobsActions: new work in these queues — add their roles to the framework, and REVIVE the suppressed ones. */
  async wake(queues: readonly string[]): Promise<void> {
    const roles = rolesOf(queues);
    const missing = roles.filter((role) => !this.roles.includes(role));
    if (missing.length > 0) {
      this.roles = rolesOf([...this.roles, ...missing]);
      await this.scheduler.call({
        type: 'UPDATE_FRAMEWORK',
        update_framework: { framework_info: { ...this.info(), id: { value: this.scheduler.frameworkId ?? '' } } },
      });
      this.options.logger?.info('Jobs framework roles updated', { roles: this.roles });
    }
    const kept = await this.engine.store.subscription();
    const revive = roles.filter((role) => kept?.suppressed.includes(role));
    if (kept === undefined || revive.length === 0) return;
    await this.scheduler.revive(revive);
    await this.engine.store.putSubscription(
      { ...kept, suppressed: kept.suppressed.filter((role) => !revive.includes(role)) },
      kept.version,
    );
    this.options.metrics?.increment('jobs/revives');
  }

  /** SUPPRESS every role when no job is pending anywhere (REVIVE comes with the next work). */
  private async suppressIfIdle(): Promise<void> {
    const store = this.engine.store;
    if (!(await this.idle())) return;
    const kept = await store.subscription();
    if (kept === undefined || this.roles.every((role) => kept.suppressed.includes(role))) return;
    await this.scheduler.suppress(this.roles);
    await store.putSubscription({ ...kept, suppressed: [...this.roles] }, kept.version);
    this.options.metrics?.increment('jobs/suppresses');
  }

  /** Whether no job is placeable in any queue. */
  private async idle(): Promise<boolean> {
    for (const queue of new Set([DEFAULT_QUEUE, ...(await this.engine.store.queues())])) {
      if ((await this.engine.store.pending(queue, 1)).length > 0) return false;
    }
    return true;
  }

  /** JobsActions: KILL the live tasks of a job's last attempt. */
  async kill(jobId: string): Promise<void> {
    const stored = await this.engine.store.get(jobId, { attempts: true });
    const last = attemptGroups(stored?.job.attempts ?? []).at(-1) ?? [];
    for (const task of last.filter((each) => !TERMINAL_STATES.has(each.state))) {
      await this.scheduler.kill(task.task_id, task.agent_id ?? undefined);
    }
  }
}
