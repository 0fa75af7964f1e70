/**
 * A framework's SUBSCRIBE stream (docs/scheduler-api.md, "SUBSCRIBE and event delivery"): SUBSCRIBED, a HEARTBEAT at
 * once and then every interval, and the framework's events drained from its FIFO queue, as RecordIO.
 *
 * The stream keeps no state another handler needs: events wait in the queue until a stream takes them.
 * It checks every few seconds (and before writing events) that its subscription is still the current
 * one; a newer SUBSCRIBE fails it over ("Framework failed over"), TEARDOWN ends it ("Framework has been
 * removed"). It ends itself before the maximum stream duration (the Lambda response cap); the client
 * resubscribes. When it ends for any reason but a failover, the framework is marked disconnected and
 * its reconnect grace starts.
 */
import type { FrameworkInfo, MasterInfo } from '#shared/protocol/mesos.js';
import { parseMessageBody } from '#shared/protocol/internal.js';
import { EventSchema, type Event } from '#shared/protocol/scheduler.js';
import { encodeRecord } from '#shared/protocol/recordio.js';
import { standInEndpoint, type ReceivedMessage } from '#shared/queues/queues.js';
import type { Logger } from '#shared/log.js';
import type { Master } from '../master/master.js';

export interface StreamOptions {
  readonly frameworkId: string;
  readonly streamId: string;
  readonly eventQueueUrl: string;
  readonly info: FrameworkInfo;
  readonly masterInfo: MasterInfo;
}

function record(event: Event): Uint8Array {
  return encodeRecord(JSON.stringify(event));
}

/** A stream that says one ERROR and closes (invalid SUBSCRIBE, removed framework, unauthorized role). */
export function errorStream(message: string): ReadableStream<Uint8Array> {
  return new ReadableStream({
    start(controller) {
      controller.enqueue(record({ type: 'ERROR', error: { message } }));
      controller.close();
    },
  });
}

/** The most events one turn of the stream delivers (see `receive`). */
const MAX_TURN_EVENTS = 100;

type Verdict = 'current' | 'failed-over' | 'removed' | 'deactivated';

async function subscriptionVerdict(master: Master, frameworkId: string, streamId: string): Promise<Verdict> {
  const framework = await master.registrar.frameworks.get(frameworkId);
  if (!framework || framework.status === 'REMOVED') return 'removed';
  if (framework.streamId === streamId) return 'current';
  // No subscription at all: it was deactivated (the sweeper thought this stream dead). Not an error
  // for the client, which resubscribes; a different stream id is a failover.
  return framework.streamId === undefined ? 'deactivated' : 'failed-over';
}

type EndedBy = Exclude<Verdict, 'current'> | 'deadline' | 'client' | 'error';

/** One SUBSCRIBE stream's loop: heartbeats, subscription checks, events from the framework's queue. */
class SubscriptionStream {
  private readonly abort = new AbortController();
  private readonly log: Logger;
  private stopped = false;
  private inFlight: ReceivedMessage[] = [];
  private controller!: ReadableStreamDefaultController<Uint8Array>;
  private nextHeartbeat = 0;
  private nextCheck = 0;
  private readonly heartbeatMs: number;
  private readonly checkMs: number;

  constructor(
    private readonly master: Master,
    private readonly options: StreamOptions,
  ) {
    const { frameworkId, streamId } = options;
    this.log = master.logger.createChild({ persistentKeys: { frameworkId, streamId } });
    this.heartbeatMs = master.config.heartbeatIntervalSeconds * 1000;
    this.checkMs = master.config.streamCheckSeconds * 1000;
  }

  readable(): ReadableStream<Uint8Array> {
    return new ReadableStream<Uint8Array>({
      start: (controller) => {
        this.controller = controller;
        void this.run().catch((error: unknown) => {
          this.log.error('Subscription stream crashed', { error: String(error) });
          try {
            controller.error(error);
          } catch {
            // Already closed.
          }
        });
      },
      cancel: () => {
        // The client closed the connection.
        this.stopped = true;
        this.abort.abort();
      },
    });
  }

  private send(event: Event): void {
    this.controller.enqueue(record(event));
    this.master.metrics.increment(`master/frameworks/events/${event.type}`);
  }

  private async run(): Promise<void> {
    const { master } = this;
    const startedAt = master.now();
    const deadline = startedAt + master.config.maxStreamSeconds * 1000;
    this.nextHeartbeat = startedAt + this.heartbeatMs;
    this.nextCheck = startedAt + this.checkMs;
    let failures = 0;
    let endedBy: EndedBy = 'client';
    this.send({
      type: 'SUBSCRIBED',
      subscribed: {
        framework_id: { value: this.options.frameworkId },
        heartbeat_interval_seconds: master.config.heartbeatIntervalSeconds,
        master_info: this.options.masterInfo,
      },
    });
    this.send({ type: 'HEARTBEAT' });

    while (!this.stopped) {
      const now = master.now();
      if (now >= deadline) {
        endedBy = 'deadline';
        break;
      }
      try {
        const verdict = await this.step(now, deadline);
        if (verdict !== 'current') {
          endedBy = verdict;
          break;
        }
        failures = 0;
      } catch (error) {
        if (this.stopped) break;
        failures++;
        this.log.warn('Event stream step failed', { error: String(error), failures });
        if (failures >= 5) {
          endedBy = 'error';
          break;
        }
        await new Promise((resolve) => setTimeout(resolve, 200 * failures));
      }
    }
    await this.end(endedBy, startedAt);
  }

  /** One turn: check the subscription when due, wait for events and deliver them, heartbeat when due. */
  private async step(now: number, deadline: number): Promise<Verdict> {
    const { master, options } = this;
    const { frameworkId, streamId, eventQueueUrl } = options;
    if (now >= this.nextCheck) {
      const verdict = await subscriptionVerdict(master, frameworkId, streamId);
      if (verdict !== 'current') return verdict;
      this.nextCheck = master.now() + this.checkMs;
    }
    const waitMs = Math.max(0, Math.min(this.nextHeartbeat, this.nextCheck, deadline) - master.now());
    // Rounded up: a wait of 0 answers at once, and a turn must not spin until the heartbeat is due.
    this.inFlight = await this.receive(eventQueueUrl, Math.min(20, Math.ceil(waitMs / 1000)));
    if (this.inFlight.length > 0) {
      // Events go only to the current subscription: a failed-over stream hands them back.
      const verdict = await subscriptionVerdict(master, frameworkId, streamId);
      if (verdict !== 'current') return verdict;
      this.nextCheck = master.now() + this.checkMs;
      await this.deliver();
    }
    if (master.now() >= this.nextHeartbeat) {
      this.send({ type: 'HEARTBEAT' });
      this.nextHeartbeat = master.now() + this.heartbeatMs;
      // Say the stream is alive; a failed write means another subscription took over.
      if (!(await master.registrar.frameworks.touch(frameworkId, streamId))) this.nextCheck = 0;
    }
    return 'current';
  }

  /**
   * The events of one turn: a long poll for the first batch, and on the stand-in, which does not hold a message group
   * back while its messages are in flight, further full batches at once, up to MAX_TURN_EVENTS: a backlog then costs a
   * subscription check and a delete round per 100 events, not per 10 (with one batch a turn, 300 tasks at once kept
   * their UPDATEs 4-12 s between the status handler and the framework on two busy cores).
   * SQS returns nothing more of a framework's group until the batch is deleted, so there one batch is a turn.
   */
  private async receive(queueUrl: string, waitSeconds: number): Promise<ReceivedMessage[]> {
    const options = { max: 10, visibilityTimeoutSeconds: 30, abortSignal: this.abort.signal };
    const received = await this.master.queues.receive(queueUrl, { ...options, waitSeconds });
    if (standInEndpoint(queueUrl) === undefined) return received;
    let last = received.length;
    while (last === options.max && received.length < MAX_TURN_EVENTS) {
      const more = await this.master.queues.receive(queueUrl, { ...options, waitSeconds: 0 });
      received.push(...more);
      last = more.length;
    }
    return received;
  }

  /** Writes the events received and deletes them from the queue. */
  private async deliver(): Promise<void> {
    for (const message of this.inFlight) {
      const event = parseMessageBody(EventSchema, message.body);
      if (event) this.send(event);
      else this.log.error('Dropping a malformed event from the framework queue', { messageId: message.messageId });
    }
    await this.master.queues.delete(
      this.options.eventQueueUrl,
      this.inFlight.map((message) => message.receiptHandle),
    );
    this.inFlight = [];
  }

  /** Hands back what was received and not delivered, says why the stream ends, and closes it. */
  private async end(endedBy: EndedBy, startedAt: number): Promise<void> {
    const { master, options, controller } = this;
    if (this.inFlight.length > 0) {
      await master.queues
        .release(
          options.eventQueueUrl,
          this.inFlight.map((message) => message.receiptHandle),
        )
        .catch(() => undefined);
      this.inFlight = [];
    }
    if (endedBy === 'failed-over') {
      safeEnqueue(controller, record({ type: 'ERROR', error: { message: 'Framework failed over' } }));
    } else if (endedBy === 'removed') {
      safeEnqueue(controller, record({ type: 'ERROR', error: { message: 'Framework has been removed' } }));
    } else if (endedBy !== 'deactivated') {
      // The reconnect grace starts; only the current stream can start it (the registrar checks).
      const disconnected = await master.registrar.frameworks
        .disconnect(options.frameworkId, options.streamId)
        .catch(() => undefined);
      if (disconnected?.ok) master.metrics.increment('master/frameworks_disconnected_total');
    }
    this.log.info('Subscription stream ended', { endedBy, seconds: Math.round((master.now() - startedAt) / 1000) });
    if (!this.stopped) {
      this.stopped = true;
      try {
        controller.close();
      } catch {
        // The client already went away.
      }
    }
  }
}

export function subscriptionStream(master: Master, options: StreamOptions): ReadableStream<Uint8Array> {
  return new SubscriptionStream(master, options).readable();
}

function safeEnqueue(controller: ReadableStreamDefaultController<Uint8Array>, chunk: Uint8Array): void {
  try {
    controller.enqueue(chunk);
  } catch {
    // The client is gone; nothing to tell it.
  }
}
