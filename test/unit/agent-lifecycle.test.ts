import { describe, expect, it } from 'vitest';
import { Lifecycle } from '../../agent/lifecycle.js';

describe("the agent's lifecycle", () => {
  it('ends a sleep at once when the agent ends, and one asked for after the end never waits', async () => {
    const life = new Lifecycle();
    const asleep = life.sleep(60_000);
    life.end();
    await asleep;
    // A loop that checks `alive`, works, then sleeps may reach its sleep after the end.
    const started = Date.now();
    await life.sleep(60_000);
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(life.alive).toBe(false);
  });
});
