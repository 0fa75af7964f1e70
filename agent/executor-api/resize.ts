/**
 * A custom executor's container follows its tasks (Mesos's `Slave::launchExecutor`/`Slave::run` update the
 * executor container's resources to the executor's plus those of its live tasks): its limits grow when a
 * task or task group is given to it and shrink when a task ends; a process executor's cgroups are written,
 * a Docker executor's container is updated through the Engine (docker-resize.ts).
 */
import type { Resource } from '#shared/protocol/mesos.js';
import type { Logger } from '#shared/log.js';
import type { Containerizer } from '../containerizer/containerizer.js';
import { DockerContainerizer } from '../containerizer/docker.js';
import { ProcessContainerizer } from '../containerizer/process.js';
import { ContainerCgroup } from '../isolation/cgroups.js';
import { containerLimits } from '../isolation/limits.js';
import type { CustomExecutor } from './custom-executor.js';

/** The executor's own resources and those of the tasks it holds: what its container may use. */
export function executorResources(executor: CustomExecutor): Resource[] {
  return [...(executor.run.info.resources ?? []), ...executor.heldTasks().flatMap((task) => task.resources ?? [])];
}

/** Resizes one executor's container at a time, in order, each from its tasks as they are then. */
export class ExecutorResizer {
  private readonly pending = new WeakMap<CustomExecutor, Promise<void>>();

  constructor(
    /** The containerizer running the executor. */
    private readonly containerizer: (executor: CustomExecutor) => Containerizer | undefined,
    private readonly logger: Logger,
  ) {}

  /** Settles once the executor's container holds what its tasks are now (never rejects). */
  resize(executor: CustomExecutor): Promise<void> {
    const next = (this.pending.get(executor) ?? Promise.resolve()).then(() => this.apply(executor));
    this.pending.set(executor, next);
    return next;
  }

  private async apply(executor: CustomExecutor): Promise<void> {
    const mesos = this.containerizer(executor);
    if (!executor.containerStarted || executor.ended) return;
    const fields = { executorId: executor.executorId, containerId: executor.run.containerId };
    try {
      const followed = await this.resizeContainer(mesos, executor);
      if (!followed) this.logger.info('The executor uses more memory than its tasks now hold: its limit stays', fields);
    } catch (error) {
      // A container that just ended has nothing left to resize.
      if (!executor.ended)
        this.logger.warn('Resizing an executor container failed', { ...fields, error: String(error) });
    }
  }

  /** Whether the hard memory limit could follow (true where there is nothing to resize). */
  private async resizeContainer(mesos: Containerizer | undefined, executor: CustomExecutor): Promise<boolean> {
    const { containerId } = executor.run;
    if (mesos instanceof DockerContainerizer) return mesos.resize(containerId, executorResources(executor));
    if (!(mesos instanceof ProcessContainerizer)) return true;
    const { cgroups, limits } = mesos.options;
    return new ContainerCgroup(cgroups, containerId).resize(
      containerLimits(executorResources(executor), undefined, limits),
    );
  }
}
