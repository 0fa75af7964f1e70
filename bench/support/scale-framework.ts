/**
 * bench:scale's framework, on the scheduler SDK: it spreads a queue of tasks over the offers it gets (at most
 * `perAgent` to an agent at once), and hands the ACCEPTs to a few callers instead of awaiting them in the offer
 * callback, so that its updates keep flowing while thousands of launches are on their way (the SDK dispatches one
 * event at a time). Nor does it await its DECLINE there: a DECLINE of thousands of offers writes a filter for each,
 * and the updates behind the callback waited for it until the agents resent them. Once every task is placed it
 * SUPPRESSes offers, as a Mesos framework with nothing to launch does, and REVIVEs when a task comes back: a failed
 * ACCEPT, a launch whose offer is about to time out before its turn comes (not sent), or one dropped because it
 * timed out all the same. Records each task's ACCEPT time and every update it receives (performance.now() ms).
 */
import type { Offer, Resource, TaskInfo, TaskState, TaskStatus } from '#shared/protocol/mesos.js';
import { allocate, contains, subtract, unallocate } from '#shared/resources/resources.js';
import { isTerminal } from '#shared/tasks/state-machine.js';
import { DEFAULT_OFFER_TIMEOUT_SECONDS } from '../../functions/allocator/config.js';
import { SchedulerDriver } from '../../sdk/scheduler.js';
import { resources } from '../../test/support/resources.js';

export interface ScaleTimeline {
  acceptedAt?: number;
  runningAt?: number;
  endedAt?: number;
  ended?: TaskState;
  /** The terminal update's reason and message, when it is not TASK_FINISHED. */
  endedWhy?: string;
}

export interface ScaleFrameworkOptions {
  readonly master: string;
  readonly name: string;
  readonly taskIds: readonly string[];
  readonly taskResources: string;
  readonly perAgent: number;
  /** ACCEPT calls in flight at once. */
  readonly callers: number;
}

export interface ScaleFramework {
  readonly frameworkId: string;
  readonly timelines: ReadonlyMap<string, ScaleTimeline>;
  readonly ended: () => number;
  /** Calls that failed (their tasks go back to the queue for the next offers). */
  readonly failedCalls: () => number;
  /** Tasks dropped because their offer was gone by the time the ACCEPT came, and launched again. */
  readonly relaunched: () => number;
  /** Launches not sent because their offer was about to time out (their tasks wait for fresh offers). */
  readonly unsent: () => number;
  readonly done: Promise<void>;
  stop(): Promise<void>;
}

interface Launch {
  readonly offerId: string;
  readonly tasks: TaskInfo[];
  /** When the offer came (performance.now() ms). */
  readonly offeredAt: number;
}

/**
 * A launch still waiting this long after its offer came is not sent: the master times offers out after 120 s, and
 * its ACCEPT would only drop the tasks (TASK_DROPPED, REASON_INVALID_OFFERS). Its tasks wait for fresh offers.
 */
const OFFER_MAX_AGE_MS = (DEFAULT_OFFER_TIMEOUT_SECONDS - 20) * 1000;

interface FrameworkState {
  readonly pending: string[];
  suppressed: boolean;
}

/** Asks for offers again (after a SUPPRESS), retrying each second until the master takes it. */
function revive(state: FrameworkState, driver: SchedulerDriver): void {
  state.suppressed = false;
  driver
    .call({ type: 'REVIVE' })
    .catch(() => setTimeout(() => !state.suppressed && revive(state, driver), 1000).unref());
}

/** Puts tasks back at the head of the queue, and asks for offers for them if it had stopped asking. */
function requeue(state: FrameworkState, driver: SchedulerDriver, taskIds: readonly string[]): void {
  state.pending.unshift(...taskIds);
  if (state.suppressed) revive(state, driver);
}

/** Takes tasks off `pending` into launches on `offers`; answers the offers left unused. */
function place(
  offers: readonly Offer[],
  pending: string[],
  wanted: Resource[],
  perAgent: number,
  launches: Launch[],
): string[] {
  const unused: string[] = [];
  const offeredAt = performance.now();
  for (const offer of offers) {
    let available: Resource[] = unallocate(offer.resources ?? []);
    const tasks: TaskInfo[] = [];
    while (pending.length > 0 && tasks.length < perAgent && contains(available, wanted)) {
      available = subtract(available, wanted);
      const taskId = pending.shift() as string;
      tasks.push({
        name: taskId,
        task_id: { value: taskId },
        agent_id: offer.agent_id,
        resources: allocate(wanted, offer.allocation_info?.role ?? '*'),
        command: { shell: true, value: 'true' },
      });
    }
    if (tasks.length > 0) launches.push({ offerId: offer.id.value, tasks, offeredAt });
    else unused.push(offer.id.value);
  }
  return unused;
}

/** Notes an update on its task's timeline; true when it is the task's first terminal one. */
function record(timeline: ScaleTimeline, status: TaskStatus): boolean {
  if (status.state === 'TASK_RUNNING') timeline.runningAt ??= performance.now();
  if (!isTerminal(status.state) || timeline.ended !== undefined) return false;
  timeline.ended = status.state;
  timeline.endedAt = performance.now();
  if (status.state !== 'TASK_FINISHED') timeline.endedWhy = `${status.reason ?? '-'}: ${status.message ?? ''}`;
  return true;
}

export async function startScaleFramework(options: ScaleFrameworkOptions): Promise<ScaleFramework> {
  const wanted = resources(options.taskResources);
  const pending = [...options.taskIds];
  const timelines = new Map<string, ScaleTimeline>(options.taskIds.map((id) => [id, {}]));
  const launches: Launch[] = [];
  const count = { calling: 0, ended: 0, failedCalls: 0, relaunched: 0, unsent: 0 };
  const state: FrameworkState = { pending, suppressed: false };
  let finish: () => void = () => undefined;
  const done = new Promise<void>((resolve) => (finish = resolve));

  const call = (driver: SchedulerDriver): void => {
    while (count.calling < options.callers && launches.length > 0) {
      const launch = launches.shift() as Launch;
      const taskIds = launch.tasks.map((task) => task.task_id.value);
      if (performance.now() - launch.offeredAt > OFFER_MAX_AGE_MS) {
        count.unsent++;
        requeue(state, driver, taskIds);
        continue;
      }
      count.calling++;
      const now = performance.now();
      for (const task of launch.tasks) (timelines.get(task.task_id.value) as ScaleTimeline).acceptedAt = now;
      driver
        .launch([launch.offerId], launch.tasks, 1)
        .catch(() => {
          // The offer may be gone (rescinded, timed out): its tasks wait for the next offers.
          count.failedCalls++;
          requeue(state, driver, taskIds);
        })
        .finally(() => {
          count.calling--;
          call(driver);
        });
    }
  };

  const driver = new SchedulerDriver(
    {
      resourceOffers(driver, offers: Offer[]) {
        const unused = place(offers, pending, wanted, options.perAgent, launches);
        call(driver);
        // Not awaited either (see above); with nothing left to place, no more offers (REVIVE when a task is back).
        if (pending.length === 0 && !state.suppressed) {
          state.suppressed = true;
          driver.call({ type: 'SUPPRESS' }).catch(() => (state.suppressed = false));
        }
        if (unused.length > 0) driver.decline(unused, pending.length > 0 ? 1 : 5).catch(() => undefined);
      },
      statusUpdate(driver, status: TaskStatus) {
        const timeline = timelines.get(status.task_id.value);
        if (!timeline) return;
        // Its offer timed out while the launch waited its turn among thousands (offers live 120 s): it never
        // started, so it goes back to the queue, as a framework relaunches a task dropped before it ran.
        if (status.state === 'TASK_DROPPED' && status.reason === 'REASON_INVALID_OFFERS') {
          if (timeline.ended || pending.includes(status.task_id.value)) return;
          count.relaunched++;
          requeue(state, driver, [status.task_id.value]);
          return;
        }
        if (record(timeline, status) && ++count.ended === timelines.size) finish();
      },
    },
    {
      master: options.master,
      framework: {
        user: 'root',
        name: options.name,
        failover_timeout: 60,
        capabilities: [{ type: 'PARTITION_AWARE' }],
      },
      callTimeoutMs: 60_000,
    },
  );
  await driver.start();
  return {
    frameworkId: driver.frameworkId as string,
    timelines,
    ended: () => count.ended,
    failedCalls: () => count.failedCalls,
    relaunched: () => count.relaunched,
    unsent: () => count.unsent,
    done,
    stop: () => driver.stop(false),
  };
}
