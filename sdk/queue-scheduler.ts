/**
 * A queue-delivered framework (docs/scheduler-api.md, "Queue-delivered frameworks"): it subscribes once with
 * `Mantle-Event-Delivery: queue; name=<name>`, and its events arrive on a named SQS FIFO queue that a handler — a
 * Lambda SQS event source in AWS, the local cluster's poller locally — hands to `handleRecords`. No process stays
 * up and no stream stays open. Keeping the framework id and stream id between handler runs (`resume`) is the
 * framework's business (its own store); reconciliation after each (re)subscription is on by default, since a
 * handler does not know what happened while none ran. Each event is handled in the log scope of the ids its message
 * carries (`logContext()`: correlation_id, framework_id, task_id, agent_id; docs/operator.md, "Logs").
 */
import type { FrameworkInfo, MasterInfo } from '#shared/protocol/mesos.js';
import {
  EVENT_DELIVERY_HEADER,
  EVENT_QUEUE_URL_HEADER,
  EventSchema,
  type Call,
  type Event,
} from '#shared/protocol/scheduler.js';
import { CallError, masterUrl, postCall, requestHeaders, SchedulerCalls, type ConnectionOptions } from './calls.js';
import { groupBy } from '#shared/collections.js';
import { inLogContext } from '#shared/log-context.js';
import { fromMessageAttributes, type ReceivedAttribute } from '#shared/queues/attributes.js';
import { dispatchEvent, type SchedulerCallbacks } from './events.js';
import { frameworkPendingReasons, type PendingReason } from './pending.js';

export { CallError, inProcess, type Fetch } from './calls.js';
export { logContext, type LogContext } from '#shared/log-context.js';

/** A queue-delivered framework's callbacks (`disconnected` never comes: there is no stream). */
export type QueueFramework = SchedulerCallbacks<QueueScheduler>;

export interface QueueSchedulerOptions extends ConnectionOptions {
  readonly framework: FrameworkInfo;
  /** Resubscribe this framework (a handler that restarted, with the id from the framework's store). */
  readonly frameworkId?: string;
  /** The name its queue is known by (1 to 40 of a-z, 0-9 and '-'); unique per principal. */
  readonly name: string;
  readonly suppressedRoles?: readonly string[];
  /** Acknowledge updates once statusUpdate returns (default true). */
  readonly autoAcknowledge?: boolean;
  /** Implicit reconciliation after each subscribe() (default true). */
  readonly reconcileOnSubscribe?: boolean;
  /**
   * Handle a batch's consecutive UPDATEs of different tasks at once (default false): `update` must then be safe
   * to run concurrently. A task's own updates keep their order.
   */
  readonly concurrentUpdates?: boolean;
  /** Told of each record dropped as not this framework's or not an event (default: nothing). */
  readonly onDropped?: (record: QueueRecord, why: string) => void;
}

/** What SUBSCRIBE answered: persist it to resume() in the next handler. */
export interface QueueSubscription {
  readonly frameworkId: string;
  readonly streamId: string;
  readonly queueUrl: string;
  readonly masterInfo?: MasterInfo;
}

/** The part of an SQS record (aws-lambda's SQSRecord) that is read. */
export interface QueueRecord {
  readonly messageId: string;
  readonly body: string;
  readonly attributes?: { readonly MessageGroupId?: string };
  /** The ids the master sent with the event (none from an older master). */
  readonly messageAttributes?: Readonly<Record<string, ReceivedAttribute>>;
}

export interface BatchResponse {
  readonly batchItemFailures: Array<{ itemIdentifier: string }>;
}

export class QueueScheduler extends SchedulerCalls {
  /** The master's base URL. */
  readonly master: string;
  private current: { frameworkId?: string; streamId?: string; queueUrl?: string; tornDown?: boolean } = {};

  constructor(
    private readonly callbacks: QueueFramework,
    private readonly options: QueueSchedulerOptions,
  ) {
    super();
    this.master = masterUrl('QueueScheduler', options);
    this.current = options.frameworkId ? { frameworkId: options.frameworkId } : {};
  }

  get frameworkId(): string | undefined {
    return this.current.frameworkId;
  }

  get streamId(): string | undefined {
    return this.current.streamId;
  }

  get queueUrl(): string | undefined {
    return this.current.queueUrl;
  }

  /** Takes up a subscription that an earlier handler made (from the framework's store); no request. */
  resume(subscription: Pick<QueueSubscription, 'frameworkId' | 'streamId'> & { queueUrl?: string }): void {
    this.current = { ...subscription };
  }

  /**
   * Subscribes (or resubscribes, with the framework id it has) by queue; calls `subscribed`, then reconciles every
   * task (unless reconcileOnSubscribe is off). Throws a CallError when the master refuses.
   */
  async subscribe(): Promise<QueueSubscription> {
    const { frameworkId } = this.current;
    const info = frameworkId ? { ...this.options.framework, id: { value: frameworkId } } : this.options.framework;
    const suppressed = this.options.suppressedRoles;
    const response = await (this.options.fetch ?? fetch)(`${this.master}/api/v1/scheduler`, {
      method: 'POST',
      headers: { ...requestHeaders(this.options), [EVENT_DELIVERY_HEADER]: `queue; name=${this.options.name}` },
      body: JSON.stringify({
        type: 'SUBSCRIBE',
        ...(frameworkId ? { framework_id: { value: frameworkId } } : {}),
        subscribe: { framework_info: info, ...(suppressed ? { suppressed_roles: [...suppressed] } : {}) },
      }),
    });
    const queueUrl = response.headers.get(EVENT_QUEUE_URL_HEADER);
    if (response.status === 200 && !queueUrl) {
      // A master without the extension (Mesos) opens a stream instead, which would never end: leave it.
      await response.body?.cancel();
      throw new CallError(200, `The master answered with no ${EVENT_QUEUE_URL_HEADER}: no queue delivery`, 'SUBSCRIBE');
    }
    const body = await response.text();
    if (response.status !== 200) throw new CallError(response.status, body, 'SUBSCRIBE');
    const event = EventSchema.parse(JSON.parse(body));
    const streamId = response.headers.get('mesos-stream-id');
    const id = event.subscribed?.framework_id.value;
    if (event.type !== 'SUBSCRIBED' || !id || !streamId || !queueUrl) {
      throw new CallError(response.status, body, 'SUBSCRIBE');
    }
    const masterInfo = event.subscribed?.master_info;
    this.current = { frameworkId: id, streamId, queueUrl };
    await dispatchEvent(this.callbacks, this, event);
    if (this.options.reconcileOnSubscribe ?? true) await this.reconcile();
    return { frameworkId: id, streamId, queueUrl, ...(masterInfo ? { masterInfo } : {}) };
  }

  /** Mantle's GET_PENDING_REASONS on this subscription: why the allocator offers the framework's roles nothing. */
  async pendingReasons(): Promise<PendingReason[]> {
    const { frameworkId, streamId } = this.current;
    if (!frameworkId || !streamId) throw new Error('QueueScheduler: not subscribed (subscribe() or resume() first)');
    return frameworkPendingReasons(this.options, { frameworkId, streamId });
  }

  async call(call: Omit<Call, 'framework_id'>): Promise<void> {
    const { frameworkId, streamId } = this.current;
    if (!frameworkId || !streamId) throw new Error('QueueScheduler: not subscribed (subscribe() or resume() first)');
    await postCall(this.options, this.master, { frameworkId, streamId }, call);
  }

  /**
   * Handles a batch of queue records in order and says which failed, as Lambda's ReportBatchItemFailures expects.
   * A record whose callback throws fails, and so does every later record of its message group (FIFO order: they
   * come back after it). Records of another framework (a predecessor under the same name) and records that are
   * not events are dropped. Without a subscription every record fails, to come back once there is one.
   *
   * With `concurrentUpdates`, a run of consecutive UPDATEs is handled at once, one chain per task (a task's
   * updates keep their order; a failed one fails the rest of its task's chain, and every later record of its
   * message group).
   */
  async handleRecords(records: readonly QueueRecord[]): Promise<BatchResponse> {
    const failures: Array<{ itemIdentifier: string }> = [];
    const failedGroups = new Set<string>();
    let run: QueueRecord[] = [];
    const runEvents = new Map<string, Event>();
    const flush = async (): Promise<void> => {
      for (const record of await this.handleUpdates(run, runEvents)) {
        failures.push({ itemIdentifier: record.messageId });
        failedGroups.add(groupOf(record));
      }
      run = [];
      runEvents.clear();
    };
    for (const record of records) {
      const event = this.admit(record, failedGroups, failures);
      if (!event) continue;
      if (this.options.concurrentUpdates && event.type === 'UPDATE' && !failedGroups.has(groupOf(record))) {
        run.push(record);
        runEvents.set(record.messageId, event);
        continue;
      }
      await flush();
      if (failedGroups.has(groupOf(record))) {
        failures.push({ itemIdentifier: record.messageId });
        continue;
      }
      try {
        await this.handleIn(record, event);
      } catch {
        failedGroups.add(groupOf(record));
        failures.push({ itemIdentifier: record.messageId });
      }
    }
    await flush();
    return { batchItemFailures: failures };
  }

  /** The record's event, when it is to be handled; a record refused here is failed or dropped (and told). */
  private admit(
    record: QueueRecord,
    failedGroups: ReadonlySet<string>,
    failures: Array<{ itemIdentifier: string }>,
  ): Event | undefined {
    const group = groupOf(record);
    if (failedGroups.has(group) || !this.current.streamId) {
      failures.push({ itemIdentifier: record.messageId });
      return undefined;
    }
    // The master groups a framework's events by its id, or (updates) by `<framework id>/<task digest>`.
    const owner = group.split('/')[0];
    if (group !== '' && owner !== this.current.frameworkId) {
      this.options.onDropped?.(record, `an event of framework ${owner}, not ${this.current.frameworkId}`);
      return undefined;
    }
    if (this.current.tornDown) {
      this.options.onDropped?.(record, 'the framework was torn down');
      return undefined;
    }
    const event = parseEvent(record.body);
    if (!event) this.options.onDropped?.(record, 'not a scheduler event');
    return event;
  }

  /** A run of UPDATE records, one chain per task at once; answers the records that failed. */
  private async handleUpdates(run: readonly QueueRecord[], events: ReadonlyMap<string, Event>): Promise<QueueRecord[]> {
    const chains = groupBy(run, (record) => events.get(record.messageId)?.update?.status.task_id.value ?? '');
    const failed = await Promise.all(
      [...chains.values()].map(async (chain) => {
        for (const [i, record] of chain.entries()) {
          try {
            await this.handleIn(record, events.get(record.messageId) as Event);
          } catch {
            return chain.slice(i);
          }
        }
        return [];
      }),
    );
    return failed.flat();
  }

  /** Handles a record's event in the log scope of the ids it carries. */
  private handleIn(record: QueueRecord, event: Event): Promise<void> {
    return inLogContext(fromMessageAttributes(record.messageAttributes), () => this.handle(event));
  }

  /** TEARDOWN; the events still queued for the framework are dropped from then on (nothing can answer them). */
  override async teardown(): Promise<void> {
    await super.teardown();
    this.current = { ...this.current, tornDown: true };
  }

  /** An SQS event handler (for Lambda's event source with ReportBatchItemFailures, or the local poller). */
  handler(): (event: { Records: readonly QueueRecord[] }) => Promise<BatchResponse> {
    return (event) => this.handleRecords(event.Records);
  }

  /** One event: its callback, then (for an update) its acknowledgement — a failed one fails the record. */
  private async handle(event: Event): Promise<void> {
    await dispatchEvent(this.callbacks, this, event);
    const status = event.type === 'UPDATE' ? event.update?.status : undefined;
    if (status && (this.options.autoAcknowledge ?? true)) await this.acknowledge(status);
  }
}

function groupOf(record: QueueRecord): string {
  return record.attributes?.MessageGroupId ?? '';
}

function parseEvent(body: string): Event | undefined {
  try {
    const parsed = EventSchema.safeParse(JSON.parse(body));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}
