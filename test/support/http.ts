/** Raw HTTP against the master, as a third-party Mesos client would speak it. */
import { request as httpRequest } from 'node:http';
import { RecordIODecoder } from '#shared/protocol/recordio.js';
import type { Event } from '#shared/protocol/scheduler.js';

export interface RawCall {
  readonly status: number;
  readonly headers: Headers;
  readonly body: string;
}

export async function post(
  url: string,
  body: unknown,
  headers: Record<string, string> = {},
  method = 'POST',
): Promise<RawCall> {
  const response = await fetch(`${url}/api/v1/scheduler`, {
    method,
    headers: { 'Content-Type': 'application/json', ...headers },
    ...(method === 'GET' || method === 'HEAD' ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
  });
  return { status: response.status, headers: response.headers, body: await response.text() };
}

/**
 * The status a POST is answered with, read even when the master answers before the body is written (413 on a
 * body over the limit) and closes: fetch reports that race as "other side closed", node:http still hands over
 * the answer. A streamed answer (a SUBSCRIBE that opened) is closed at once.
 */
export function statusOfPost(url: string, body: string, headers: Record<string, string> = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    // A fresh connection each time: Node's global agent keeps sockets alive, and a call sent on one the server is
    // closing for idleness (its 5 s keep-alive timeout, easily reached between calls under load) is reset unanswered.
    const request = httpRequest(url, {
      method: 'POST',
      agent: false,
      headers: { 'Content-Type': 'application/json', ...headers },
    });
    request.on('response', (response) => {
      if (response.headers['mesos-stream-id']) response.destroy();
      else response.resume();
      resolve(response.statusCode ?? 0);
    });
    request.on('error', (error) => setTimeout(() => reject(error), 1000));
    // A write the master cut short can fail after the answer, when the request no longer listens to its socket.
    request.on('socket', (socket) => socket.on('error', () => undefined));
    request.end(body);
  });
}

/** An open SUBSCRIBE stream: events as they arrive. */
export class RawSubscription {
  readonly events: Event[] = [];
  /** Called with each event as it arrives. */
  readonly listeners: Array<(event: Event) => void> = [];
  private readonly waiters: Array<() => void> = [];
  ended = false;

  constructor(
    readonly response: Response,
    private readonly abort: AbortController,
  ) {
    void this.pump();
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
        for (const record of decoder.decode(chunk.value)) {
          const event = JSON.parse(record) as Event;
          this.events.push(event);
          for (const listener of this.listeners) listener(event);
        }
        this.wake();
      }
    } catch {
      // aborted
    }
    this.ended = true;
    this.wake();
  }

  private wake(): void {
    for (const waiter of this.waiters.splice(0)) waiter();
  }

  /** Waits until an event matching `predicate` has arrived (or the stream ended); returns it. */
  async next(predicate: (event: Event) => boolean, timeoutMs = 10_000): Promise<Event> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.events.find(predicate);
      if (found) return found;
      if (this.ended)
        throw new Error(`stream ended without the event; got ${this.events.map((e) => e.type).join(',')}`);
      if (Date.now() > deadline) throw new Error(`timed out; got ${this.events.map((e) => e.type).join(',')}`);
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        setTimeout(resolve, 100);
      });
    }
  }

  async untilEnded(timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.ended) {
      if (Date.now() > deadline) throw new Error('stream did not end');
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  close(): void {
    this.abort.abort();
  }
}

export async function subscribeRaw(
  url: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<RawSubscription> {
  const abort = new AbortController();
  const response = await fetch(`${url}/api/v1/scheduler`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Accept: 'application/json', ...headers },
    body: JSON.stringify(body),
    signal: abort.signal,
  });
  return new RawSubscription(response, abort);
}
