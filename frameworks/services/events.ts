/**
 * `GET /v2/events`: Marathon's event stream as server-sent events (`event: <eventType>`, `data: <json>`). The
 * events are on the bus in the services table (any handler writes them), so this stream polls the bus from
 * the moment it attaches (as Marathon sends only what happens after), every half second; `?event_type=` (given
 * once or more) keeps those types only. A caller sees the events of the apps of its roles: each event is kept
 * with its app's role when written, so an app's last events (its deletion) still reach its team.
 */
import type { Context } from 'hono';
import { streamSSE } from 'hono/streaming';
import type { Caller } from '../common/api.js';
import type { PublishedEvent, ServicesStore } from './store.js';

const POLL_MS = 500;
const PAGE = 100;

export function streamEvents(
  c: Context,
  store: ServicesStore,
  caller: Caller,
  mayUse: (caller: Caller, role: string) => boolean,
): Response {
  const types = c.req.queries('event_type');
  const allowed = ({ event, role }: PublishedEvent): boolean =>
    (types === undefined || types.includes(event.eventType)) && (caller.operator || mayUse(caller, role));
  return streamSSE(c, async (stream) => {
    let after = new Date().toISOString();
    const attached = { eventType: 'event_stream_attached', timestamp: after, remoteAddress: '' };
    await stream.writeSSE({ event: attached.eventType, data: JSON.stringify(attached) });
    while (!stream.aborted && !stream.closed) {
      const page = await store.events(after, PAGE);
      after = page.last;
      for (const { event } of page.events.filter(allowed)) {
        await stream.writeSSE({ event: event.eventType, data: JSON.stringify(event) });
      }
      if (page.events.length < PAGE) await stream.sleep(POLL_MS);
    }
  });
}
