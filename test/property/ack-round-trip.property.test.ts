import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AckRoundTrip } from '../../agent/ack-round-trip.js';

const samples = fc.array(fc.double({ min: 0, max: 3_600_000, noNaN: true }), { maxLength: 200 });
const bounds = fc
  .tuple(fc.integer({ min: 1, max: 60_000 }), fc.integer({ min: 0, max: 600_000 }))
  .map(([min, extra]) => ({ min, max: min + extra }));

describe('the acknowledgement round trip', () => {
  it('gives a first retry within [min, max] whatever was measured, and min before anything was', () => {
    fc.assert(
      fc.property(samples, bounds, (measured, { min, max }) => {
        const trip = new AckRoundTrip();
        for (const ms of measured) trip.sample(ms);
        const retry = trip.firstRetryMs(min, max);
        expect(retry).toBeGreaterThanOrEqual(min);
        expect(retry).toBeLessThanOrEqual(max);
        if (measured.length === 0) expect(retry).toBe(min);
      }),
    );
  });

  it('settles on a steady round trip, and never waits less than the slowest of a steady run', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 600_000 }), (ms) => {
        const trip = new AckRoundTrip();
        for (let i = 0; i < 200; i++) trip.sample(ms);
        const retry = trip.firstRetryMs(1, Number.MAX_SAFE_INTEGER);
        expect(retry).toBeGreaterThanOrEqual(ms);
        expect(retry).toBeLessThanOrEqual(Math.ceil(ms * 1.01) + 1);
      }),
    );
  });

  it('ignores samples that are not a duration', () => {
    const trip = new AckRoundTrip();
    for (const bad of [Number.NaN, -1, Number.POSITIVE_INFINITY]) trip.sample(bad);
    expect(trip.firstRetryMs(10, 100)).toBe(10);
    trip.sample(50);
    expect(trip.firstRetryMs(10, 1_000)).toBe(150);
  });
});
