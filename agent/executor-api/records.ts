/**
 * A custom executor run's checkpoint (Mesos's `executor.info` and `run` paths under `meta/`):
 * `meta/executors/<framework>/<executor>/executor.json`, with the run, its secret (the file is in the
 * root-only `meta/`), its container's description and GPUs, and every task given to it with its launch
 * id. Written before the process starts and whenever a task joins; removed when the run ends.
 */
import { readdir, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { TaskInfo } from '#shared/protocol/mesos.js';
import { fromPathComponent, pathComponent, type Checkpoint } from '../checkpoint.js';
import type { CustomExecutor, ExecutorRun } from './custom-executor.js';

export interface ExecutorRecord {
  readonly run: ExecutorRun;
  readonly token: string;
  /** The executor as the containerizer launched it (launch.ts), to recover its container. */
  readonly container: TaskInfo;
  readonly gpus: readonly number[];
  readonly tasks: ReadonlyArray<{ readonly task: TaskInfo; readonly launchId: string }>;
}

export class ExecutorRecords {
  private readonly fixed = new Map<CustomExecutor, Pick<ExecutorRecord, 'container' | 'gpus'>>();
  private readonly launchIds = new Map<CustomExecutor, Map<string, string>>();
  /** One write at a time per run, in order: a task joining must not be lost to an older write. */
  private readonly chains = new Map<CustomExecutor, Promise<unknown>>();

  constructor(private readonly checkpoint: Checkpoint) {}

  private path(frameworkId: string, executorId: string): string {
    return join(
      this.checkpoint.meta,
      'executors',
      pathComponent(frameworkId),
      pathComponent(executorId),
      'executor.json',
    );
  }

  /** What never changes in a run's record. */
  start(
    executor: CustomExecutor,
    fixed: Pick<ExecutorRecord, 'container' | 'gpus'>,
    launches = new Map<string, string>(),
  ): void {
    this.fixed.set(executor, fixed);
    this.launchIds.set(executor, launches);
  }

  /** Writes the run's record, with the task of `launchId` that just joined. */
  save(executor: CustomExecutor, launchId: string): Promise<void> {
    const fixed = this.fixed.get(executor);
    const launches = this.launchIds.get(executor);
    if (!fixed || !launches) return Promise.resolve();
    for (const task of executor.givenTasks())
      if (!launches.has(task.task_id.value)) launches.set(task.task_id.value, launchId);
    const record: ExecutorRecord = {
      run: executor.run,
      token: executor.token,
      ...fixed,
      tasks: executor.givenTasks().map((task) => ({ task, launchId: launches.get(task.task_id.value) ?? launchId })),
    };
    const written = (this.chains.get(executor) ?? Promise.resolve()).then(() =>
      this.checkpoint.writeJson(this.path(executor.frameworkId, executor.executorId), record),
    );
    this.chains.set(
      executor,
      written.catch(() => undefined),
    );
    return written;
  }

  async remove(executor: CustomExecutor): Promise<void> {
    await this.chains.get(executor);
    this.fixed.delete(executor);
    this.launchIds.delete(executor);
    this.chains.delete(executor);
    await rm(dirname(this.path(executor.frameworkId, executor.executorId)), { recursive: true, force: true });
  }

  /** Every checkpointed run. */
  async all(): Promise<ExecutorRecord[]> {
    const root = join(this.checkpoint.meta, 'executors');
    const records: ExecutorRecord[] = [];
    for (const framework of await readdir(root).catch(() => [] as string[])) {
      for (const executor of await readdir(join(root, framework)).catch(() => [] as string[])) {
        const path = this.path(fromPathComponent(framework), fromPathComponent(executor));
        const record = await this.checkpoint.readJson<ExecutorRecord>(path);
        if (record) records.push(record);
      }
    }
    return records;
  }

  /** A record found again at recovery, that a recovered run now writes. */
  async forget(record: ExecutorRecord): Promise<void> {
    await rm(dirname(this.path(record.run.frameworkId, record.run.info.executor_id.value)), {
      recursive: true,
      force: true,
    });
  }
}
