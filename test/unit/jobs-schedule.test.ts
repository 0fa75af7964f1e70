import { describe, expect, it } from 'vitest';
import {
  dueTick,
  nextTick,
  parseSchedule,
  previousTick,
  withStart,
  type Schedule,
} from '../../frameworks/jobs/schedule.js';

function schedule(text: string): Schedule {
  const parsed = parseSchedule(text);
  if (!parsed.ok) throw new Error(parsed.error.message);
  return parsed.value;
}

const at = (iso: string): number => Date.parse(iso);
const iso = (time: number | undefined): string | undefined =>
  time === undefined ? undefined : new Date(time).toISOString();

/** The first n ticks after `from`. */
function ticks(text: string, from: string, n: number): (string | undefined)[] {
  const parsed = schedule(text);
  const out: (string | undefined)[] = [];
  let time = at(from);
  for (let i = 0; i < n; i++) {
    const next = nextTick(parsed, time);
    out.push(iso(next));
    if (next === undefined) break;
    time = next;
  }
  return out;
}

describe('cron schedules', () => {
  it('steps, ranges and lists', () => {
    expect(ticks('*/15 * * * *', '2026-12-05T20:07:00Z', 3)).toEqual([
      '2026-12-05T20:15:00.000Z',
      '2026-12-05T20:30:00.000Z',
      '2026-12-05T20:45:00.000Z',
    ]);
    expect(ticks('10-50/20 1,3 * * *', '2026-12-05T00:00:00Z', 4)).toEqual([
      '2026-12-05T01:10:00.000Z',
      '2026-12-05T01:30:00.000Z',
      '2026-12-05T01:50:00.000Z',
      '2026-12-05T03:10:00.000Z',
    ]);
    // Vixie reads `a/s` as `a-max/s`.
    expect(ticks('45/5 0 * * *', '2026-12-05T00:00:00Z', 4)).toEqual([
      '2026-12-05T00:45:00.000Z',
      '2026-12-05T00:50:00.000Z',
      '2026-12-05T00:55:00.000Z',
      '2026-12-06T00:45:00.000Z',
    ]);
  });

  it('names of months and weekdays, in ranges too, and 7 for Sunday', () => {
    // 2026-12-05 is a Saturday.
    expect(ticks('0 9 * * mon-FRI', '2026-12-05T20:07:00Z', 2)).toEqual([
      '2026-12-07T09:00:00.000Z',
      '2026-12-08T09:00:00.000Z',
    ]);
    expect(ticks('0 0 * * 7', '2026-12-05T00:00:00Z', 1)).toEqual(['2026-12-06T00:00:00.000Z']);
    expect(ticks('0 0 1 JAN,jul *', '2026-12-05T00:00:00Z', 2)).toEqual([
      '2027-01-01T00:00:00.000Z',
      '2027-07-01T00:00:00.000Z',
    ]);
  });

  it('day of month OR day of week when both are restricted (Vixie), AND when one starts with *', () => {
    // The 13th or any Friday.
    expect(ticks('0 0 13 * FRI', '2026-12-05T00:00:00Z', 3)).toEqual([
      '2026-12-11T00:00:00.000Z',
      '2026-12-13T00:00:00.000Z',
      '2026-12-18T00:00:00.000Z',
    ]);
    // `*/2` counts as unrestricted: odd days that are Mondays.
    expect(ticks('0 0 */2 * MON', '2026-12-05T00:00:00Z', 2)).toEqual([
      '2026-12-07T00:00:00.000Z',
      '2026-12-21T00:00:00.000Z',
    ]);
  });

  it('macros', () => {
    expect(ticks('@daily', '2026-12-05T20:07:00Z', 1)).toEqual(['2026-12-06T00:00:00.000Z']);
    expect(ticks('@hourly', '2026-12-05T20:07:00Z', 1)).toEqual(['2026-12-05T21:00:00.000Z']);
    expect(ticks('@weekly', '2026-12-05T20:07:00Z', 1)).toEqual(['2026-12-06T00:00:00.000Z']);
    expect(ticks('@monthly', '2026-12-05T20:07:00Z', 1)).toEqual(['2027-01-01T00:00:00.000Z']);
    expect(ticks('@yearly', '2026-12-05T20:07:00Z', 1)).toEqual(['2027-01-01T00:00:00.000Z']);
  });

  it('rare ticks: the 1st of February on a Friday, 11 years apart', () => {
    expect(ticks('0 0 */30 2 FRI', '2019-02-02T00:00:00Z', 2)).toEqual([
      '2030-02-01T00:00:00.000Z',
      '2036-02-01T00:00:00.000Z',
    ]);
  });

  it('February 29 across years, and the tick before a time', () => {
    expect(ticks('0 0 29 2 *', '2026-12-05T00:00:00Z', 2)).toEqual([
      '2028-02-29T00:00:00.000Z',
      '2032-02-29T00:00:00.000Z',
    ]);
    expect(iso(previousTick(schedule('0 0 29 2 *'), at('2026-12-05T00:00:00Z')))).toBe('2024-02-29T00:00:00.000Z');
    expect(iso(previousTick(schedule('*/15 * * * *'), at('2026-12-05T20:15:00Z')))).toBe('2026-12-05T20:15:00.000Z');
  });

  it.each([
    ['* * * *', 'expected 5 fields'],
    ['* * * * * *', 'expected 5 fields'],
    ['61 * * * *', 'minute: 61 is out of range 0-59'],
    ['* 24 * * *', 'hour: 24 is out of range 0-23'],
    ['* * 0 * *', 'day of month: 0 is out of range 1-31'],
    ['* * * 13 *', 'month: 13 is out of range 1-12'],
    ['* * * * 8', 'day of week: 8 is out of range 0-7'],
    ['*/0 * * * *', "step '0' must be a positive integer"],
    ['5-1 * * * *', 'range 5-1 runs backwards'],
    ['1,,2 * * * *', 'empty item'],
    ['x * * * *', "'x' is not a number"],
    ['* * * FOO *', "'FOO' is not a number or a name"],
    ['1/2/3 * * * *', "more than one '/'"],
    ['1-2-3 * * * *', 'is not a range'],
    ['0 0 30 2 *', 'no date ever matches'],
    ['0 0 31 4,6,9,11 *', 'no date ever matches'],
    ['@reboot', "unknown macro '@reboot'"],
  ])('refuses %s', (text, message) => {
    const parsed = parseSchedule(text);
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) {
      expect(parsed.error.code).toBe('INVALID_SCHEDULE');
      expect(parsed.error.message).toContain(message);
      expect(parsed.error.message).toContain(`'${text}'`);
    }
  });

  it('refuses overlong text', () => {
    const parsed = parseSchedule(`${'1,'.repeat(150)}2 * * * *`);
    expect(parsed.ok || parsed.error.message).toContain('longer than 200 characters');
  });
});

describe('ISO 8601 repeating intervals (Chronos)', () => {
  it('R<n> runs n ticks from the start, then ends', () => {
    expect(ticks('R3/2026-12-06T00:00:00Z/PT30S', '2026-12-05T00:00:00Z', 4)).toEqual([
      '2026-12-06T00:00:00.000Z',
      '2026-12-06T00:00:30.000Z',
      '2026-12-06T00:01:00.000Z',
      undefined,
    ]);
    expect(ticks('R0/2026-12-06T00:00:00Z/PT30S', '2026-12-05T00:00:00Z', 1)).toEqual([undefined]);
  });

  it('R without n repeats forever; months keep their day, clamped to short months', () => {
    expect(ticks('R/2026-01-31T12:00:00Z/P1M', '2026-01-01T00:00:00Z', 4)).toEqual([
      '2026-01-31T12:00:00.000Z',
      '2026-02-28T12:00:00.000Z',
      '2026-03-31T12:00:00.000Z',
      '2026-04-30T12:00:00.000Z',
    ]);
    expect(ticks('R/2024-02-29T00:00:00Z/P1Y', '2025-01-01T00:00:00Z', 2)).toEqual([
      '2025-02-28T00:00:00.000Z',
      '2026-02-28T00:00:00.000Z',
    ]);
  });

  it('weeks, days and times; offsets in the start; a tick after a long gap', () => {
    expect(ticks('R/2026-02-03T00:00:00Z/P2W', '2026-02-03T00:00:00Z', 1)).toEqual(['2026-02-17T00:00:00.000Z']);
    expect(ticks('R/2026-02-03T01:00:00+01:00/P1DT1H', '2026-02-01T00:00:00Z', 2)).toEqual([
      '2026-02-03T00:00:00.000Z',
      '2026-02-04T01:00:00.000Z',
    ]);
    expect(ticks('R/2026-01-01T00:00:00Z/PT1S', '2036-01-01T00:00:00.500Z', 1)).toEqual(['2036-01-01T00:00:01.000Z']);
  });

  it('an empty start is filled in when the job is created', () => {
    const parsed = schedule('R5//PT1M');
    expect(nextTick(parsed, 0)).toBeUndefined();
    expect(withStart(parsed, at('2026-12-05T20:00:00Z'))).toBe('R5/2026-12-05T20:00:00.000Z/PT1M');
    expect(withStart(schedule('R5/2026-12-05T20:00:00Z/PT1M'), 0)).toBe('R5/2026-12-05T20:00:00Z/PT1M');
    expect(withStart(schedule('@daily'), 0)).toBe('@daily');
  });

  it.each([
    ['R5/2026-12-06T00:00:00Z', 'expected R[n]/<start>/<duration>'],
    ['RX/2026-12-06T00:00:00Z/PT1S', "'RX' is not R or R<n>"],
    ['R5/2026-02-30T00:00:00Z/PT1M', "start '2026-02-30T00:00:00Z'"],
    ['R5/2026-12-06T00:00:00/PT1M', 'with a zone'],
    ['R5/tomorrow/PT1M', "start 'tomorrow'"],
    ['R5/2026-12-06T00:00:00Z/P', "duration 'P' is not ISO 8601"],
    ['R5/2026-12-06T00:00:00Z/PT', "duration 'PT' is not ISO 8601"],
    ['R5/2026-12-06T00:00:00Z/P1H', "duration 'P1H' is not ISO 8601"],
    ['R5/2026-12-06T00:00:00Z/PT0S', 'at least 1 second'],
    ['R5/2026-12-06T00:00:00Z/P0W', 'between 1 and'],
    ['R5/2026-12-06T00:00:00Z/P1W1D', 'is not ISO 8601'],
    ['R5/2026-12-06T00:00:00Z/PT1.5S', 'is not ISO 8601'],
    ['R5/2026-12-06T00:00:00Z/P9999999D', 'over 1000000'],
    ['R9999999999/2026-12-06T00:00:00Z/PT1S', 'at most 1000000000 repetitions'],
  ])('refuses %s', (text, message) => {
    const parsed = parseSchedule(text);
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.error.message).toContain(message);
  });
});

describe('due ticks: missed ticks run once (Chronos)', () => {
  it('nothing due before the first tick; the next tick for the timer', () => {
    const parsed = schedule('*/10 * * * *');
    expect(dueTick(parsed, at('2026-12-05T20:00:00Z'), at('2026-12-05T20:09:59Z'))).toEqual({
      due: undefined,
      skipped: false,
      next: at('2026-12-05T20:10:00Z'),
    });
  });

  it('one tick due: runs it', () => {
    const parsed = schedule('*/10 * * * *');
    expect(dueTick(parsed, at('2026-12-05T20:00:00Z'), at('2026-12-05T20:10:00Z'))).toEqual({
      due: at('2026-12-05T20:10:00Z'),
      skipped: false,
      next: at('2026-12-05T20:20:00Z'),
    });
  });

  it('down for an hour: one run, for the latest tick, the others passed over', () => {
    const parsed = schedule('*/10 * * * *');
    expect(dueTick(parsed, at('2026-12-05T20:00:00Z'), at('2026-12-05T21:05:00Z'))).toEqual({
      due: at('2026-12-05T21:00:00Z'),
      skipped: true,
      next: at('2026-12-05T21:10:00Z'),
    });
  });

  it('R<n>: passed-over ticks count, and nothing is due once the n ticks are gone', () => {
    const parsed = schedule('R3/2026-12-06T00:00:00Z/PT30S');
    expect(dueTick(parsed, at('2026-12-05T00:00:00Z'), at('2026-12-06T00:05:00Z'))).toEqual({
      due: at('2026-12-06T00:01:00Z'),
      skipped: true,
      next: undefined,
    });
    expect(dueTick(parsed, at('2026-12-06T00:01:00Z'), at('2026-12-06T00:09:00Z'))).toEqual({
      due: undefined,
      skipped: false,
      next: undefined,
    });
  });
});
