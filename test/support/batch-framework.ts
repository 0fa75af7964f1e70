/**
 * A batch framework on the scheduler SDK, for the end-to-end tests and benchmark: it packs a queue of
 * short tasks into the offers it gets, records every status update it receives (and acknowledges it,
 * through the driver), and resolves when every task has ended. Times are performance.now() ms.
 */
import type { FrameworkInfo, Offer, Resource, TaskInfo, TaskState, TaskStatus } from '#shared/protocol/mesos.js';
import { allocate, contains, subtract, unallocate } from '#shared/resources/resources.js';
import { isTerminal } from '#shared/tasks/state-machine.js';
import { SchedulerDriver } from '../../sdk/scheduler.js';
import { resources } from './scheduler.js';

export interface BatchTask {
  readonly taskId: string;
  readonly command: string;
  readonly resources: string;
  /** Run in this Docker image (network none); the process containerizer otherwise. */
  readonly dockerImage?: string;
}

export interface TaskTimeline {
  readonly taskId: string;
  acceptedAt?: number;
  readonly updates: Array<{ readonly state: TaskState; readonly uuid: string | undefined; readonly at: number }>;
  ended?: TaskStatus;
}

export interface BatchOptions {
  readonly master: string;
  readonly tasks: readonly BatchTask[];
  readonly framework?: Partial<FrameworkInfo>;
  /** Tasks launched on one agent at most at once (default: as many as its offer holds). */
  readonly perOffer?: number;
}

export interface BatchRun {
  readonly driver: SchedulerDriver;
  readonly frameworkId: string;
  readonly timelines: ReadonlyMap<string, TaskTimeline>;
  /** Resolves when every task has reached a terminal state. */
  readonly done: Promise<void>;
  /** Stops the driver (TEARDOWN unless failover). */
  stop(failover?: boolean): Promise<void>;
}

function taskInfo(task: BatchTask, offer: Offer): TaskInfo {
  return {
    name: task.taskId,
    task_id: { value: task.taskId },
    agent_id: offer.agent_id,
    resources: allocate(resources(task.resources), offer.allocation_info?.role ?? '*'),
    command: { shell: true, value: task.command },
    ...(task.dockerImage
      ? { container: { type: 'DOCKER' as const, docker: { image: task.dockerImage, network: 'NONE' as const } } }
      : {}),
  };
}

export async function runBatch(options: BatchOptions): Promise<BatchRun> {
  const pending = [...options.tasks];
  const timelines = new Map<string, TaskTimeline>(
    options.tasks.map((task) => [task.taskId, { taskId: task.taskId, updates: [] }]),
  );
  let remaining = options.tasks.length;
  let finish: () => void = () => undefined;
  const done = new Promise<void>((resolve) => {
    finish = resolve;
    if (remaining === 0) resolve();
  });

  const driver = new SchedulerDriver(
    {
      async resourceOffers(driver, offers) {
        const unused: string[] = [];
        const launches: Array<Promise<void>> = [];
        for (const offer of offers) {
          let available: Resource[] = unallocate(offer.resources ?? []);
          const launch: TaskInfo[] = [];
          while (pending.length > 0 && launch.length < (options.perOffer ?? Infinity)) {
            const next = pending[0] as BatchTask;
            const wanted = resources(next.resources);
            if (!contains(available, wanted)) break;
            available = subtract(available, wanted);
            launch.push(taskInfo(next, offer));
            pending.shift();
          }
          if (launch.length === 0) {
            unused.push(offer.id.value);
            continue;
          }
          const now = performance.now();
          for (const task of launch) (timelines.get(task.task_id.value) as TaskTimeline).acceptedAt = now;
          launches.push(driver.launch([offer.id.value], launch, 1));
        }
        // One call for every offer it cannot use; a short filter keeps them from coming straight back.
        if (unused.length > 0) launches.push(driver.decline(unused, pending.length > 0 ? 1 : 5));
        await Promise.all(launches);
      },
      statusUpdate(_driver, status) {
        const timeline = timelines.get(status.task_id.value);
        if (!timeline) return;
        timeline.updates.push({ state: status.state, uuid: status.uuid, at: performance.now() });
        if (isTerminal(status.state) && !timeline.ended) {
          timeline.ended = status;
          remaining--;
          if (remaining === 0) finish();
        }
      },
    },
    {
      master: options.master,
      framework: {
        user: 'root',
        name: 'batch',
        failover_timeout: 60,
        capabilities: [{ type: 'PARTITION_AWARE' }],
        ...options.framework,
      },
    },
  );
  const frameworkId = await driver.start();
  return { driver, frameworkId, timelines, done, stop: (failover = false) => driver.stop(failover) };
}
