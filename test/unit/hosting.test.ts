/** The ticker loop of a hosted framework's scheduled Lambda invocation (frameworks/common/hosting.ts). */
import { describe, expect, it } from 'vitest';
import { tickRepeatedly } from '../../frameworks/common/hosting.js';

function counter(apps: number) {
  let ticks = 0;
  return {
    get ticks() {
      return ticks;
    },
    tick: async () => ({ apps, tick: ++ticks }),
  };
}

describe('one scheduled invocation of a ticker', () => {
  it('ticks every `everyMs` until the next tick would end after `forMs`', async () => {
    const ticker = counter(1);
    const summaries = await tickRepeatedly(ticker, { everyMs: 20, forMs: 110 });
    // Ticks at about 0, 20, 40, 60, 80 ms; the next at 100 would leave too little (100 + 20 > 110).
    expect(summaries.length).toBeGreaterThanOrEqual(4);
    expect(summaries.length).toBeLessThanOrEqual(6);
    expect(summaries.map((summary) => summary.tick)).toEqual(summaries.map((_, index) => index + 1));
  });

  it('returns after one tick when `more` says there is nothing to wait for (an idle Services)', async () => {
    const ticker = counter(0);
    const started = Date.now();
    const summaries = await tickRepeatedly(ticker, {
      everyMs: 5_000,
      forMs: 50_000,
      more: (summary) => summary.apps > 0,
    });
    expect(summaries).toHaveLength(1);
    expect(Date.now() - started).toBeLessThan(1_000);
  });

  it('on a clock of its own, starts no tick past `forMs` (slow ticks end the loop sooner)', async () => {
    let now = 0;
    const ticker = {
      tick: async () => {
        now += 4_000;
        return now;
      },
    };
    const summaries = await tickRepeatedly(ticker, { everyMs: 1, forMs: 10_000, now: () => now });
    // Ticks start at 0, 4 and 8 s; the next would start at 12 s, past the 10 s.
    expect(summaries).toEqual([4_000, 8_000, 12_000]);
  });
});
