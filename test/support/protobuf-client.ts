/**
 * A Mesos client that speaks protobuf (`application/x-protobuf`), as Mesos's C++ and Java v1 libraries do:
 * bodies and events encoded with a given set of definitions (by default the third-party 0.28.2 copy, so that
 * the master's own definitions are not what checks them), events framed in RecordIO.
 */
import type protobuf from 'protobufjs';
import { RecordIODecoder } from '#shared/protocol/recordio.js';
import { mesos028 } from './mesos-0.28.js';

export const PROTOBUF = 'application/x-protobuf';

const TO_OBJECT = { enums: String, longs: Number, bytes: String, defaults: false } as const;

export interface ProtobufAnswer {
  readonly status: number;
  readonly headers: Headers;
  readonly bytes: Uint8Array;
}

/** The message's type: a name in the 0.28.2 definitions (`mesos.scheduler.Call`), or a type of ours. */
export function typeOf(type: string | protobuf.Type): protobuf.Type {
  return typeof type === 'string' ? mesos028().lookupType(type) : type;
}

export function encode(type: string | protobuf.Type, object: Record<string, unknown>): Uint8Array {
  const resolved = typeOf(type);
  return resolved.encode(resolved.fromObject(object)).finish();
}

export function decode(type: string | protobuf.Type, bytes: Uint8Array): Record<string, unknown> {
  const resolved = typeOf(type);
  return resolved.toObject(resolved.decode(bytes), TO_OBJECT);
}

/** POSTs `body` (bytes, sent as protobuf) to `path`; Accept protobuf unless `headers` say otherwise. */
export async function protobufPost(
  url: string,
  path: string,
  body: Uint8Array,
  headers: Record<string, string> = {},
): Promise<ProtobufAnswer> {
  const response = await fetch(`${url}${path}`, {
    method: 'POST',
    headers: { 'Content-Type': PROTOBUF, Accept: PROTOBUF, ...headers },
    body: new Uint8Array(body),
  });
  return { status: response.status, headers: response.headers, bytes: new Uint8Array(await response.arrayBuffer()) };
}

/** An open protobuf stream (scheduler or operator SUBSCRIBE): its events, decoded as `eventType`. */
export class ProtobufStream {
  readonly events: Array<Record<string, unknown>> = [];
  ended = false;

  private constructor(
    readonly response: Response,
    private readonly abort: AbortController,
    private readonly eventType: protobuf.Type,
  ) {
    void this.pump();
  }

  static async open(
    url: string,
    path: string,
    body: Uint8Array,
    eventType: string | protobuf.Type,
    headers: Record<string, string> = {},
  ): Promise<ProtobufStream> {
    const abort = new AbortController();
    const response = await fetch(`${url}${path}`, {
      method: 'POST',
      headers: { 'Content-Type': PROTOBUF, Accept: PROTOBUF, ...headers },
      body: new Uint8Array(body),
      signal: abort.signal,
    });
    return new ProtobufStream(response, abort, typeOf(eventType));
  }

  get streamId(): string {
    return this.response.headers.get('mesos-stream-id') ?? '';
  }

  private async pump(): Promise<void> {
    const decoder = new RecordIODecoder();
    const reader = this.response.body?.getReader();
    try {
      for (;;) {
        const chunk = await reader?.read();
        if (!chunk || chunk.done) break;
        for (const record of decoder.decodeBytes(chunk.value)) this.events.push(decode(this.eventType, record));
      }
    } catch {
      // aborted
    }
    this.ended = true;
  }

  /** Waits for an event that matches `predicate`. */
  async next(
    predicate: (event: Record<string, unknown>) => boolean,
    timeoutMs = 10_000,
  ): Promise<Record<string, unknown>> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.events.find(predicate);
      if (found) return found;
      const got = this.events.map((event) => String(event.type)).join(',');
      if (this.ended) throw new Error(`stream ended without the event; got ${got}`);
      if (Date.now() > deadline) throw new Error(`timed out; got ${got}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  close(): void {
    this.abort.abort();
  }
}

/** JSON as protobuf's decoding reads it: no empty lists, no nulls (an unset field and an empty one are one on the wire). */
export function wireShape(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(wireShape);
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(
    Object.entries(value)
      .filter(([, item]) => item !== null && item !== undefined && !(Array.isArray(item) && item.length === 0))
      .map(([key, item]) => [key, wireShape(item)]),
  );
}
