/**
 * The task log store on CloudWatch Logs (store.ts): one log group per cluster, one stream per sandbox
 * file (names.ts). The agents append with CreateLogStream and PutLogEvents; the master lists with
 * DescribeLogStreams and reads with GetLogEvents. The same client talks to the local cluster's stand-in
 * (local/logs-standin.ts) through an endpoint override.
 *
 * A file is its events' messages concatenated, so a byte offset is found by reading the stream from its
 * head, page by page. A reader remembers, per stream, the page tokens it has passed and the offsets they
 * start at, so a follower's next read (at the end it reached) costs one GetLogEvents call.
 */
import {
  CloudWatchLogsClient,
  CreateLogStreamCommand,
  DescribeLogStreamsCommand,
  GetLogEventsCommand,
  PutLogEventsCommand,
  type InputLogEvent,
} from '@aws-sdk/client-cloudwatch-logs';
import type { TaskLogEvent, TaskLogRead, TaskLogReader, TaskLogStream, TaskLogWriter } from './store.js';

export interface LogsClientOptions {
  readonly region?: string;
  /** A stand-in's endpoint (the local cluster's); absent: CloudWatch Logs of the region. */
  readonly endpoint?: string;
  readonly maxAttempts?: number;
}

// The stand-in accepts any credentials; AWS gets the SDK's default provider chain (the instance or function role).
const LOCAL_CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' };

export function createLogsClient(options: LogsClientOptions = {}): CloudWatchLogsClient {
  return new CloudWatchLogsClient({
    region: options.region ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? 'us-east-1',
    ...(options.maxAttempts ? { maxAttempts: options.maxAttempts } : {}),
    ...(options.endpoint ? { endpoint: options.endpoint, credentials: LOCAL_CREDENTIALS } : {}),
  });
}

/** The part of the client the store uses (tests inject faults through it). */
export type LogsSender = Pick<CloudWatchLogsClient, 'send'>;

/** PutLogEvents' limits: 10,000 events and 1 MiB a call, counting 26 bytes per event. */
export const MAX_BATCH_EVENTS = 10_000;
export const MAX_BATCH_BYTES = 1_048_576;
const EVENT_OVERHEAD = 26;

function errorName(error: unknown): string {
  return (error as { name?: string }).name ?? '';
}

/** Splits events into PutLogEvents calls within the limits. */
export function putBatches(events: readonly TaskLogEvent[]): InputLogEvent[][] {
  const batches: InputLogEvent[][] = [];
  let batch: InputLogEvent[] = [];
  let bytes = 0;
  for (const event of events) {
    const size = Buffer.byteLength(event.message, 'utf8') + EVENT_OVERHEAD;
    if (batch.length > 0 && (batch.length === MAX_BATCH_EVENTS || bytes + size > MAX_BATCH_BYTES)) {
      batches.push(batch);
      batch = [];
      bytes = 0;
    }
    batch.push({ timestamp: event.timestamp, message: event.message });
    bytes += size;
  }
  if (batch.length > 0) batches.push(batch);
  return batches;
}

/** The agents' side: streams are created on first use (and again if one was deleted). */
export class CloudWatchTaskLogWriter implements TaskLogWriter {
  /** Streams known to exist; forgotten wholesale past a bound (a re-create is harmless). */
  private readonly created = new Set<string>();

  constructor(
    private readonly client: LogsSender,
    readonly logGroup: string,
  ) {}

  async append(stream: string, events: readonly TaskLogEvent[]): Promise<void> {
    for (const batch of putBatches(events)) await this.put(stream, batch);
  }

  private async put(stream: string, logEvents: InputLogEvent[]): Promise<void> {
    if (!this.created.has(stream)) await this.createStream(stream);
    const command = new PutLogEventsCommand({ logGroupName: this.logGroup, logStreamName: stream, logEvents });
    try {
      await this.client.send(command);
    } catch (error) {
      if (errorName(error) !== 'ResourceNotFoundException') throw error;
      await this.createStream(stream);
      await this.client.send(command);
    }
  }

  private async createStream(stream: string): Promise<void> {
    try {
      await this.client.send(new CreateLogStreamCommand({ logGroupName: this.logGroup, logStreamName: stream }));
    } catch (error) {
      if (errorName(error) !== 'ResourceAlreadyExistsException') throw error;
    }
    if (this.created.size >= 10_000) this.created.clear();
    this.created.add(stream);
  }
}

/** Where a page token starts reading: the byte offset of the first event it returns. */
interface Checkpoint {
  readonly at: number;
  readonly token: string;
}

const MAX_CHECKPOINTS_PER_STREAM = 64;
const MAX_STREAMS_REMEMBERED = 1_000;
/** GetLogEvents calls one read may make (each returns up to 1 MB). */
const MAX_PAGES_PER_READ = 200;

/** The master's side. */
export class CloudWatchTaskLogReader implements TaskLogReader {
  private readonly checkpoints = new Map<string, Checkpoint[]>();

  constructor(
    private readonly client: LogsSender,
    readonly logGroup: string,
  ) {}

  async list(prefix: string, limit = 50): Promise<TaskLogStream[]> {
    const streams: TaskLogStream[] = [];
    let nextToken: string | undefined;
    do {
      let page;
      try {
        page = await this.client.send(
          new DescribeLogStreamsCommand({
            logGroupName: this.logGroup,
            logStreamNamePrefix: prefix,
            limit: Math.min(50, limit - streams.length),
            ...(nextToken ? { nextToken } : {}),
          }),
        );
      } catch (error) {
        if (errorName(error) === 'ResourceNotFoundException') return [];
        throw error;
      }
      for (const stream of page.logStreams ?? []) {
        if (!stream.logStreamName) continue;
        streams.push({
          name: stream.logStreamName,
          createdAt: stream.creationTime ?? 0,
          ...(stream.lastEventTimestamp !== undefined ? { lastEventAt: stream.lastEventTimestamp } : {}),
        });
      }
      nextToken = page.nextToken;
    } while (nextToken && streams.length < limit);
    return streams;
  }

  async read(stream: string, offset: number, length: number): Promise<TaskLogRead | undefined> {
    const scanned = await this.scan(stream, offset, length);
    return scanned && { data: scanned.data, end: scanned.end };
  }

  async size(stream: string): Promise<number | undefined> {
    const scanned = await this.scan(stream, Number.MAX_SAFE_INTEGER, 0);
    if (scanned && !scanned.end) throw new Error(`The stream ${stream} is too long to measure in one request`);
    return scanned?.position;
  }

  /** Reads pages from the nearest checkpoint at or before `offset` until `length` bytes or the end. */
  private async scan(
    stream: string,
    offset: number,
    length: number,
  ): Promise<{ data: Buffer; end: boolean; position: number } | undefined> {
    const start = this.checkpointBefore(stream, offset);
    let position = start?.at ?? 0;
    let token = start?.token;
    const chunks: Buffer[] = [];
    let collected = 0;
    for (let pages = 0; pages < MAX_PAGES_PER_READ; pages++) {
      const page = await this.page(stream, token);
      if (!page) return undefined;
      for (const message of page.messages) {
        const bytes = Buffer.from(message, 'utf8');
        const from = Math.max(0, offset - position);
        const to = Math.min(bytes.length, offset + length - position);
        if (to > from) {
          chunks.push(bytes.subarray(from, to));
          collected += to - from;
        }
        position += bytes.length;
      }
      const end = page.next === undefined || page.next === token;
      if (page.next) this.remember(stream, { at: position, token: page.next });
      token = page.next;
      if (end || (length > 0 && collected >= length)) return { data: Buffer.concat(chunks), end, position };
    }
    return { data: Buffer.concat(chunks), end: false, position };
  }

  private async page(
    stream: string,
    token: string | undefined,
  ): Promise<{ messages: string[]; next?: string } | undefined> {
    try {
      const page = await this.client.send(
        new GetLogEventsCommand({
          logGroupName: this.logGroup,
          logStreamName: stream,
          startFromHead: true,
          ...(token ? { nextToken: token } : {}),
        }),
      );
      const messages = (page.events ?? []).map((event) => event.message ?? '');
      return { messages, ...(page.nextForwardToken ? { next: page.nextForwardToken } : {}) };
    } catch (error) {
      if (errorName(error) === 'ResourceNotFoundException') return undefined;
      throw error;
    }
  }

  private checkpointBefore(stream: string, offset: number): Checkpoint | undefined {
    const known = this.checkpoints.get(stream);
    if (!known) return undefined;
    // Most recently used streams last: a Map keeps insertion order.
    this.checkpoints.delete(stream);
    this.checkpoints.set(stream, known);
    let best: Checkpoint | undefined;
    for (const checkpoint of known)
      if (checkpoint.at <= offset && (!best || checkpoint.at >= best.at)) best = checkpoint;
    return best;
  }

  private remember(stream: string, checkpoint: Checkpoint): void {
    const known = this.checkpoints.get(stream) ?? [];
    const same = known.findIndex((old) => old.at === checkpoint.at);
    if (same >= 0) known.splice(same, 1);
    known.push(checkpoint);
    // Keep the first (cheap restarts near the head) and the newest (followers at the end).
    if (known.length > MAX_CHECKPOINTS_PER_STREAM) known.splice(1, 1);
    this.checkpoints.set(stream, known);
    if (this.checkpoints.size > MAX_STREAMS_REMEMBERED) {
      const oldest = this.checkpoints.keys().next().value;
      if (oldest !== undefined) this.checkpoints.delete(oldest);
    }
  }
}
