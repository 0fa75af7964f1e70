/**
 * Job schedules, in UTC, in the two forms their users know (pure):
 * - 5-field cron, `minute hour day-of-month month day-of-week`, with Vixie cron's syntax and semantics:
 *   `*`, lists `1,5`, ranges `1-5`, steps `*\/15` and `10-50/20`, `a/s` for `a-max/s`, names `JAN`-`DEC` and
 *   `SUN`-`SAT` (case-insensitive, in ranges too), 7 as Sunday, and the macros `@yearly` (`@annually`),
 *   `@monthly`, `@weekly`, `@daily` (`@midnight`), `@hourly`. When both day fields are restricted a day
 *   matches if EITHER does (Vixie's OR); a day field counts as unrestricted when it starts with `*`, so
 *   `*\/2` in one day field ANDs with the other, exactly as Vixie cron reads it.
 * - Chronos's ISO 8601 repeating interval `R[n]/<start>/<duration>`: tick k is start + k × duration for
 *   k < n (`R` without n repeats forever), durations `PnYnMnDTnHnMnS` or `PnW`. Ticks are computed from the
 *   start (not from the previous tick), so `P1M` from the 31st gives the 31st or the month's last day,
 *   never a drift to the 28th. An empty start (`R5//PT1M`, Chronos's "from now") is filled in when the
 *   job is created (`withStart`).
 *
 * Missed ticks (the ticker was down) run once, as Chronos does: `dueTick` answers the latest tick due
 * since the last run, and ticks it passed over are gone (they still count against `R<n>`).
 */
import { failure, ok, type Failure, type Result } from '#shared/result.js';

export type InvalidSchedule = Failure<'INVALID_SCHEDULE'>;

export interface CronSchedule {
  readonly kind: 'cron';
  readonly text: string;
  readonly minutes: readonly boolean[];
  readonly hours: readonly boolean[];
  /** Index 1..31. */
  readonly days: readonly boolean[];
  /** Index 1..12. */
  readonly months: readonly boolean[];
  /** Index 0..6, Sunday = 0 (7 is read as 0). */
  readonly weekdays: readonly boolean[];
  readonly dayStar: boolean;
  readonly weekdayStar: boolean;
}

export interface Duration {
  readonly years: number;
  readonly months: number;
  /** Days and weeks (7 days each): UTC days are always 24 hours. */
  readonly days: number;
  /** Hours, minutes and seconds, in milliseconds. */
  readonly millis: number;
}

export interface IsoSchedule {
  readonly kind: 'iso';
  readonly text: string;
  /** Undefined: forever. */
  readonly repetitions: number | undefined;
  /** Undefined until the job is created (`R//PT1H`); ms since the epoch. */
  readonly start: number | undefined;
  readonly period: Duration;
}

export type Schedule = CronSchedule | IsoSchedule;

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
/**
 * How far a search for a cron tick looks: the weekday calendar's 28-year cycle. Rules that can fire at
 * all fire well within it — the longest gaps are a weekday on the 1st of one month (`0 0 *\/30 2 FRI`:
 * up to 11 years apart) and February 29 (8 years across 2100).
 */
const CRON_HORIZON = 28 * 366 * DAY;
const MAX_REPETITIONS = 1_000_000_000;
const MAX_COMPONENT = 1_000_000;
const MAX_SCHEDULE_LENGTH = 200;

function invalid(text: string, why: string): { ok: false; error: InvalidSchedule } {
  return failure('INVALID_SCHEDULE', `Invalid schedule '${text}': ${why}`);
}

// ------------------------------------------------------------------------------------------ cron

const MONTH_NAMES = ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'];
const DAY_NAMES = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'];

interface FieldSpec {
  readonly name: string;
  readonly min: number;
  readonly max: number;
  /** Names for min, min+1, … */
  readonly names?: readonly string[];
}

const FIELDS: readonly FieldSpec[] = [
  { name: 'minute', min: 0, max: 59 },
  { name: 'hour', min: 0, max: 23 },
  { name: 'day of month', min: 1, max: 31 },
  { name: 'month', min: 1, max: 12, names: MONTH_NAMES },
  { name: 'day of week', min: 0, max: 7, names: DAY_NAMES },
];

const MACROS: Readonly<Record<string, string>> = {
  '@yearly': '0 0 1 1 *',
  '@annually': '0 0 1 1 *',
  '@monthly': '0 0 1 * *',
  '@weekly': '0 0 * * 0',
  '@daily': '0 0 * * *',
  '@midnight': '0 0 * * *',
  '@hourly': '0 * * * *',
};

function fieldValue(token: string, field: FieldSpec): number | string {
  const index = field.names?.indexOf(token.toUpperCase()) ?? -1;
  if (index >= 0) return field.min + index;
  if (!/^\d+$/.test(token)) return `'${token}' is not a number${field.names ? ' or a name' : ''}`;
  const value = Number(token);
  if (value < field.min || value > field.max) {
    return `${value} is out of range ${field.min}-${field.max}`;
  }
  return value;
}

/** One comma-separated item of a field: `*`, `a`, `a-b`, each with an optional `/step`. */
function parseItem(item: string, field: FieldSpec, into: boolean[]): string | undefined {
  const [base = '', stepText, extra] = item.split('/');
  if (extra !== undefined) return `'${item}' has more than one '/'`;
  let step = 1;
  if (stepText !== undefined) {
    if (!/^\d+$/.test(stepText) || Number(stepText) === 0) return `step '${stepText}' must be a positive integer`;
    step = Number(stepText);
  }
  let low: number | string = field.min;
  let high: number | string = field.max;
  if (base !== '*') {
    const [from = '', to, more] = base.split('-');
    if (more !== undefined) return `'${base}' is not a range`;
    low = fieldValue(from, field);
    if (typeof low === 'string') return low;
    // Vixie reads `a/s` as `a-max/s`; a bare `a` is the single value.
    high = to !== undefined ? fieldValue(to, field) : stepText !== undefined ? field.max : low;
    if (typeof high === 'string') return high;
    if (high < low) return `range ${base} runs backwards`;
  }
  for (let value = low; value <= high; value += step) into[value] = true;
  return undefined;
}

function parseField(text: string, field: FieldSpec): boolean[] | string {
  const values = new Array<boolean>(field.max + 1).fill(false);
  for (const item of text.split(',')) {
    if (item === '') return `empty item in ${field.name} '${text}'`;
    const error = parseItem(item, field, values);
    if (error) return `${field.name}: ${error}`;
  }
  return values;
}

const DAYS_IN_MONTH_MAX = [0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/** Refuses rules that can never fire (`0 0 30 2 *`): Vixie cron would silently never run them. */
function everFires(schedule: CronSchedule): boolean {
  if (!schedule.dayStar && !schedule.weekdayStar) return true;
  if (!schedule.dayStar) {
    return schedule.months.some(
      (allowed, month) => allowed && schedule.days.some((day, d) => day && d <= (DAYS_IN_MONTH_MAX[month] ?? 0)),
    );
  }
  return schedule.weekdays.some(Boolean);
}

export function parseCron(input: string): Result<CronSchedule, InvalidSchedule> {
  const text = input.trim();
  const expanded = MACROS[text.toLowerCase()] ?? text;
  if (expanded.startsWith('@')) return invalid(text, `unknown macro '${expanded}'`);
  const parts = expanded.split(/\s+/);
  if (parts.length !== 5) {
    return invalid(text, `expected 5 fields (minute hour day-of-month month day-of-week), got ${parts.length}`);
  }
  const fields: boolean[][] = [];
  for (const [i, part] of parts.entries()) {
    const parsed = parseField(part, FIELDS[i] as FieldSpec);
    if (typeof parsed === 'string') return invalid(text, parsed);
    fields.push(parsed);
  }
  const [minutes = [], hours = [], days = [], months = [], weekdayField = []] = fields;
  const weekdays = weekdayField.slice(0, 7);
  if (weekdayField[7]) weekdays[0] = true;
  const schedule: CronSchedule = {
    kind: 'cron',
    text,
    minutes,
    hours,
    days,
    months,
    weekdays,
    dayStar: parts[2]?.startsWith('*') ?? false,
    weekdayStar: parts[4]?.startsWith('*') ?? false,
  };
  if (!everFires(schedule)) return invalid(text, 'no date ever matches its day of month and month');
  return ok(schedule);
}

function dayMatches(schedule: CronSchedule, date: Date): boolean {
  const byDay = schedule.days[date.getUTCDate()] === true;
  const byWeekday = schedule.weekdays[date.getUTCDay()] === true;
  if (schedule.dayStar || schedule.weekdayStar) return byDay && byWeekday;
  return byDay || byWeekday;
}

/** Whether the minute that holds `time` is a tick of the cron rule. */
export function cronMatches(schedule: CronSchedule, time: number): boolean {
  const date = new Date(time);
  return (
    schedule.months[date.getUTCMonth() + 1] === true &&
    dayMatches(schedule, date) &&
    schedule.hours[date.getUTCHours()] === true &&
    schedule.minutes[date.getUTCMinutes()] === true
  );
}

/** The first tick strictly after `after`: skips whole months, days and hours that cannot match. */
function cronNext(schedule: CronSchedule, after: number): number | undefined {
  let time = Math.floor(after / MINUTE) * MINUTE + MINUTE;
  const limit = time + CRON_HORIZON;
  while (time <= limit) {
    const date = new Date(time);
    if (!schedule.months[date.getUTCMonth() + 1]) {
      time = Date.UTC(date.getUTCFullYear(), date.getUTCMonth() + 1, 1);
    } else if (!dayMatches(schedule, date)) {
      time = Date.UTC(date.getUTCFullYear(), date.getUTCMonth(), date.getUTCDate() + 1);
    } else if (!schedule.hours[date.getUTCHours()]) {
      time = Math.floor(time / HOUR) * HOUR + HOUR;
    } else if (!schedule.minutes[date.getUTCMinutes()]) {
      time += MINUTE;
    } else {
      return time;
    }
  }
  return undefined;
}

/** The last tick at or before `atOrBefore`: the mirror of `cronNext`. */
function cronPrevious(schedule: CronSchedule, atOrBefore: number): number | undefined {
  let time = Math.floor(atOrBefore / MINUTE) * MINUTE;
  const limit = time - CRON_HORIZON;
  while (time >= limit) {
    const date = new Date(time);
    if (!schedule.months[date.getUTCMonth() + 1]) {
      time = Date.UTC(date.getUTCFullYear(), date.getUTCMonth(), 1) - MINUTE;
    } else if (!dayMatches(schedule, date)) {
      time = Date.UTC(date.getUTCFullYear(), date.getUTCMonth(), date.getUTCDate()) - MINUTE;
    } else if (!schedule.hours[date.getUTCHours()]) {
      time = Math.floor(time / HOUR) * HOUR - MINUTE;
    } else if (!schedule.minutes[date.getUTCMinutes()]) {
      time -= MINUTE;
    } else {
      return time;
    }
  }
  return undefined;
}

// ------------------------------------------------------------------------------------ ISO 8601

const DURATION = /^P(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$/;
const WEEKS = /^P(\d+)W$/;
/** A full UTC date-time with a zone: `2026-12-06T00:00:00Z`, `…T01:00:00.5+01:00`. */
const DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:\d{2})$/;

/** Date.parse rolls Feb 30 over into March: the calendar date must exist as written. */
function parseDateTime(text: string): number {
  if (!DATE_TIME.test(text)) return Number.NaN;
  const [year = 0, month = 0, day = 0] = text.slice(0, 10).split('-').map(Number);
  const calendar = new Date(Date.UTC(year, month - 1, day));
  if (calendar.getUTCMonth() !== month - 1 || calendar.getUTCDate() !== day) return Number.NaN;
  return Date.parse(text);
}

export function parseDuration(text: string): Duration | string {
  const weeks = WEEKS.exec(text);
  if (weeks) {
    const count = Number(weeks[1]);
    if (count === 0 || count > MAX_COMPONENT) return `duration '${text}' must be between 1 and ${MAX_COMPONENT} weeks`;
    return { years: 0, months: 0, days: 7 * count, millis: 0 };
  }
  const match = DURATION.exec(text);
  if (!match || text === 'P' || text.endsWith('T')) {
    return `duration '${text}' is not ISO 8601 PnYnMnDTnHnMnS or PnW`;
  }
  const [years = 0, months = 0, days = 0, hours = 0, minutes = 0, seconds = 0] = match
    .slice(1)
    .map((part) => (part === undefined ? 0 : Number(part)));
  if ([years, months, days, hours, minutes, seconds].some((part) => part > MAX_COMPONENT)) {
    return `duration '${text}' has a component over ${MAX_COMPONENT}`;
  }
  const duration = { years, months, days, millis: ((hours * 60 + minutes) * 60 + seconds) * 1000 };
  if (years + months + days === 0 && duration.millis < 1000) return `duration '${text}' must be at least 1 second`;
  return duration;
}

export function parseIso(input: string): Result<IsoSchedule, InvalidSchedule> {
  const text = input.trim();
  const parts = text.split('/');
  if (parts.length !== 3) return invalid(text, 'expected R[n]/<start>/<duration>');
  const [repeat = '', startText = '', durationText = ''] = parts;
  if (!/^R\d*$/.test(repeat)) return invalid(text, `'${repeat}' is not R or R<n>`);
  const repetitions = repeat === 'R' ? undefined : Number(repeat.slice(1));
  if (repetitions !== undefined && repetitions > MAX_REPETITIONS) {
    return invalid(text, `at most ${MAX_REPETITIONS} repetitions`);
  }
  let start: number | undefined;
  if (startText !== '') {
    start = parseDateTime(startText);
    if (Number.isNaN(start)) return invalid(text, `start '${startText}' is not an ISO 8601 date-time with a zone`);
  }
  const period = parseDuration(durationText);
  if (typeof period === 'string') return invalid(text, period);
  return ok({ kind: 'iso', text, repetitions, start, period });
}

/** `time` plus `count` whole months, the day clamped to the target month's length (as java.time does). */
function addMonths(time: number, count: number): number {
  const date = new Date(time);
  const target = new Date(Date.UTC(date.getUTCFullYear(), date.getUTCMonth() + count, 1));
  const lastDay = new Date(Date.UTC(target.getUTCFullYear(), target.getUTCMonth() + 1, 0)).getUTCDate();
  target.setUTCDate(Math.min(date.getUTCDate(), lastDay));
  return target.getTime() + (time - Date.UTC(date.getUTCFullYear(), date.getUTCMonth(), date.getUTCDate()));
}

/** Tick k: start + k × period, calendar parts first (years and months), then days and time. */
export function isoTick(schedule: IsoSchedule, start: number, k: number): number {
  const { years, months, days, millis } = schedule.period;
  const calendar = years * 12 + months === 0 ? start : addMonths(start, k * (years * 12 + months));
  return calendar + k * (days * DAY + millis);
}

/** The largest k with tick(k) ≤ time (may be −1), ignoring the repetition bound. */
function isoIndexAtOrBefore(schedule: IsoSchedule, start: number, time: number): number {
  const { years, months, days, millis } = schedule.period;
  const approximate = (years * 12 + months) * 30.436875 * DAY + days * DAY + millis;
  let k = Math.max(-1, Math.floor((time - start) / approximate));
  while (k >= 0 && isoTick(schedule, start, k) > time) k--;
  while (isoTick(schedule, start, k + 1) <= time) k++;
  return k;
}

function isoNext(schedule: IsoSchedule, after: number): number | undefined {
  if (schedule.start === undefined) return undefined;
  const k = isoIndexAtOrBefore(schedule, schedule.start, after) + 1;
  if (schedule.repetitions !== undefined && k >= schedule.repetitions) return undefined;
  return isoTick(schedule, schedule.start, k);
}

function isoPrevious(schedule: IsoSchedule, atOrBefore: number): number | undefined {
  if (schedule.start === undefined) return undefined;
  let k = isoIndexAtOrBefore(schedule, schedule.start, atOrBefore);
  if (schedule.repetitions !== undefined) k = Math.min(k, schedule.repetitions - 1);
  return k < 0 ? undefined : isoTick(schedule, schedule.start, k);
}

// -------------------------------------------------------------------------------------- the API

/** A schedule in either form: `R…` is an ISO 8601 repeating interval, anything else cron. */
export function parseSchedule(input: string): Result<Schedule, InvalidSchedule> {
  if (input.length > MAX_SCHEDULE_LENGTH) {
    return failure('INVALID_SCHEDULE', `Invalid schedule: longer than ${MAX_SCHEDULE_LENGTH} characters`);
  }
  return input.trim().startsWith('R') ? parseIso(input) : parseCron(input);
}

/** The schedule's text with an empty ISO start filled in (`R5//PT1M` → `R5/<start>/PT1M`); cron unchanged. */
export function withStart(schedule: Schedule, start: number): string {
  if (schedule.kind === 'cron' || schedule.start !== undefined) return schedule.text;
  const [repeat, , duration] = schedule.text.split('/');
  return `${repeat}/${new Date(start).toISOString()}/${duration}`;
}

/** The first tick strictly after `after` (ms since the epoch); undefined when there is none (R<n> ran out). */
export function nextTick(schedule: Schedule, after: number): number | undefined {
  return schedule.kind === 'cron' ? cronNext(schedule, after) : isoNext(schedule, after);
}

/** The last tick at or before `atOrBefore`; undefined when there is none. */
export function previousTick(schedule: Schedule, atOrBefore: number): number | undefined {
  return schedule.kind === 'cron' ? cronPrevious(schedule, atOrBefore) : isoPrevious(schedule, atOrBefore);
}

export interface DueTick {
  /** The tick to run now: the latest one in (since, now]; undefined when none is due. */
  readonly due: number | undefined;
  /** Ticks in (since, now] before `due`, passed over (missed while down): they do not run. */
  readonly skipped: boolean;
  /** The next tick after `now`, for the timer; undefined when the schedule has ended. */
  readonly next: number | undefined;
}

/**
 * What a timer firing at `now` should do, given the last tick that ran (or the job's creation time when
 * none has): missed ticks collapse into one run, as Chronos does.
 */
export function dueTick(schedule: Schedule, since: number, now: number): DueTick {
  const next = nextTick(schedule, Math.max(since, now));
  const first = nextTick(schedule, since);
  if (first === undefined || first > now) return { due: undefined, skipped: false, next };
  const due = previousTick(schedule, now) ?? first;
  return { due, skipped: due !== first, next };
}
