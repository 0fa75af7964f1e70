/**
 * How a framework receives its events (docs/scheduler-api.md). By default a SUBSCRIBE opens a RecordIO stream that
 * drains the framework's own event queue, as Mesos streams. A framework that asks for queue delivery with the
 * `Mantle-Event-Delivery: queue; name=<slug>` header (a Mantle extension) gets its events on a named FIFO queue
 * instead — `<cluster>-fwq-<digest(principal/slug)>.fifo`, known before the framework exists, so that a Lambda
 * event source (or the local cluster's poller) consumes it — and SUBSCRIBE answers at once with the SUBSCRIBED
 * event as JSON. Everything else about SUBSCRIBE is the same for both.
 */
import { EVENT_DELIVERY_HEADER, EVENT_QUEUE_URL_HEADER, type Event } from '#shared/protocol/scheduler.js';
import { queueNames, RUNTIME_MAX_RECEIVES, type QueueOptions } from '#shared/queues/queues.js';
import { ok, type Result } from '#shared/result.js';
import type { Master } from '../master/master.js';
import { errorStream, subscriptionStream, type StreamOptions } from './stream.js';

/** A queue-delivered framework's name: part of its queue's name, unique per principal. */
const SLUG = /^[a-z0-9-]{1,40}$/;

/** How SUBSCRIBE creates the framework's event queue, and what it answers. */
export interface EventDelivery<R> {
  /** Recorded on the framework: a queue-delivered framework is never deactivated for lack of a stream. */
  readonly kind: 'stream' | 'queue';
  /** The event queue: `principal` is the authenticated caller's ("" with authentication off). */
  queue(cluster: string, frameworkId: string, principal: string): { name: string; options: QueueOptions };
  /** SUBSCRIBE was refused (Mesos: an ERROR event and the end of the stream). */
  refused(streamId: string, message: string): R;
  /** The framework is subscribed. */
  opened(master: Master, options: StreamOptions): R;
}

export interface StreamSubscription {
  readonly streamId: string;
  readonly body: ReadableStream<Uint8Array>;
}

/** Events received too often (poison) go to the cluster's one dead-letter queue for framework events. */
function deadLetters(cluster: string): QueueOptions {
  return { maxReceiveCount: RUNTIME_MAX_RECEIVES, deadLetterName: queueNames.frameworkEventsDeadLetter(cluster) };
}

/** Mesos's delivery: a RecordIO stream draining the framework's own queue (`<cluster>-fw-<digest(id)>.fifo`). */
export const streamDelivery: EventDelivery<StreamSubscription> = {
  kind: 'stream',
  queue: (cluster, frameworkId) => ({
    name: queueNames.frameworkEvents(cluster, frameworkId),
    options: { visibilityTimeoutSeconds: 30, retentionSeconds: 24 * 3600, ...deadLetters(cluster) },
  }),
  refused: (streamId, message) => ({ streamId, body: errorStream(message) }),
  opened: (master, options) => ({ streamId: options.streamId, body: subscriptionStream(master, options) }),
};

export type QueueSubscription =
  | { readonly ok: true; readonly streamId: string; readonly eventQueueUrl: string; readonly subscribed: Event }
  | { readonly ok: false; readonly message: string };

/** Queue delivery: events go to the named queue, which the framework's handler consumes. */
export function queueDelivery(name: string): EventDelivery<QueueSubscription> {
  return {
    kind: 'queue',
    queue: (cluster, _frameworkId, principal) => ({
      name: queueNames.frameworkDelivery(cluster, principal, name),
      // A handler may be away for a while (a deploy, an outage): its events wait longer than a stream's.
      options: { visibilityTimeoutSeconds: 60, retentionSeconds: 4 * 24 * 3600, ...deadLetters(cluster) },
    }),
    refused: (_streamId, message) => ({ ok: false, message }),
    opened: (_master, options) => ({
      ok: true,
      streamId: options.streamId,
      eventQueueUrl: options.eventQueueUrl,
      subscribed: {
        type: 'SUBSCRIBED',
        // No heartbeats: there is no connection to watch.
        subscribed: { framework_id: { value: options.frameworkId }, master_info: options.masterInfo },
      },
    }),
  };
}

/** The answer to a queue-delivered SUBSCRIBE: the SUBSCRIBED event as JSON, or why it was refused (400). */
export function queueSubscriptionResponse(result: QueueSubscription): Response {
  if (!result.ok) {
    return new Response(result.message, { status: 400, headers: { 'Content-Type': 'text/plain; charset=utf-8' } });
  }
  return new Response(JSON.stringify(result.subscribed), {
    status: 200,
    headers: {
      'Content-Type': 'application/json',
      'Mesos-Stream-Id': result.streamId,
      [EVENT_QUEUE_URL_HEADER]: result.eventQueueUrl,
      'Cache-Control': 'no-cache',
    },
  });
}

/**
 * The delivery a SUBSCRIBE asks for (pure): none, or `queue; name=<slug>` (slug: 1 to 40 of a-z, 0-9 and '-').
 * Undefined is the default, a stream.
 */
export function parseDeliveryHeader(value: string | undefined): Result<string | undefined, string> {
  if (value === undefined) return ok(undefined);
  const invalid = (why: string) => ({ ok: false as const, error: `Invalid '${EVENT_DELIVERY_HEADER}' header: ${why}` });
  const [kind, ...parameters] = value.split(';').map((part) => part.trim());
  if (kind?.toLowerCase() !== 'queue') return invalid(`expecting 'queue; name=<name>', got '${value}'`);
  let name: string | undefined;
  for (const parameter of parameters) {
    const match = /^([A-Za-z]+)\s*=\s*(.*)$/.exec(parameter);
    if (match?.[1]?.toLowerCase() !== 'name' || name !== undefined) {
      return invalid(`unexpected parameter '${parameter}' (only one 'name' is allowed)`);
    }
    name = match[2] ?? '';
  }
  if (name === undefined) return invalid("missing 'name=<name>'");
  if (!SLUG.test(name)) return invalid(`name '${name}' must be 1 to 40 characters of a-z, 0-9 and '-'`);
  return ok(name);
}
