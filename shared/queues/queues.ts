/**
 * Mantle's SQS queues: names, creation, and the one send / receive / delete helper everything uses.
 *
 * | queue | kind | carries |
 * |---|---|---|
 * | `<cluster>-status.fifo` | FIFO, group = framework/task | agent -> master status updates |
 * | `<cluster>-allocation` | standard | allocation triggers (timers are delayed messages) |
 * | `<cluster>-heartbeats` | standard | agents' heartbeats (order does not matter; kept five minutes) |
 * | `<cluster>-agent-<digest>.fifo` | FIFO per agent, group = task | master -> agent commands |
 * | `<cluster>-fw-<digest>.fifo` | FIFO per framework, one group | the framework's events, drained by its stream |
 * | `<cluster>-fwq-<digest>.fifo` | FIFO per principal and name, group = framework | a queue-delivered framework's events |
 *
 * A receive is one request for up to ten messages: a long poll answers as soon as there are any (the stand-in too,
 * corrected by local/sqs-package.ts).
 */
import { createHash } from 'node:crypto';
import {
  ChangeMessageVisibilityBatchCommand,
  CreateQueueCommand,
  DeleteMessageBatchCommand,
  DeleteQueueCommand,
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  QueueDoesNotExist,
  QueueNameExists,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  SetQueueAttributesCommand,
  type Message,
  type MessageAttributeValue,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { chunks } from '../collections.js';
import { logContext, type LogContext } from '../log-context.js';
import { fromMessageAttributes, toMessageAttributes } from './attributes.js';
import { BatchSender, SQS_MAX_BATCH, type BatchEntry, type BatchSenderOptions } from './send-batches.js';

/** A cluster name: it prefixes every table and queue (SQS names stop at 80 characters). */
export function validateClusterName(name: string): string | undefined {
  return /^[a-z][a-z0-9-]{0,31}$/.test(name)
    ? undefined
    : `Cluster name '${name}' must be 1-32 characters of a-z, 0-9 and '-', starting with a letter`;
}

function digest(id: string): string {
  return createHash('sha256').update(id).digest('hex').slice(0, 24);
}

/**
 * The SQS endpoint of a queue URL that belongs to a local stand-in: plain HTTP on a loopback address
 * (real SQS URLs are https on amazonaws.com). Undefined for anything else.
 */
export function standInEndpoint(queueUrl: string): string | undefined {
  let url: URL;
  try {
    url = new URL(queueUrl);
  } catch {
    return undefined;
  }
  const loopback =
    /^127\.\d+\.\d+\.\d+$/.test(url.hostname) || url.hostname === 'localhost' || url.hostname === '[::1]';
  return url.protocol === 'http:' && loopback ? url.origin : undefined;
}

export const queueNames = {
  status: (cluster: string) => `${cluster}-status.fifo`,
  allocation: (cluster: string) => `${cluster}-allocation`,
  heartbeats: (cluster: string) => `${cluster}-heartbeats`,
  agentCommands: (cluster: string, agentId: string) => `${cluster}-agent-${digest(agentId)}.fifo`,
  frameworkEvents: (cluster: string, frameworkId: string) => `${cluster}-fw-${digest(frameworkId)}.fifo`,
  /**
   * A queue-delivered framework's queue (docs/scheduler-api.md, "Queue-delivered frameworks"): named by its principal
   * ("" without authentication) and the name it subscribes with, so that it is known before the framework exists
   * and a principal can only ever reach its own.
   */
  frameworkDelivery: (cluster: string, principal: string, name: string) =>
    `${cluster}-fwq-${digest(`${principal}/${name}`)}.fifo`,
  deadLetter: (name: string) => (name.endsWith('.fifo') ? `${name.slice(0, -5)}-dlq.fifo` : `${name}-dlq`),
  /** One dead-letter queue for all agents' command queues, one for all frameworks' event queues. */
  agentCommandsDeadLetter: (cluster: string) => `${cluster}-agent-dlq.fifo`,
  frameworkEventsDeadLetter: (cluster: string) => `${cluster}-fw-dlq.fifo`,
};

/** Receives of an agent's command or a framework's event before it is taken as poison (dead-lettered). */
export const RUNTIME_MAX_RECEIVES = 100;

/** What CDK's `enforceSSL` gives the stack's queues: any request not over TLS is denied. */
export function secureTransportPolicy(queueArn: string): string {
  return JSON.stringify({
    Version: '2012-10-17',
    Statement: [
      {
        Sid: 'SecureTransportOnly',
        Effect: 'Deny',
        Principal: '*',
        Action: 'sqs:*',
        Resource: queueArn,
        Condition: { Bool: { 'aws:SecureTransport': 'false' } },
      },
    ],
  });
}

export interface QueueOptions {
  readonly fifo?: boolean;
  readonly visibilityTimeoutSeconds?: number;
  /** Redrive to a dead-letter queue (created alongside) after this many receives. */
  readonly maxReceiveCount?: number;
  /** That dead-letter queue's name (default `queueNames.deadLetter(name)`); several queues may share one. */
  readonly deadLetterName?: string;
  /** Delete unreceived messages after this long (SQS default: 4 days). */
  readonly retentionSeconds?: number;
}

export interface OutgoingMessage {
  /** Serialized as JSON. */
  readonly body: unknown;
  /** FIFO queues: ordering scope (any string: sent as `fifoId(groupId)`). */
  readonly groupId?: string;
  /** FIFO queues: SQS drops a second message with the same id within 5 minutes (sent as `fifoId`). */
  readonly deduplicationId?: string;
  /** Standard queues: deliver later (timers), at most 900 s. */
  readonly delaySeconds?: number;
  /** The ids this message is about; with those of the sender's scope, they go as its message attributes. */
  readonly context?: LogContext;
}

export interface ReceivedMessage {
  readonly messageId: string;
  readonly receiptHandle: string;
  readonly body: string;
  readonly receiveCount: number;
  readonly groupId?: string;
  /** The ids its message attributes carry (none from an older sender). */
  readonly context?: LogContext;
}

/** SQS's rule for MessageGroupId and MessageDeduplicationId: 1 to 128 characters of [!-~]. */
const FIFO_ID = /^[!-~]{1,128}$/;

/**
 * A group or deduplication id SQS takes, for any value: the value itself when it fits (readable in
 * the console), else a digest of it. Task ids may be 255 characters of any Unicode but '/' and '\', so
 * `framework/task` often does not fit; the digest keeps distinct values distinct.
 */
export function fifoId(value: string): string {
  return FIFO_ID.test(value) ? value : `sha256-${createHash('sha256').update(value).digest('base64url')}`;
}
/** SQS refuses messages over 256 KiB; callers split their payloads below this. */
export const MAX_MESSAGE_BYTES = 256 * 1024;

function fromSqs(message: Message): ReceivedMessage {
  const attributes = message.Attributes ?? {};
  return {
    messageId: message.MessageId ?? '',
    receiptHandle: message.ReceiptHandle ?? '',
    body: message.Body ?? '',
    receiveCount: Number(attributes.ApproximateReceiveCount ?? '1'),
    ...(attributes.MessageGroupId ? { groupId: attributes.MessageGroupId } : {}),
    context: fromMessageAttributes(message.MessageAttributes),
  };
}

function messageAttributes(ids: LogContext): { MessageAttributes?: Record<string, MessageAttributeValue> } {
  const attributes = toMessageAttributes(ids);
  return Object.keys(attributes).length > 0 ? { MessageAttributes: attributes } : {};
}

export class Queues {
  private readonly urls = new Map<string, string>();

  private readonly batches: BatchSender;

  /** `sending` shapes the shared batches (send-batches.ts): the agent's gather what one turn hands over. */
  constructor(
    private readonly sqs: SQSClient,
    sending: BatchSenderOptions = {},
  ) {
    this.batches = new BatchSender((url, entries) => this.sendBatch(url, entries), sending);
  }

  /**
   * Creates the queue (and its dead-letter queue) if needed, with a policy that denies requests not over
   * TLS (as the stack's own queues have); returns its URL. Idempotent. A queue that already exists is used
   * as it is, whatever its attributes (the CDK stack creates some queues the master also ensures).
   */
  async ensure(name: string, options: QueueOptions = {}): Promise<string> {
    const known = this.urls.get(name) ?? (await this.existing(name));
    if (known) {
      this.urls.set(name, known);
      return known;
    }
    const fifo = options.fifo ?? name.endsWith('.fifo');
    const attributes: Record<string, string> = {
      ...(fifo ? { FifoQueue: 'true' } : {}),
      ...(options.visibilityTimeoutSeconds !== undefined
        ? { VisibilityTimeout: String(options.visibilityTimeoutSeconds) }
        : {}),
      ...(options.retentionSeconds !== undefined ? { MessageRetentionPeriod: String(options.retentionSeconds) } : {}),
    };
    if (options.maxReceiveCount !== undefined) {
      const dlqUrl = await this.ensure(options.deadLetterName ?? queueNames.deadLetter(name), {
        fifo,
        retentionSeconds: 14 * 24 * 3600,
      });
      const arn = await this.arn(dlqUrl);
      attributes.RedrivePolicy = JSON.stringify({ deadLetterTargetArn: arn, maxReceiveCount: options.maxReceiveCount });
    }
    const url = await this.create(name, attributes);
    const Policy = secureTransportPolicy(await this.arn(url));
    await this.sqs.send(new SetQueueAttributesCommand({ QueueUrl: url, Attributes: { Policy } }));
    this.urls.set(name, url);
    return url;
  }

  /** The URL of a queue that exists, or undefined. */
  private async existing(name: string): Promise<string | undefined> {
    try {
      return (await this.sqs.send(new GetQueueUrlCommand({ QueueName: name }))).QueueUrl;
    } catch (error) {
      if (error instanceof QueueDoesNotExist) return undefined;
      throw error;
    }
  }

  /** Creates a queue; one created meanwhile with other attributes (a race, or drift) is used as it is. */
  private async create(name: string, attributes: Record<string, string>): Promise<string> {
    try {
      const created = await this.sqs.send(new CreateQueueCommand({ QueueName: name, Attributes: attributes }));
      if (!created.QueueUrl) throw new Error(`SQS returned no URL for queue ${name}`);
      return created.QueueUrl;
    } catch (error) {
      if (!(error instanceof QueueNameExists)) throw error;
      const url = await this.existing(name);
      if (!url) throw error;
      return url;
    }
  }

  async arn(url: string): Promise<string> {
    const result = await this.sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['QueueArn'] }));
    const arn = result.Attributes?.QueueArn;
    if (!arn) throw new Error(`SQS returned no ARN for ${url}`);
    return arn;
  }

  async depth(url: string): Promise<number> {
    const result = await this.sqs.send(
      new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['ApproximateNumberOfMessages'] }),
    );
    return Number(result.Attributes?.ApproximateNumberOfMessages ?? 0);
  }

  async remove(url: string): Promise<void> {
    try {
      await this.sqs.send(new DeleteQueueCommand({ QueueUrl: url }));
    } catch (error) {
      if (!(error instanceof QueueDoesNotExist)) throw error;
    }
    for (const [name, known] of this.urls) if (known === url) this.urls.delete(name);
  }

  /**
   * Sends messages, sharing batches with other callers sending to the same queue meanwhile (send-batches.ts); throws
   * if SQS refuses any of them (nothing is silently dropped). Each carries the ids of the sender's log scope and its
   * own as message attributes.
   */
  async send(url: string, messages: readonly OutgoingMessage[]): Promise<void> {
    const scope = logContext();
    await this.batches.send(
      url,
      messages.map((message) => ({
        MessageBody: JSON.stringify(message.body),
        ...(message.groupId !== undefined ? { MessageGroupId: fifoId(message.groupId) } : {}),
        ...(message.deduplicationId !== undefined ? { MessageDeduplicationId: fifoId(message.deduplicationId) } : {}),
        ...(message.delaySeconds ? { DelaySeconds: Math.min(900, Math.ceil(message.delaySeconds)) } : {}),
        ...messageAttributes({ ...scope, ...message.context }),
      })),
    );
  }

  private async sendBatch(url: string, entries: readonly BatchEntry[]): Promise<ReadonlyMap<number, string>> {
    const result = await this.sqs.send(
      new SendMessageBatchCommand({ QueueUrl: url, Entries: entries.map((entry, i) => ({ ...entry, Id: String(i) })) }),
    );
    return new Map((result.Failed ?? []).map((failed) => [Number(failed.Id), `${failed.Code} ${failed.Message}`]));
  }

  /**
   * Receives up to `max` messages, waiting up to `waitSeconds` for the first: one long poll (one billed request,
   * however many come), answered as soon as there are any.
   */
  async receive(
    url: string,
    options: { waitSeconds: number; max?: number; visibilityTimeoutSeconds?: number; abortSignal?: AbortSignal },
  ): Promise<ReceivedMessage[]> {
    const received = await this.sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: url,
        // The stand-in returns system attributes only for the legacy parameter; send both.
        AttributeNames: ['All' as const],
        MessageSystemAttributeNames: ['All' as const],
        MessageAttributeNames: ['All'],
        MaxNumberOfMessages: Math.min(SQS_MAX_BATCH, options.max ?? SQS_MAX_BATCH),
        WaitTimeSeconds: options.waitSeconds,
        ...(options.visibilityTimeoutSeconds !== undefined
          ? { VisibilityTimeout: options.visibilityTimeoutSeconds }
          : {}),
      }),
      options.abortSignal ? { abortSignal: options.abortSignal } : {},
    );
    return (received.Messages ?? []).map(fromSqs);
  }

  /** Deletes received messages, in batches of 10 sent at once. */
  async delete(url: string, receiptHandles: readonly string[]): Promise<void> {
    await Promise.all(chunks(receiptHandles, SQS_MAX_BATCH).map((batch) => this.deleteBatch(url, batch)));
  }

  private async deleteBatch(url: string, batch: readonly string[]): Promise<void> {
    const result = await this.sqs.send(
      new DeleteMessageBatchCommand({
        QueueUrl: url,
        Entries: batch.map((handle, i) => ({ Id: String(i), ReceiptHandle: handle })),
      }),
    );
    // A receipt that expired meanwhile means the message was redelivered: it is not ours to delete. SQS says so
    // as ReceiptHandleIsInvalid, or on a FIFO queue as InvalidParameterValue "...The receipt handle has expired".
    const failed = (result.Failed ?? []).filter(
      (entry) =>
        entry.Code !== 'ReceiptHandleIsInvalid' &&
        !(entry.Code === 'InvalidParameterValue' && /receipt handle has expired/i.test(entry.Message ?? '')),
    );
    if (failed.length > 0) throw new Error(`SQS could not delete ${failed.length} message(s) from ${url}`);
  }

  /** Makes received messages visible again at once (handing them back for another consumer). */
  async release(url: string, receiptHandles: readonly string[]): Promise<void> {
    for (const batch of chunks(receiptHandles, SQS_MAX_BATCH)) {
      await this.sqs.send(
        new ChangeMessageVisibilityBatchCommand({
          QueueUrl: url,
          Entries: batch.map((handle, i) => ({ Id: String(i), ReceiptHandle: handle, VisibilityTimeout: 0 })),
        }),
      );
    }
  }
}
