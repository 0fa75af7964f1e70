/**
 * Delivering scheduler events to a framework (docs/scheduler-api.md, "SUBSCRIBE and event delivery"): every producer
 * (allocator, status handler, sweeper, API) puts Events on the framework's own FIFO queue, one message group per
 * framework, and the framework's open SUBSCRIBE stream drains it. Nothing in any handler's memory is needed to
 * deliver an event. A queue-delivered framework's updates go one group per task instead (eventGroup).
 */
import { createHash, randomUUID } from 'node:crypto';
import type { LogContext } from '#shared/log-context.js';
import type { Event } from '#shared/protocol/scheduler.js';
import { MAX_MESSAGE_BYTES, type OutgoingMessage, type Queues } from '#shared/queues/queues.js';

export interface EventTarget {
  readonly frameworkId: string;
  readonly eventQueueUrl: string;
  /** How the framework takes its events (a stream when not said). */
  readonly delivery?: 'stream' | 'queue';
}

/** SQS's bound on a MessageGroupId (and its characters: [!-~]). */
const GROUP_ID = /^[!-~]{1,128}$/;

/**
 * The message group of an event. One per framework keeps its events in order; but a queue-delivered framework's
 * handlers (Lambda's FIFO event source) run one message group at a time, so there a task's updates get a group of
 * their own, `<framework id>/<digest of the task id>`: each task's updates stay in order, different tasks' are
 * handled at once, and offers are not held up behind updates. Mesos orders updates per task only, too.
 */
export function eventGroup(target: EventTarget, event: Event): string {
  const task = event.type === 'UPDATE' ? event.update?.status.task_id.value : undefined;
  if (target.delivery !== 'queue' || task === undefined) return target.frameworkId;
  const group = `${target.frameworkId}/${createHash('sha256').update(task).digest('base64url').slice(0, 22)}`;
  return GROUP_ID.test(group) ? group : target.frameworkId;
}

/** The ids an event is about, for its message attributes and the logs: the framework's, and an update's task and agent. */
export function eventContext(frameworkId: string, event: Event): LogContext {
  const status = event.type === 'UPDATE' ? event.update?.status : undefined;
  return {
    framework_id: frameworkId,
    ...(status ? { task_id: status.task_id.value } : {}),
    ...(status?.agent_id ? { agent_id: status.agent_id.value } : {}),
  };
}

export interface EventPublisher {
  /** `scopes[i]`, when given, holds the ids event i's message carries besides its own (its cause's correlation id). */
  publish(target: EventTarget, events: readonly Event[], scopes?: readonly LogContext[]): Promise<void>;
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

  async publish(target: EventTarget, events: readonly Event[], scopes?: readonly LogContext[]): Promise<void> {
    if (events.length === 0) return;
    if (!target.eventQueueUrl) throw new Error(`Framework ${target.frameworkId} has no event queue`);
    const messages: OutgoingMessage[] = events.flatMap((whole, index) =>
      splitEvent(whole).map((event) => ({
        body: event,
        groupId: eventGroup(target, event),
        deduplicationId: randomUUID(),
        context: { ...scopes?.[index], ...eventContext(target.frameworkId, event) },
      })),
    );
    await this.queues.send(target.eventQueueUrl, messages);
  }
}
