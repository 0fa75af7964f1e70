import { afterAll, beforeAll, expect, it } from 'vitest';
import { startTestMaster, type TestMaster } from '../support/master.js';
import { subscribeRaw } from '../support/http.js';

let m: TestMaster;
beforeAll(async () => {
  m = await startTestMaster();
});
afterAll(async () => m.close());

it('subscribes and streams SUBSCRIBED then HEARTBEAT', async () => {
  const s = await subscribeRaw(m.url, { type: 'SUBSCRIBE', subscribe: { framework_info: { user: 'u', name: 'n' } } });
  expect(s.response.status).toBe(200);
  const subscribed = await s.next((e) => e.type === 'SUBSCRIBED');
  await s.next((e) => e.type === 'HEARTBEAT');
  expect(s.events[0]?.type).toBe('SUBSCRIBED');
  expect(s.events[1]?.type).toBe('HEARTBEAT');
  expect(subscribed.subscribed?.framework_id.value).toBeTruthy();
  s.close();
});
