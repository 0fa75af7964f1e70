/**
 * Checkpointing (Mesos `src/slave/paths.cpp`, `state.cpp`): everything a restarted agent needs, under
 * `<work_dir>/meta/`. Files are replaced atomically (write, fsync, rename); status update streams are
 * append-only journals with one JSON record per line, fsynced, so that a crash leaves at most a torn
 * last line, which replay ignores. A record whose loss costs only a resend (an acknowledgement) is
 * appended without its own fsync: the next fsync of its journal makes it durable too.
 *
 *   meta/boot_id                       the host boot the checkpoint was written in
 *   meta/agent.json                    the agent id and its queues
 *   meta/state.json                    drain state, refused tasks, launches already done
 *   meta/tasks/<fw>/<task>/task.json   what was launched (TaskInfo, container, GPUs, kill in progress)
 *   meta/tasks/<fw>/<task>/task.updates  the status update stream
 *   meta/runs/<container>/             the process supervisor's pid and exit status
 *   frameworks/<fw>/executors/<executor>/runs/<container>/   sandboxes (kept after the task)
 *   volumes/roles/<role>/<persistence id>/                    persistent volumes
 */
import { randomBytes } from 'node:crypto';
import { chmod, open, mkdir, readFile, readdir, rename, rm, type FileHandle } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Lifecycle } from './lifecycle.js';

/** Ids become path components; anything unusual is percent-encoded (a task id may be "..%"). */
export function pathComponent(id: string): string {
  const encoded = encodeURIComponent(id).replace(/\./g, '%2E').replace(/\*/g, '%2A');
  return encoded === '' ? '%00' : encoded;
}

export function fromPathComponent(component: string): string {
  return component === '%00' ? '' : decodeURIComponent(component);
}

export class Checkpoint {
  readonly meta: string;
  /** Per file of `writeLatest`: the write under way and the one waiting to follow it. */
  private readonly latest = new Map<string, { writing?: Promise<void>; next?: Promise<void> }>();

  constructor(
    readonly workDir: string,
    private readonly life: Lifecycle,
  ) {
    this.meta = join(workDir, 'meta');
  }

  get agentFile(): string {
    return join(this.meta, 'agent.json');
  }
  get bootIdFile(): string {
    return join(this.meta, 'boot_id');
  }
  get stateFile(): string {
    return join(this.meta, 'state.json');
  }
  taskDir(frameworkId: string, taskId: string): string {
    return join(this.meta, 'tasks', pathComponent(frameworkId), pathComponent(taskId));
  }
  taskFile(frameworkId: string, taskId: string): string {
    return join(this.taskDir(frameworkId, taskId), 'task.json');
  }
  updatesFile(frameworkId: string, taskId: string): string {
    return join(this.taskDir(frameworkId, taskId), 'task.updates');
  }
  runDir(containerId: string): string {
    return join(this.meta, 'runs', pathComponent(containerId));
  }
  sandbox(frameworkId: string, executorId: string, containerId: string): string {
    return join(
      this.workDir,
      'frameworks',
      pathComponent(frameworkId),
      'executors',
      pathComponent(executorId),
      'runs',
      pathComponent(containerId),
    );
  }
  volume(role: string, persistenceId: string): string {
    return join(this.workDir, 'volumes', 'roles', pathComponent(role), pathComponent(persistenceId));
  }

  /** Replaces a file atomically and durably. */
  async writeJson(path: string, value: unknown): Promise<void> {
    await this.writeText(path, `${JSON.stringify(value)}\n`);
  }

  /**
   * Replaces a file with `value()`'s latest value, durably; calls made while a write is under way share the
   * next one (one write for a burst of changes, and no older value can land after a newer one).
   */
  writeLatest(path: string, value: () => unknown): Promise<void> {
    let latest = this.latest.get(path);
    if (!latest) {
      latest = {};
      this.latest.set(path, latest);
    }
    const file = latest;
    file.next ??= (async () => {
      await file.writing?.catch(() => undefined);
      file.next = undefined;
      const write = this.writeJson(path, value());
      file.writing = write;
      await write;
    })();
    return file.next;
  }

  async writeText(path: string, text: string): Promise<void> {
    this.life.check();
    const temporary = `${path}.${randomBytes(4).toString('hex')}.tmp`;
    const handle = await this.openIn(temporary, 'w');
    try {
      await handle.writeFile(text);
      await handle.datasync();
    } finally {
      await handle.close();
    }
    this.life.check();
    await rename(temporary, path);
  }

  async readJson<T>(path: string): Promise<T | undefined> {
    const text = await readFile(path, 'utf8').catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return undefined;
      throw error;
    });
    return text === undefined ? undefined : (JSON.parse(text) as T);
  }

  /** Opens a file, making its directory first if it is not there (it mostly is: one call, not two). */
  private async openIn(path: string, flags: string): Promise<FileHandle> {
    try {
      return await open(path, flags);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      await mkdir(dirname(path), { recursive: true });
      return open(path, flags);
    }
  }

  /** Appends one record to a journal: durably, unless `durable: false` (see above). */
  async append(path: string, record: unknown, { durable = true } = {}): Promise<void> {
    this.life.check();
    const handle = await this.openIn(path, 'a');
    try {
      await handle.appendFile(`${JSON.stringify(record)}\n`);
      if (durable) await handle.datasync();
    } finally {
      await handle.close();
    }
  }

  /** A journal's records; a torn last line (a crash mid-append) is dropped. */
  async readJournal(path: string): Promise<unknown[]> {
    const text = await readFile(path, 'utf8').catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return '';
      throw error;
    });
    return parseJournal(text);
  }

  /** Every task with a checkpoint: [frameworkId, taskId]. */
  async tasks(): Promise<Array<[string, string]>> {
    const root = join(this.meta, 'tasks');
    const found: Array<[string, string]> = [];
    for (const framework of await readdir(root).catch(() => [] as string[])) {
      for (const task of await readdir(join(root, framework)).catch(() => [] as string[])) {
        found.push([fromPathComponent(framework), fromPathComponent(task)]);
      }
    }
    return found;
  }

  async removeTask(frameworkId: string, taskId: string): Promise<void> {
    this.life.check();
    await rm(this.taskDir(frameworkId, taskId), { recursive: true, force: true });
  }

  async removeRun(containerId: string): Promise<void> {
    this.life.check();
    await rm(this.runDir(containerId), { recursive: true, force: true });
  }

  /**
   * `meta/` is the agent's: other users may pass through it but not list it; run dirs (the supervisors'
   * files) and task records (commands, environment) are root's alone.
   */
  async secure(): Promise<void> {
    for (const [dir, mode] of [
      [this.meta, 0o711],
      [join(this.meta, 'runs'), 0o700],
      [join(this.meta, 'tasks'), 0o700],
    ] as const) {
      await mkdir(dir, { recursive: true, mode });
      await chmod(dir, mode);
    }
  }

  /** Forgets everything (the master no longer knows this agent); sandboxes and volumes stay. */
  async wipe(): Promise<void> {
    this.life.check();
    await rm(this.meta, { recursive: true, force: true });
    await this.secure();
  }
}

export function parseJournal(text: string): unknown[] {
  const records: unknown[] = [];
  const lines = text.split('\n');
  for (const [i, line] of lines.entries()) {
    if (line.trim() === '') continue;
    try {
      records.push(JSON.parse(line));
    } catch (error) {
      // Only the last line can be torn by a crash; anything else is corruption the operator must see.
      if (i === lines.length - 1) break;
      throw new Error(`Corrupt journal line ${i + 1}: ${(error as Error).message}`, { cause: error });
    }
  }
  return records;
}
