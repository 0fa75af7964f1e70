/**
 * A custom executor's container follows its tasks (Mesos's `Slave::launchExecutor`/`Slave::run` update the
 * executor container's resources to the executor's plus those of its live tasks): its cgroups grow when a
 * task or task group is given to it and shrink when a task ends.
 */
import type { Resource } from '#shared/protocol/mesos.js';
import type { Logger } from '#shared/log.js';
import type { Containerizer } from '../containerizer/containerizer.js';
import { ProcessContainerizer } from '../containerizer/process.js';
import { ContainerCgroup } from '../isolation/cgroups.js';
import { containerLimits } from '../isolation/limits.js';
import type { CustomExecutor } from './custom-executor.js';

/** The executor's own resources and those of the tasks it holds: what its container may use. */
export function executorResources(executor: CustomExecutor): Resource[] {
  return [...(executor.run.info.resources ?? []), ...executor.heldTasks().flatMap((task) => task.resources ?? [])];
}

/** Resizes one executor's cgroups at a time, in order, each from its tasks as they are then. */
export class ExecutorResizer {
  private readonly pending = new WeakMap<CustomExecutor, Promise<void>>();

  constructor(
    /** The containerizer running the executor: only a process executor's cgroups are resized here. */
    private readonly containerizer: (executor: CustomExecutor) => Containerizer | undefined,
    private readonly logger: Logger,
  ) {}

  /** Settles once the executor's cgroups hold what its tasks are now (never rejects). */
  resize(executor: CustomExecutor): Promise<void> {
    const next = (this.pending.get(executor) ?? Promise.resolve()).then(() => this.apply(executor));
    this.pending.set(executor, next);
    return next;
  }

  private async apply(executor: CustomExecutor): Promise<void> {
    const mesos = this.containerizer(executor);
    if (!(mesos instanceof ProcessContainerizer) || !executor.containerStarted || executor.ended) return;
    const { cgroups, limits } = mesos.options;
    const wanted = containerLimits(executorResources(executor), undefined, limits);
    const fields = { executorId: executor.executorId, containerId: executor.run.containerId };
    try {
      const followed = await new ContainerCgroup(cgroups, executor.run.containerId).resize(wanted);
      if (!followed) this.logger.info('The executor uses more memory than its tasks now hold: its limit stays', fields);
    } catch (error) {
      // A container that just ended has no cgroups left to resize.
      if (!executor.ended)
        this.logger.warn('Resizing an executor container failed', { ...fields, error: String(error) });
    }
  }
}
