/** The change feed's watchers item against DynamoDB Local: who learns of a watcher, and when. */
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { ChangeFeed, WATCH_CHECK_MS } from '../../functions/registrar/change-feed.js';
import { freshRegistrar, type TestRegistrar } from '../support/registrar.js';

let t: TestRegistrar;
beforeAll(async () => {
  t = await freshRegistrar();
});
afterAll(async () => {
  await t.close();
});

describe('the change feed', () => {
  it("records this process's writes as soon as this process watches; another process's after its next check", async () => {
    const mine = new ChangeFeed(t.registrar.context);
    const other = new ChangeFeed(t.registrar.context);
    const start = t.clock.now;
    const agentsIn = async () =>
      (await mine.read(start)).flatMap((entry) =>
        entry.changes.map((change) => (change as { agentId?: string }).agentId),
      );
    // Both have just read that nobody watches (and trust that read for WATCH_CHECK_MS).
    expect(await mine.watched()).toBe(false);
    expect(await other.watched()).toBe(false);
    expect(await mine.watch(start + 60_000)).toBe(false);
    await mine.publish([{ kind: 'AGENT_REMOVED', agentId: 'mine' }]);
    await other.publish([{ kind: 'AGENT_REMOVED', agentId: 'other, too early' }]);
    expect(await agentsIn()).toEqual(['mine']);
    t.clock.advance(WATCH_CHECK_MS);
    await other.publish([{ kind: 'AGENT_REMOVED', agentId: 'other' }]);
    expect(await agentsIn()).toEqual(['mine', 'other']);
    expect(await mine.watch(start + 60_000)).toBe(true);
  });

  it('has the writers that find the check due at once share one read of the watchers item', async () => {
    const feed = new ChangeFeed(t.registrar.context);
    const send = vi.spyOn(t.registrar.context.documents, 'send');
    const reads = () => send.mock.calls.filter(([command]) => command instanceof GetCommand).length;
    try {
      await Promise.all(Array.from({ length: 5 }, () => feed.watched()));
      expect(reads()).toBe(1);
      await feed.watched();
      expect(reads()).toBe(1);
      t.clock.advance(WATCH_CHECK_MS);
      await Promise.all([feed.watched(), feed.watched()]);
      expect(reads()).toBe(2);
    } finally {
      send.mockRestore();
    }
  });
});
