import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  cronMatches,
  dueTick,
  nextTick,
  parseSchedule,
  previousTick,
  type CronSchedule,
  type Schedule,
} from '../../frameworks/jobs/schedule.js';

const RUNS = { numRuns: 300 };
const MINUTE = 60_000;
const DAY = 24 * 60 * MINUTE;

/** Times from 2000 to 2090 (ms since the epoch). */
const time = fc.integer({ min: Date.UTC(2000, 0, 1), max: Date.UTC(2090, 0, 1) });

/** One item of a cron field over [min, max]: `*`, `*\/s`, `a`, `a-b`, `a-b/s`. */
function item(min: number, max: number): fc.Arbitrary<string> {
  const value = fc.integer({ min, max });
  const step = fc.integer({ min: 1, max: Math.max(1, Math.floor((max - min) / 2)) });
  const range = fc.tuple(value, value).map(([a, b]) => (a <= b ? `${a}-${b}` : `${b}-${a}`));
  return fc.oneof(
    fc.constant('*'),
    step.map((s) => `*/${s}`),
    value.map(String),
    range,
    fc.tuple(range, step).map(([r, s]) => `${r}/${s}`),
  );
}

function field(min: number, max: number): fc.Arbitrary<string> {
  return fc.oneof(
    { weight: 3, arbitrary: item(min, max) },
    { weight: 1, arbitrary: fc.array(item(min, max), { minLength: 2, maxLength: 3 }).map((items) => items.join(',')) },
  );
}

const cronText = fc
  .tuple(field(0, 59), field(0, 23), field(1, 31), field(1, 12), field(0, 7))
  .map((fields) => fields.join(' '));

const cron: fc.Arbitrary<CronSchedule> = cronText
  .map((text) => parseSchedule(text))
  .filter((parsed) => parsed.ok)
  .map((parsed) => (parsed.ok ? parsed.value : (undefined as never)) as CronSchedule);

const duration = fc.oneof(
  fc.integer({ min: 1, max: 3 }).map((weeks) => `P${weeks}W`),
  fc
    .record({
      Y: fc.integer({ min: 0, max: 1 }),
      M: fc.integer({ min: 0, max: 13 }),
      D: fc.integer({ min: 0, max: 40 }),
      h: fc.integer({ min: 0, max: 30 }),
      m: fc.integer({ min: 0, max: 90 }),
      s: fc.integer({ min: 0, max: 90 }),
    })
    .filter((parts) => parts.Y + parts.M + parts.D > 0 || parts.h * 3600 + parts.m * 60 + parts.s >= 1)
    .map(({ Y, M, D, h, m, s }) => `P${Y}Y${M}M${D}DT${h}H${m}M${s}S`),
);

const isoText = fc
  .tuple(fc.option(fc.integer({ min: 0, max: 20 }), { nil: undefined }), time, duration)
  .map(([count, start, period]) => `R${count ?? ''}/${new Date(start).toISOString()}/${period}`);

const iso: fc.Arbitrary<Schedule> = isoText.map((text) => {
  const parsed = parseSchedule(text);
  if (!parsed.ok) throw new Error(parsed.error.message);
  return parsed.value;
});

const any = fc.oneof(cron, iso);

/** A tick of the schedule: the last tick at or before it is itself. */
function isTick(schedule: Schedule, at: number): boolean {
  return schedule.kind === 'cron' ? cronMatches(schedule, at) && at % MINUTE === 0 : previousTick(schedule, at) === at;
}

describe('schedules (property tests)', () => {
  it('the next tick is after the time and is a tick; the previous one is at or before it', () => {
    fc.assert(
      fc.property(any, time, (schedule, t) => {
        const next = nextTick(schedule, t);
        if (next !== undefined) {
          expect(next).toBeGreaterThan(t);
          expect(isTick(schedule, next)).toBe(true);
        }
        const previous = previousTick(schedule, t);
        if (previous !== undefined) {
          expect(previous).toBeLessThanOrEqual(t);
          expect(isTick(schedule, previous)).toBe(true);
          // Nothing between the previous tick and t: the next after either is the same.
          expect(nextTick(schedule, previous)).toBe(next);
        }
      }),
      RUNS,
    );
  });

  it('a cron rule that parses fires before and after any time', () => {
    fc.assert(
      fc.property(cron, time, (schedule, t) => {
        expect(nextTick(schedule, t)).toBeDefined();
        expect(previousTick(schedule, t)).toBeDefined();
      }),
      RUNS,
    );
  });

  it('no cron tick is skipped between a time and the next tick', () => {
    fc.assert(
      fc.property(
        cron,
        time,
        fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 20 }),
        (schedule, t, at) => {
          const next = nextTick(schedule, t) as number;
          const first = Math.floor(t / MINUTE) * MINUTE + MINUTE;
          // Every minute when the gap is short, sampled minutes otherwise.
          const minutes =
            next - first <= 2 * DAY
              ? Array.from({ length: (next - first) / MINUTE }, (_, i) => first + i * MINUTE)
              : at.map((fraction) => first + Math.floor(((next - first) / MINUTE) * fraction) * MINUTE);
          for (const minute of minutes) if (minute < next) expect(cronMatches(schedule, minute)).toBe(false);
        },
      ),
      RUNS,
    );
  });

  it('no ISO tick is skipped, and R<n> gives exactly n ticks', () => {
    fc.assert(
      fc.property(iso, (schedule) => {
        if (schedule.kind !== 'iso' || schedule.start === undefined) return;
        const ticks: number[] = [];
        let at = schedule.start - 1;
        for (
          let next = nextTick(schedule, at);
          next !== undefined && ticks.length < 25;
          next = nextTick(schedule, at)
        ) {
          ticks.push(next);
          at = next;
        }
        expect(ticks.length).toBe(schedule.repetitions === undefined ? 25 : schedule.repetitions);
        expect(ticks[0] ?? schedule.start).toBe(schedule.start);
        for (let i = 1; i < ticks.length; i++) {
          expect(ticks[i]).toBeGreaterThan(ticks[i - 1] as number);
          // Nothing between two ticks.
          expect(previousTick(schedule, (ticks[i] as number) - 1)).toBe(ticks[i - 1]);
        }
      }),
      RUNS,
    );
  });

  it('due ticks: one run for the latest tick in (since, now], the next after now', () => {
    fc.assert(
      fc.property(any, time, fc.integer({ min: 0, max: 40 * DAY }), (schedule, since, gap) => {
        const now = since + gap;
        const result = dueTick(schedule, since, now);
        const first = nextTick(schedule, since);
        expect(result.next).toBe(nextTick(schedule, now));
        if (first === undefined || first > now) {
          expect(result).toEqual({ due: undefined, skipped: false, next: result.next });
          return;
        }
        const due = result.due as number;
        expect(due).toBeGreaterThan(since);
        expect(due).toBeLessThanOrEqual(now);
        expect(isTick(schedule, due)).toBe(true);
        // The latest: no tick after it up to now.
        expect(nextTick(schedule, due) === undefined || (nextTick(schedule, due) as number) > now).toBe(true);
        expect(result.skipped).toBe(due !== first);
      }),
      RUNS,
    );
  });
});
