/**
 * bench:scale's framework, on the scheduler SDK: it spreads a queue of tasks over the offers it gets (at most
 * `perAgent` to an agent at once), and hands the ACCEPTs to a few callers instead of awaiting them in the offer
 * callback, so that its updates keep flowing while thousands of launches are on their way (the SDK dispatches one
 * event at a time). Records each task's ACCEPT time and every update it receives (performance.now() ms).
 */
import type { Offer, Resource, TaskInfo, TaskState, TaskStatus } from '#shared/protocol/mesos.js';
import { allocate, contains, subtract, unallocate } from '#shared/resources/resources.js';
import { isTerminal } from '#shared/tasks/state-machine.js';
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
  readonly done: Promise<void>;
  stop(): Promise<void>;
}

interface Launch {
  readonly offerId: string;
  readonly tasks: TaskInfo[];
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
    if (tasks.length > 0) launches.push({ offerId: offer.id.value, tasks });
    else unused.push(offer.id.value);
  }
  return unused;
}

export async function startScaleFramework(options: ScaleFrameworkOptions): Promise<ScaleFramework> {
  const wanted = resources(options.taskResources);
  const pending = [...options.taskIds];
  const timelines = new Map<string, ScaleTimeline>(options.taskIds.map((id) => [id, {}]));
  const launches: Launch[] = [];
  let calling = 0;
  let ended = 0;
  let failedCalls = 0;
  let suppressed = false;
  let finish: () => void = () => undefined;
  const done = new Promise<void>((resolve) => (finish = resolve));

  const revive = (driver: SchedulerDriver): void => {
    suppressed = false;
    driver.call({ type: 'REVIVE' }).catch(() => setTimeout(() => !suppressed && revive(driver), 1000).unref());
  };

  const call = (driver: SchedulerDriver): void => {
    while (calling < options.callers && launches.length > 0) {
      const launch = launches.shift() as Launch;
      calling++;
      const now = performance.now();
      for (const task of launch.tasks) (timelines.get(task.task_id.value) as ScaleTimeline).acceptedAt = now;
      driver
        .launch([launch.offerId], launch.tasks, 1)
        .catch(() => {
          // The offer may be gone (rescinded, timed out): its tasks wait for the next offers.
          failedCalls++;
          pending.unshift(...launch.tasks.map((task) => task.task_id.value));
          if (suppressed) revive(driver);
        })
        .finally(() => {
          calling--;
          call(driver);
        });
    }
  };

  const driver = new SchedulerDriver(
    {
      resourceOffers(driver, offers: Offer[]) {
        const unused = place(offers, pending, wanted, options.perAgent, launches);
        call(driver);
        // Not awaited either: a DECLINE of thousands of offers writes a filter for each, and the updates behind
        // this callback would wait for it (acknowledged late enough, the agents resend them). With nothing left
        // to place the framework asks for no more offers, as a Mesos framework does (REVIVE if a launch fails).
        if (pending.length === 0 && !suppressed) {
          suppressed = true;
          driver.call({ type: 'SUPPRESS' }).catch(() => (suppressed = false));
        }
        if (unused.length > 0) driver.decline(unused, pending.length > 0 ? 1 : 5).catch(() => undefined);
      },
      statusUpdate(_driver, status: TaskStatus) {
        const timeline = timelines.get(status.task_id.value);
        if (!timeline) return;
        if (status.state === 'TASK_RUNNING') timeline.runningAt ??= performance.now();
        if (isTerminal(status.state) && timeline.ended === undefined) {
          timeline.ended = status.state;
          timeline.endedAt = performance.now();
          if (status.state !== 'TASK_FINISHED') timeline.endedWhy = `${status.reason ?? '-'}: ${status.message ?? ''}`;
          if (++ended === timelines.size) finish();
        }
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
    ended: () => ended,
    failedCalls: () => failedCalls,
    done,
    stop: () => driver.stop(false),
  };
}
