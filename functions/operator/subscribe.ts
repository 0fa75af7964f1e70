/**
 * The operator API's SUBSCRIBE (Mesos `Master::Http::subscribe`): a RecordIO stream of `Event`s, as the
 * scheduler stream frames them — SUBSCRIBED with the state (GET_STATE) and the heartbeat interval, a
 * HEARTBEAT at once and every interval, then TASK_ADDED, TASK_UPDATED, AGENT_ADDED, AGENT_REMOVED,
 * FRAMEWORK_ADDED, FRAMEWORK_UPDATED and FRAMEWORK_REMOVED as the registrar's change feed records them
 * (docs/operator.md, "Streaming (SUBSCRIBE)").
 *
 * The stream announces itself to the feed before it reads the state, so that no change after that read
 * goes unrecorded, and reads the feed a little behind its cursor (entries are ordered by their writers'
 * clocks, which a slow writer can put behind), remembering what it sent in that margin. It ends before
 * the maximum stream duration, as the scheduler stream does; the client resubscribes.
 */
import { encodeRecord } from '#shared/protocol/recordio.js';
import type { Master } from '../master/master.js';
import { WATCH_CHECK_MS } from '../registrar/index.js';
import { MANTLE_VERSION } from '../scheduler/subscribe.js';
import { operatorEvent } from './event-shapes.js';
import { stateOf } from './snapshot.js';

/** How far behind its cursor the stream reads the feed, for entries written late. */
const LAG_MS = 5000;
const POLL_MS = 250;
/** A stream's watch lasts this long and is renewed every third of it. */
const WATCH_MS = 60_000;

export class OperatorStream {
  private stopped = false;
  private controller!: ReadableStreamDefaultController<Uint8Array>;
  private readonly sent = new Map<string, number>();

  constructor(
    private readonly master: Master,
    /** Whether SUBSCRIBED carries the tasks (a client that pages them leaves them out). */
    private readonly options: { readonly tasks: boolean } = { tasks: true },
  ) {}

  readable(): ReadableStream<Uint8Array> {
    return new ReadableStream<Uint8Array>({
      start: (controller) => {
        this.controller = controller;
        void this.run()
          .catch((error: unknown) => {
            this.master.logger.warn('Operator stream ended by a fault', { error: String(error) });
          })
          .finally(() => this.close());
      },
      cancel: () => {
        this.stopped = true;
      },
    });
  }

  private send(event: Record<string, unknown>): void {
    if (this.stopped) return;
    this.controller.enqueue(encodeRecord(JSON.stringify(event)));
    this.master.metrics.increment(`master/operator/events/${String(event.type)}`);
  }

  private close(): void {
    this.stopped = true;
    try {
      this.controller.close();
    } catch {
      // Already closed by the client.
    }
  }

  private async run(): Promise<void> {
    const { master } = this;
    const { changes } = master.registrar;
    const startedAt = master.now();
    const deadline = startedAt + master.config.maxStreamSeconds * 1000;
    // Writers in other processes learn of a first watcher within WATCH_CHECK_MS: the state is read after that.
    const watchedBefore = await changes.watch(startedAt + WATCH_MS);
    if (!watchedBefore && !master.config.soleWriter) await sleep(WATCH_CHECK_MS + 200);
    const floor = master.now();
    let cursor = floor;
    const heartbeatMs = master.config.heartbeatIntervalSeconds * 1000;
    this.send({
      type: 'SUBSCRIBED',
      subscribed: {
        get_state: await stateOf(master, this.options),
        heartbeat_interval_seconds: master.config.heartbeatIntervalSeconds,
      },
    });
    this.send({ type: 'HEARTBEAT' });
    let nextHeartbeat = master.now() + heartbeatMs;
    let nextWatch = startedAt + WATCH_MS / 3;
    while (!this.stopped && master.now() < deadline) {
      const readAt = master.now();
      await this.deliver(Math.max(floor, cursor - LAG_MS));
      cursor = readAt;
      const now = master.now();
      if (now >= nextHeartbeat) {
        this.send({ type: 'HEARTBEAT' });
        nextHeartbeat = now + heartbeatMs;
      }
      if (now >= nextWatch) {
        await changes.watch(now + WATCH_MS);
        nextWatch = now + WATCH_MS / 3;
      }
      await sleep(POLL_MS);
    }
  }

  /** Sends the events of the feed's entries from `from` that were not sent yet, oldest first. */
  private async deliver(from: number): Promise<void> {
    const entries = await this.master.registrar.changes.read(from);
    for (const entry of entries) {
      if (this.sent.has(entry.seq)) continue;
      this.sent.set(entry.seq, entry.at);
      for (const change of entry.changes) this.send(operatorEvent(change, MANTLE_VERSION));
    }
    for (const [seq, at] of this.sent) if (at < from) this.sent.delete(seq);
  }
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
