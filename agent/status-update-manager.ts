/**
 * The status update manager (Mesos `TaskStatusUpdateManager`, src/slave/task_status_update_manager.cpp):
 * each task's stream is journalled before anything is sent, its head goes to the status FIFO queue
 * (group = the task's key, framework/task) and is resent, doubling up to `retryMaxMs`, until the ACKNOWLEDGE command
 * for it arrives; then the next update goes. The first resend waits `retryMinMs` or, when acknowledgements have been
 * taking longer, what they take (ack-round-trip.ts). Sending waits until the agent is registered (it needs its id and the
 * queue); a restarted agent rebuilds every stream from its journal and resends the heads. Each update goes (and is
 * logged) with the task's ids and the correlation id of the command that led to it (docs/operator.md, "Logs").
 * Heads released by acknowledgements applied together (a receive's bunch) go out together, when the last of those
 * acknowledgements is applied, so that the transport sends them in one request.
 */
import { taskKey } from '#shared/ids.js';
import type { Logger } from '#shared/log.js';
import { inLogContext, logContext } from '#shared/log-context.js';
import type { Metrics } from '#shared/metrics.js';
import type { AgentMessage } from '#shared/protocol/internal.js';
import type { TaskStatus } from '#shared/protocol/mesos.js';
import { AckRoundTrip } from './ack-round-trip.js';
import type { Checkpoint } from './checkpoint.js';
import { isStopped, type Lifecycle } from './lifecycle.js';
import { uuidHex } from './statuses.js';
import { isTerminal as isTerminalState } from '#shared/tasks/state-machine.js';
import {
  journalRecords,
  StatusUpdateStream,
  type AckOutcome,
  type JournalRecord,
  type UpdateOutcome,
} from './status-update-stream.js';

/** Where updates go: the status queue (or, in tests of the manager alone, anything). */
export interface StatusTransport {
  send(message: AgentMessage, groupId: string, deduplicationId: string): Promise<void>;
}

export interface StatusUpdateManagerOptions {
  readonly checkpoint: Checkpoint;
  readonly life: Lifecycle;
  readonly retryMinMs: number;
  readonly retryMaxMs: number;
  readonly logger: Logger;
  readonly metrics: Metrics;
  /** The terminal update of a task was acknowledged: its stream is closed. */
  readonly onClosed: (frameworkId: string, taskId: string) => void;
}

interface Entry {
  readonly frameworkId: string;
  readonly taskId: string;
  readonly stream: StatusUpdateStream;
  intervalMs: number;
  attempt: number;
  /** When the current head was first sent (Date.now()), for the acknowledgement's round trip. */
  headSentAt?: number;
  sending: boolean;
  cancelRetry?: () => void;
  /** The correlation id of the latest command that led to an update (the launch, a kill); none after a restart. */
  correlationId?: string;
  /** Journal writes of one stream happen one at a time, in order. */
  chain: Promise<unknown>;
}

export class StatusUpdateManager {
  private readonly entries = new Map<string, Entry>();
  private target: { agentId: string; transport: StatusTransport } | undefined;
  private readonly roundTrip = new AckRoundTrip();
  /** Acknowledgements being applied, and the streams whose next head waits for the last of them. */
  private acknowledging = 0;
  private released: Entry[] = [];

  constructor(private readonly options: StatusUpdateManagerOptions) {}

  /** The wait before a head's first resend. */
  get firstRetryMs(): number {
    return this.roundTrip.firstRetryMs(this.options.retryMinMs, this.options.retryMaxMs);
  }

  private entry(frameworkId: string, taskId: string, stream = new StatusUpdateStream()): Entry {
    let entry = this.entries.get(taskKey(frameworkId, taskId));
    if (!entry) {
      entry = {
        frameworkId,
        taskId,
        stream,
        intervalMs: this.firstRetryMs,
        attempt: 0,
        sending: false,
        chain: Promise.resolve(),
      };
      this.entries.set(taskKey(frameworkId, taskId), entry);
    }
    return entry;
  }

  private serialize<T>(entry: Entry, work: () => Promise<T>): Promise<T> {
    const result = entry.chain.then(work);
    entry.chain = result.catch(() => undefined);
    return result;
  }

  /** Rebuilds a task's stream from its journal (at agent start, before registration). */
  async recover(frameworkId: string, taskId: string): Promise<StatusUpdateStream> {
    const raw = await this.options.checkpoint.readJournal(this.options.checkpoint.updatesFile(frameworkId, taskId));
    const stream = StatusUpdateStream.replay(journalRecords(raw));
    return this.entry(frameworkId, taskId, stream).stream;
  }

  stream(frameworkId: string, taskId: string): StatusUpdateStream | undefined {
    return this.entries.get(taskKey(frameworkId, taskId))?.stream;
  }

  /** Streams with updates not yet acknowledged. */
  get unacknowledged(): number {
    let count = 0;
    for (const entry of this.entries.values()) if (entry.stream.size > 0) count++;
    return count;
  }

  /** Journals an update, then sends it if it is the head of its stream. */
  update(frameworkId: string, status: TaskStatus): Promise<UpdateOutcome> {
    const entry = this.entry(frameworkId, status.task_id.value);
    entry.correlationId = logContext().correlation_id ?? entry.correlationId;
    return this.serialize(entry, async () => {
      const uuid = status.uuid as string;
      if (entry.stream.has(uuid)) return 'duplicate';
      if (entry.stream.terminated) {
        this.options.logger.warn('Status update after a terminal one dropped', {
          frameworkId,
          taskId: entry.taskId,
          state: status.state,
        });
        return 'terminated';
      }
      const record: JournalRecord = { type: 'UPDATE', status };
      await this.options.checkpoint.append(this.options.checkpoint.updatesFile(frameworkId, entry.taskId), record);
      const outcome = entry.stream.update(status);
      this.options.metrics.increment('slave/status_updates');
      // Only a new head goes out now; anything behind it waits for the head's acknowledgement. An end behind the
      // head rides the head's next send, its retry, as `latest_state` (as Mesos's agent does). Sent again at once,
      // it freed the task's resources before its updates were handled, and a framework launched into them faster
      // than the master handled updates: the status queue grew until resends were half of it (bench:scale).
      if (entry.stream.head?.uuid === uuid) this.flush(entry);
      return outcome;
    });
  }

  /** The ACKNOWLEDGE command: journals it, releases the next update. */
  acknowledge(frameworkId: string, taskId: string, uuid: string): Promise<AckOutcome> {
    const entry = this.entries.get(taskKey(frameworkId, taskId));
    if (!entry) {
      this.options.metrics.increment('slave/invalid_status_update_acknowledgements');
      return Promise.resolve('unknown');
    }
    this.acknowledging++;
    const applied = this.serialize(entry, async () => {
      if (entry.stream.head?.uuid !== uuid) {
        const outcome = entry.stream.acknowledge(uuid);
        this.options.metrics.increment(
          outcome === 'duplicate'
            ? 'slave/duplicate_status_update_acknowledgements'
            : 'slave/invalid_status_update_acknowledgements',
        );
        return outcome;
      }
      // An acknowledgement lost in a crash only has its update sent again, which the master answers as a
      // duplicate: it goes without an fsync of its own, and the terminal update's not at all (the stream
      // closes and its checkpoint is removed).
      if (!isTerminalState(entry.stream.head.state)) {
        const record: JournalRecord = { type: 'ACK', uuid };
        const file = this.options.checkpoint.updatesFile(frameworkId, taskId);
        await this.options.checkpoint.append(file, record, { durable: false });
      }
      const outcome = entry.stream.acknowledge(uuid);
      this.options.metrics.increment('slave/valid_status_update_acknowledgements');
      entry.cancelRetry?.();
      if (entry.headSentAt !== undefined) this.roundTrip.sample(Date.now() - entry.headSentAt);
      entry.headSentAt = undefined;
      entry.intervalMs = this.firstRetryMs;
      entry.attempt = 0;
      if (entry.stream.closed) {
        this.entries.delete(taskKey(frameworkId, taskId));
        this.options.onClosed(frameworkId, taskId);
      } else {
        this.released.push(entry);
      }
      return outcome;
    });
    return applied.finally(() => {
      if (--this.acknowledging > 0) return;
      for (const released of this.released.splice(0)) this.flush(released);
    });
  }

  /** Starts (or restarts, after a re-registration) sending every stream's head. */
  start(agentId: string, transport: StatusTransport): void {
    this.target = { agentId, transport };
    for (const entry of this.entries.values()) {
      entry.cancelRetry?.();
      // A round trip spanning the re-registration would say nothing about the master's pace.
      entry.headSentAt = undefined;
      entry.intervalMs = this.firstRetryMs;
      this.flush(entry);
    }
  }

  /** Stops sending (the agent is re-registering); updates still queue. */
  pause(): void {
    this.target = undefined;
    for (const entry of this.entries.values()) entry.cancelRetry?.();
  }

  /** Drops a stream whose task's checkpoint is gone (a wiped agent). */
  forget(frameworkId: string, taskId: string): void {
    this.entries.get(taskKey(frameworkId, taskId))?.cancelRetry?.();
    this.entries.delete(taskKey(frameworkId, taskId));
  }

  private flush(entry: Entry): void {
    const target = this.target;
    const head = entry.stream.head;
    if (!target || !head || entry.sending || !this.options.life.alive) return;
    if (this.entries.get(taskKey(entry.frameworkId, entry.taskId)) !== entry) return;
    entry.sending = true;
    entry.cancelRetry?.();
    const message: AgentMessage = {
      type: 'STATUS_UPDATE',
      agent_id: { value: target.agentId },
      framework_id: { value: entry.frameworkId },
      status: { ...head, agent_id: { value: target.agentId } },
      ...(entry.stream.latestState ? { latest_state: entry.stream.latestState } : {}),
    };
    const attempt = entry.attempt++;
    entry.headSentAt ??= Date.now();
    const ids = {
      agent_id: target.agentId,
      framework_id: entry.frameworkId,
      task_id: entry.taskId,
      ...(entry.correlationId ? { correlation_id: entry.correlationId } : {}),
    };
    inLogContext(ids, () => this.send(entry, target.transport, message, head, attempt));
  }

  /** Sends the head once; when it is done, sends the next head or schedules the retry. */
  private send(
    entry: Entry,
    transport: StatusTransport,
    message: AgentMessage,
    head: TaskStatus,
    attempt: number,
  ): void {
    const uuid = head.uuid as string;
    const sent = transport.send(message, taskKey(entry.frameworkId, entry.taskId), `${uuidHex(uuid)}-${attempt}`);
    void sent
      .then(
        () => {
          this.options.logger.debug('Status update sent', { state: head.state, attempt });
          if (attempt > 0) this.options.metrics.increment('slave/status_update_retries');
        },
        (error: unknown) => {
          if (isStopped(error)) return;
          this.options.logger.warn('Sending a status update failed; it will be retried', {
            frameworkId: entry.frameworkId,
            taskId: entry.taskId,
            state: head.state,
            error: String(error),
          });
        },
      )
      .finally(() => {
        entry.sending = false;
        if (entry.stream.head?.uuid !== uuid) {
          this.flush(entry);
          return;
        }
        const wait = entry.intervalMs;
        entry.intervalMs = Math.min(entry.intervalMs * 2, this.options.retryMaxMs);
        entry.cancelRetry = this.options.life.after(wait, () => this.flush(entry));
      });
  }
}
