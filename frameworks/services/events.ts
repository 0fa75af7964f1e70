/**
 * `GET /v2/events`: Marathon's event stream as server-sent events (`event: <eventType>`, `data: <json>`). The
 * events are on the bus in the services table (any handler writes them), so this stream polls the bus from
 * the moment it attaches (as Marathon sends only what happens after), every half second; `?event_type=` (given
 * once or more) keeps those types only. A caller sees the events of the apps of its roles.
 */
import type { Context } from 'hono';
import { streamSSE } from 'hono/streaming';
import type { Caller } from '../common/api.js';
import type { BusEvent, ServicesStore } from './store.js';

const POLL_MS = 500;
const PAGE = 100;

export function streamEvents(
  c: Context,
  store: ServicesStore,
  caller: Caller,
  mayUse: (caller: Caller, role: string) => boolean,
): Response {
  const types = c.req.queries('event_type');
  const roles = new Map<string, string | undefined>();
  const allowed = async (event: BusEvent): Promise<boolean> => {
    if (types && !types.includes(event.eventType)) return false;
    const appId = (event.appId ??
      (event.plan as { steps?: { actions: { app: string }[] }[] } | undefined)?.steps?.[0]?.actions[0]?.app) as
      string | undefined;
    if (appId === undefined || caller.operator) return true;
    if (!roles.has(appId)) roles.set(appId, (await store.app(appId))?.app.role);
    const role = roles.get(appId);
    return role !== undefined && mayUse(caller, role);
  };
  return streamSSE(c, async (stream) => {
    let after = new Date().toISOString();
    const attached = { eventType: 'event_stream_attached', timestamp: after, remoteAddress: '' };
    await stream.writeSSE({ event: attached.eventType, data: JSON.stringify(attached) });
    while (!stream.aborted && !stream.closed) {
      const page = await store.events(after, PAGE);
      after = page.last;
      for (const event of page.events) {
        if (await allowed(event)) await stream.writeSSE({ event: event.eventType, data: JSON.stringify(event) });
      }
      if (page.events.length < PAGE) await stream.sleep(POLL_MS);
    }
  });
}
