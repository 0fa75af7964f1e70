/**
 * Delivering scheduler events to a framework (docs/scheduler-api.md, "SUBSCRIBE and event delivery"): every producer
 * (allocator, status handler, sweeper, API) puts Events on the framework's own FIFO queue, one message group per
 * framework, and the framework's open SUBSCRIBE stream drains it. Nothing in any handler's memory is needed to
 * deliver an event.
 */
import { randomUUID } from 'node:crypto';
import type { Event } from '#shared/protocol/scheduler.js';
import { MAX_MESSAGE_BYTES, type OutgoingMessage, type Queues } from '#shared/queues/queues.js';

export interface EventTarget {
  readonly frameworkId: string;
  readonly eventQueueUrl: string;
}

export interface EventPublisher {
  publish(target: EventTarget, events: readonly Event[]): Promise<void>;
}

/** Keeps each message well under SQS's limit, with room for the JSON envelope. */
const BUDGET = Math.floor(MAX_MESSAGE_BYTES * 0.9);

/** Splits an OFFERS event whose JSON would be too big for one message into several. */
export function splitEvent(event: Event): Event[] {
  const offers = event.offers?.offers;
  if (event.type !== 'OFFERS' || !offers || Buffer.byteLength(JSON.stringify(event)) <= BUDGET) return [event];
  const result: Event[] = [];
  let batch: typeof offers = [];
  let size = 0;
  for (const offer of offers) {
    const bytes = Buffer.byteLength(JSON.stringify(offer)) + 1;
    if (batch.length > 0 && size + bytes > BUDGET) {
      result.push({ type: 'OFFERS', offers: { offers: batch } });
      batch = [];
      size = 0;
    }
    batch.push(offer);
    size += bytes;
  }
  if (batch.length > 0) result.push({ type: 'OFFERS', offers: { offers: batch } });
  return result;
}

export class SqsEventPublisher implements EventPublisher {
  constructor(private readonly queues: Queues) {}

  async publish(target: EventTarget, events: readonly Event[]): Promise<void> {
    if (events.length === 0) return;
    if (!target.eventQueueUrl) throw new Error(`Framework ${target.frameworkId} has no event queue`);
    const messages: OutgoingMessage[] = events.flatMap(splitEvent).map((event) => ({
      body: event,
      groupId: target.frameworkId,
      deduplicationId: randomUUID(),
    }));
    await this.queues.send(target.eventQueueUrl, messages);
  }
}
