/**
 * A framework's SUBSCRIBE stream (spec §1.2, ARCHITECTURE flow 3): SUBSCRIBED, a HEARTBEAT at once and
 * then every interval, and the framework's events drained from its FIFO queue, as RecordIO.
 *
 * The stream keeps no state another handler needs: events wait in the queue until a stream takes them.
 * It checks every few seconds (and before writing events) that its subscription is still the current
 * one; a newer SUBSCRIBE fails it over ("Framework failed over"), TEARDOWN ends it ("Framework has been
 * removed"). It ends itself before the maximum stream duration (the Lambda response cap); the client
 * resubscribes. When it ends for any reason but a failover, the framework is marked disconnected and
 * its reconnect grace starts.
 */
import type { FrameworkInfo, MasterInfo } from '../../shared/protocol/mesos.js';
import { parseMessageBody } from '../../shared/protocol/internal.js';
import { EventSchema, type Event } from '../../shared/protocol/scheduler.js';
import { encodeRecord } from '../../shared/protocol/recordio.js';
import type { ReceivedMessage } from '../../shared/queues/queues.js';
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

type Verdict = 'current' | 'failed-over' | 'removed' | 'deactivated';

async function subscriptionVerdict(master: Master, frameworkId: string, streamId: string): Promise<Verdict> {
  const framework = await master.registrar.frameworks.get(frameworkId);
  if (!framework || framework.status === 'REMOVED') return 'removed';
  if (framework.streamId === streamId) return 'current';
  // No subscription at all: it was deactivated (the sweeper thought this stream dead). Not an error
  // for the client, which resubscribes; a different stream id is a failover.
  return framework.streamId === undefined ? 'deactivated' : 'failed-over';
}

export function subscriptionStream(master: Master, options: StreamOptions): ReadableStream<Uint8Array> {
  const { frameworkId, streamId, eventQueueUrl } = options;
  const { config, queues, logger, metrics } = master;
  const abort = new AbortController();
  const log = logger.createChild({ persistentKeys: { frameworkId, streamId } });
  let stopped = false;
  let inFlight: ReceivedMessage[] = [];

  const heartbeatMs = config.heartbeatIntervalSeconds * 1000;
  const checkMs = config.streamCheckSeconds * 1000;

  async function run(controller: ReadableStreamDefaultController<Uint8Array>): Promise<void> {
    const startedAt = master.now();
    const deadline = startedAt + config.maxStreamSeconds * 1000;
    let nextHeartbeat = startedAt + heartbeatMs;
    let nextCheck = startedAt + checkMs;
    let failures = 0;
    let endedBy: Exclude<Verdict, 'current'> | 'deadline' | 'client' | 'error' = 'client';
    const send = (event: Event) => {
      controller.enqueue(record(event));
      metrics.increment(`master/frameworks/events/${event.type}`);
    };

    send({
      type: 'SUBSCRIBED',
      subscribed: {
        framework_id: { value: frameworkId },
        heartbeat_interval_seconds: config.heartbeatIntervalSeconds,
        master_info: options.masterInfo,
      },
    });
    send({ type: 'HEARTBEAT' });

    while (!stopped) {
      const now = master.now();
      if (now >= deadline) {
        endedBy = 'deadline';
        break;
      }
      try {
        if (now >= nextCheck) {
          const verdict = await subscriptionVerdict(master, frameworkId, streamId);
          if (verdict !== 'current') {
            endedBy = verdict;
            break;
          }
          nextCheck = master.now() + checkMs;
        }
        const waitMs = Math.max(0, Math.min(nextHeartbeat, nextCheck, deadline) - master.now());
        inFlight = await queues.receive(eventQueueUrl, {
          waitSeconds: Math.min(20, Math.floor(waitMs / 1000)),
          max: 10,
          visibilityTimeoutSeconds: 30,
          abortSignal: abort.signal,
        });
        if (inFlight.length > 0) {
          // Events go only to the current subscription: a failed-over stream hands them back.
          const verdict = await subscriptionVerdict(master, frameworkId, streamId);
          if (verdict !== 'current') {
            endedBy = verdict;
            break;
          }
          nextCheck = master.now() + checkMs;
          for (const message of inFlight) {
            const event = parseMessageBody(EventSchema, message.body);
            if (event) send(event);
            else log.error('Dropping a malformed event from the framework queue', { messageId: message.messageId });
          }
          await queues.delete(
            eventQueueUrl,
            inFlight.map((message) => message.receiptHandle),
          );
          inFlight = [];
        }
        if (master.now() >= nextHeartbeat) {
          send({ type: 'HEARTBEAT' });
          nextHeartbeat = master.now() + heartbeatMs;
          // Say the stream is alive; a failed write means another subscription took over.
          if (!(await master.registrar.frameworks.touch(frameworkId, streamId))) nextCheck = 0;
        }
        failures = 0;
      } catch (error) {
        if (stopped) break;
        failures++;
        log.warn('Event stream step failed', { error: String(error), failures });
        if (failures >= 5) {
          endedBy = 'error';
          break;
        }
        await new Promise((resolve) => setTimeout(resolve, 200 * failures));
      }
    }

    if (inFlight.length > 0) {
      await queues
        .release(
          eventQueueUrl,
          inFlight.map((message) => message.receiptHandle),
        )
        .catch(() => undefined);
      inFlight = [];
    }
    if (endedBy === 'failed-over') {
      safeEnqueue(controller, record({ type: 'ERROR', error: { message: 'Framework failed over' } }));
    } else if (endedBy === 'removed') {
      safeEnqueue(controller, record({ type: 'ERROR', error: { message: 'Framework has been removed' } }));
    } else if (endedBy !== 'deactivated') {
      // The reconnect grace starts; only the current stream can start it (the registrar checks).
      const disconnected = await master.registrar.frameworks.disconnect(frameworkId, streamId).catch(() => undefined);
      if (disconnected?.ok) metrics.increment('master/frameworks_disconnected_total');
    }
    log.info('Subscription stream ended', { endedBy, seconds: Math.round((master.now() - startedAt) / 1000) });
    if (!stopped) {
      stopped = true;
      try {
        controller.close();
      } catch {
        // The client already went away.
      }
    }
  }

  return new ReadableStream<Uint8Array>({
    start(controller) {
      void run(controller).catch((error: unknown) => {
        log.error('Subscription stream crashed', { error: String(error) });
        try {
          controller.error(error);
        } catch {
          // Already closed.
        }
      });
    },
    cancel() {
      // The client closed the connection.
      stopped = true;
      abort.abort();
    },
  });
}

function safeEnqueue(controller: ReadableStreamDefaultController<Uint8Array>, chunk: Uint8Array): void {
  try {
    controller.enqueue(chunk);
  } catch {
    // The client is gone; nothing to tell it.
  }
}
