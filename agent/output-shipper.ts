/**
 * Ships each task's sandbox stdout and stderr to the cluster's task log store as they are written
 * (docs/agent.md "Task output"), so that the master's files API serves them live without reaching the
 * agent. The files themselves are the buffer: per file the shipper keeps only the offset shipped so far
 * (in the task's checkpoint, so a restarted agent resumes there), reads at most one batch from it, and
 * advances once the store has taken the batch. A store that is down or throttling costs retries with
 * backoff, never memory; the output waits in the sandbox.
 *
 * Lines are shipped whole, one event each; a line still being written is shipped as it is after
 * `flushMs`, or when the task ends. The last output is shipped before the task's terminal update (up to
 * `finishTimeoutMs`, so a store that is down does not hold the update back).
 */
import { open, rename, stat, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import type { Logger } from '#shared/log.js';
import type { Metrics } from '#shared/metrics.js';
import { SHIPPED_FILES, streamName, type SandboxRun } from '#shared/task-logs/names.js';
import type { TaskLogEvent, TaskLogWriter } from '#shared/task-logs/store.js';
import { fromPathComponent, type Checkpoint } from './checkpoint.js';
import type { TaskRecord } from './executor.js';
import type { Lifecycle } from './lifecycle.js';

export interface OutputShipperOptions {
  readonly checkpoint: Checkpoint;
  readonly life: Lifecycle;
  readonly logger: Logger;
  readonly metrics: Metrics;
  /** How often a file is looked at (default 250 ms). */
  readonly pollMs?: number;
  /** A line without its newline yet is shipped after this long (default 1 s). */
  readonly flushMs?: number;
  /** The most read and sent at once per file (default 256 KiB). */
  readonly maxBatchBytes?: number;
  /** Retry backoff after a failed send: doubles from min to max (default 500 ms to 30 s). */
  readonly retryMinMs?: number;
  readonly retryMaxMs?: number;
  /** How long a task's end waits for its last output to be shipped (default 5 s). */
  readonly finishTimeoutMs?: number;
}

/** One event's most bytes: well under CloudWatch's 256 KiB, so a long line becomes a few events. */
const MAX_EVENT_BYTES = 64 * 1024;

/** Where a complete UTF-8 text ends in `bytes` (a character cut at the end is left for the next read). */
export function utf8Boundary(bytes: Buffer): number {
  let start = bytes.length - 1;
  let continuation = 0;
  while (start >= 0 && continuation < 3 && ((bytes[start] as number) & 0xc0) === 0x80) {
    start--;
    continuation++;
  }
  if (start < 0) return bytes.length;
  const lead = bytes[start] as number;
  const needed = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : lead >= 0xc0 ? 2 : 1;
  return bytes.length - start >= needed ? bytes.length : start;
}

/** The events of a stretch of text: one per line (with its newline), long lines cut at MAX_EVENT_BYTES. */
export function outputEvents(text: string, timestamp: number): TaskLogEvent[] {
  const events: TaskLogEvent[] = [];
  for (const line of text.match(/[^\n]*\n|[^\n]+$/g) ?? []) {
    let rest = Buffer.from(line, 'utf8');
    while (rest.length > 0) {
      const piece =
        rest.length > MAX_EVENT_BYTES ? rest.subarray(0, utf8Boundary(rest.subarray(0, MAX_EVENT_BYTES))) : rest;
      events.push({ timestamp, message: piece.toString('utf8') });
      rest = rest.subarray(piece.length);
    }
  }
  return events;
}

/** What is known of one shipped file. */
interface FileState {
  readonly name: (typeof SHIPPED_FILES)[number];
  readonly path: string;
  readonly stream: string;
  offset: number;
  /** Since when an unterminated line has waited at the end of what is shipped. */
  partialSince?: number;
}

interface Shipment {
  readonly record: TaskRecord;
  readonly files: FileState[];
  finishing: boolean;
  done: Promise<void>;
}

type Outcome = 'more' | 'idle' | 'drained';

/** The run and file a task's sandbox file is stored under (names.ts). */
export function taskStreams(record: TaskRecord): Array<{ name: (typeof SHIPPED_FILES)[number]; stream: string }> {
  const run: SandboxRun = {
    frameworkId: record.frameworkId,
    executorId: record.executorId,
    // A group's run is its executor's (the launch that started it; a later group joins it).
    run: record.parentSandbox ? fromPathComponent(basename(record.parentSandbox)) : record.containerId,
  };
  const base = record.parentSandbox ? `tasks/${record.task.task_id.value}/` : '';
  return SHIPPED_FILES.flatMap((name) => {
    const stream = streamName(run, `${base}${name}`);
    return stream ? [{ name, stream }] : [];
  });
}

export class OutputShipper {
  private writer: TaskLogWriter | undefined;
  private readonly shipments = new Map<string, Shipment>();
  private readonly pollMs: number;
  private readonly flushMs: number;
  private readonly maxBatchBytes: number;

  constructor(private readonly options: OutputShipperOptions) {
    this.pollMs = options.pollMs ?? 250;
    this.flushMs = options.flushMs ?? 1000;
    this.maxBatchBytes = options.maxBatchBytes ?? 256 * 1024;
  }

  /** The store to ship to, once the master has named it (registration); until then output waits. */
  connect(writer: TaskLogWriter | undefined): void {
    this.writer = writer;
  }

  get connected(): boolean {
    return this.writer !== undefined;
  }

  /** Starts shipping a task's files (a launch, or a task recovered after a restart). */
  async start(record: TaskRecord): Promise<void> {
    const key = record.containerId;
    if (this.shipments.has(key)) return;
    const saved = (await this.readOffsets(record)) ?? {};
    const files = taskStreams(record).map(({ name, stream }) => ({
      name,
      stream,
      path: join(record.sandbox, name),
      offset: saved[name] ?? 0,
    }));
    const shipment: Shipment = { record, files, finishing: false, done: Promise.resolve() };
    shipment.done = Promise.all(files.map((file) => this.loop(shipment, file))).then(() => {
      this.shipments.delete(key);
    });
    this.shipments.set(key, shipment);
  }

  /**
   * The task has ended: ship what is left, partial lines included, and stop. Resolves when it is shipped
   * or after `finishTimeoutMs`, whichever comes first (at once while no store is named); shipping goes on
   * in the background after that.
   */
  async finish(record: TaskRecord): Promise<void> {
    const shipment = this.shipments.get(record.containerId);
    if (!shipment) return;
    shipment.finishing = true;
    // No store named yet: nothing to wait for; the output is shipped once one is.
    if (!this.writer) return;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, this.options.finishTimeoutMs ?? 5000);
    });
    await Promise.race([shipment.done, timeout]);
    clearTimeout(timer);
  }

  /** Shipments in progress (for tests and metrics). */
  get active(): number {
    return this.shipments.size;
  }

  private async loop(shipment: Shipment, file: FileState): Promise<void> {
    const { life, logger, metrics } = this.options;
    let backoff = this.options.retryMinMs ?? 500;
    let failing = false;
    while (life.alive) {
      let outcome: Outcome;
      try {
        outcome = await this.shipOnce(shipment, file);
        if (failing) logger.info('Shipping task output works again', { stream: file.stream });
        failing = false;
        backoff = this.options.retryMinMs ?? 500;
      } catch (error) {
        metrics.increment('slave/task_output_ship_errors');
        if (!failing)
          logger.warn('Shipping task output failed; retrying', { stream: file.stream, error: String(error) });
        failing = true;
        await life.sleep(backoff);
        backoff = Math.min(backoff * 2, this.options.retryMaxMs ?? 30_000);
        continue;
      }
      if (outcome === 'drained') return;
      if (outcome === 'idle') await life.sleep(this.pollMs);
    }
  }

  /** Ships at most one batch from the file's offset. */
  private async shipOnce(shipment: Shipment, file: FileState): Promise<Outcome> {
    const finishing = shipment.finishing;
    const writer = this.writer;
    if (!writer) return 'idle';
    const chunk = await this.readFrom(file);
    if (chunk.length === 0) return finishing ? 'drained' : 'idle';
    const newline = chunk.lastIndexOf(0x0a) + 1;
    let cut = newline;
    if (cut === 0) {
      const now = Date.now();
      file.partialSince ??= now;
      const waited = now - file.partialSince >= this.flushMs;
      if (finishing) cut = chunk.length;
      else if (chunk.length >= this.maxBatchBytes || waited) cut = utf8Boundary(chunk) || chunk.length;
      else return 'idle';
    }
    const events = outputEvents(chunk.subarray(0, cut).toString('utf8'), Date.now());
    await writer.append(file.stream, events);
    file.offset += cut;
    file.partialSince = undefined;
    this.options.metrics.increment('slave/task_output_bytes_shipped', cut);
    await this.saveOffsets(shipment);
    return 'more';
  }

  private async readFrom(file: FileState): Promise<Buffer> {
    // Most looks find nothing new: one stat, and the file is opened only when it grew (or shrank).
    const seen = await stat(file.path).catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return undefined;
      throw error;
    });
    if (seen === undefined || seen.size === file.offset) return Buffer.alloc(0);
    let handle;
    try {
      handle = await open(file.path, 'r');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return Buffer.alloc(0);
      throw error;
    }
    try {
      const { size } = await handle.stat();
      // A file rewritten shorter (Docker's logs rewritten after a restart, a truncating task) starts over.
      if (size < file.offset) file.offset = 0;
      const length = Math.min(size - file.offset, this.maxBatchBytes);
      const buffer = Buffer.alloc(length);
      const { bytesRead } = await handle.read(buffer, 0, length, file.offset);
      return buffer.subarray(0, bytesRead);
    } finally {
      await handle.close();
    }
  }

  private offsetsFile(record: TaskRecord): string {
    return join(this.options.checkpoint.taskDir(record.frameworkId, record.task.task_id.value), 'shipped.json');
  }

  private async readOffsets(record: TaskRecord): Promise<Record<string, number> | undefined> {
    return this.options.checkpoint.readJson<Record<string, number>>(this.offsetsFile(record)).catch(() => undefined);
  }

  /**
   * Not fsynced, and only into the task's existing checkpoint (a task closed meanwhile has none any more):
   * an offset lost in a crash re-ships a little output, which is cheaper than a sync per batch.
   */
  private async saveOffsets(shipment: Shipment): Promise<void> {
    const path = this.offsetsFile(shipment.record);
    const offsets = Object.fromEntries(shipment.files.map((file) => [file.name, file.offset]));
    const temporary = `${path}.tmp`;
    try {
      await writeFile(temporary, JSON.stringify(offsets));
      await rename(temporary, path);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
  }
}
