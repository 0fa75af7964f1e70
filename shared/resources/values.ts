/**
 * Arithmetic on Mesos values (src/common/values.cpp): scalars, ranges and sets.
 *
 * Scalars are fixed-point with three decimal digits, as in Mesos: every result is rounded to a
 * multiple of 0.001, and sums are computed on integer thousandths so that (a + b) - b === a exactly.
 */
import type { Range } from '../protocol/mesos.js';

export const SCALAR_PRECISION = 1000;
/** The largest scalar whose thousandths are still exact integers in a double. */
export const MAX_SCALAR = Math.floor(Number.MAX_SAFE_INTEGER / SCALAR_PRECISION);

export function toMillis(value: number): number {
  return Math.round(value * SCALAR_PRECISION);
}

export function fromMillis(millis: number): number {
  return millis / SCALAR_PRECISION;
}

/** Rounds a scalar to Mesos's precision. */
export function roundScalar(value: number): number {
  return fromMillis(toMillis(value));
}

export function addScalars(left: number, right: number): number {
  return fromMillis(toMillis(left) + toMillis(right));
}

export function subtractScalars(left: number, right: number): number {
  return fromMillis(toMillis(left) - toMillis(right));
}

// ------------------------------------------------------------------------------------------ ranges

/** Sorts and coalesces ranges: overlapping and adjacent ranges merge ([1-2],[3-4] → [1-4]), as Mesos does. */
export function normalizeRanges(ranges: readonly Range[]): Range[] {
  if (ranges.length === 0) return [];
  const sorted = [...ranges].sort((a, b) => a.begin - b.begin || a.end - b.end);
  const first = sorted[0] as Range;
  const result: Range[] = [{ begin: first.begin, end: first.end }];
  for (let i = 1; i < sorted.length; i++) {
    const next = sorted[i] as Range;
    const last = result[result.length - 1] as Range;
    if (next.begin <= last.end + 1) {
      if (next.end > last.end) last.end = next.end;
    } else {
      result.push({ begin: next.begin, end: next.end });
    }
  }
  return result;
}

export function addRanges(left: readonly Range[], right: readonly Range[]): Range[] {
  return normalizeRanges([...left, ...right]);
}

/** left − right on normalized inputs; the result is normalized. */
export function subtractRanges(left: readonly Range[], right: readonly Range[]): Range[] {
  const remove = normalizeRanges(right);
  const result: Range[] = [];
  let j = 0;
  for (const range of normalizeRanges(left)) {
    let begin = range.begin;
    const end = range.end;
    // Skip removals that end before this range starts.
    while (j < remove.length && (remove[j] as Range).end < begin) j++;
    let k = j;
    while (k < remove.length && begin <= end) {
      const cut = remove[k] as Range;
      if (cut.begin > end) break;
      if (cut.begin > begin) result.push({ begin, end: cut.begin - 1 });
      begin = Math.max(begin, cut.end + 1);
      if (cut.end > end) break;
      k++;
    }
    if (begin <= end) result.push({ begin, end });
  }
  return result;
}

/** True when every value of `inner` lies in `outer`. */
export function rangesContain(outer: readonly Range[], inner: readonly Range[]): boolean {
  const covering = normalizeRanges(outer);
  return normalizeRanges(inner).every((range) =>
    covering.some((cover) => cover.begin <= range.begin && range.end <= cover.end),
  );
}

/** The number of values in the ranges (ports count as values). */
export function rangesCount(ranges: readonly Range[]): number {
  return normalizeRanges(ranges).reduce((total, range) => total + (range.end - range.begin + 1), 0);
}

/** True when some two ranges of the list share a value (the form Mesos rejects inside one Resource). */
export function rangesOverlap(ranges: readonly Range[]): boolean {
  const sorted = [...ranges].sort((a, b) => a.begin - b.begin);
  for (let i = 1; i < sorted.length; i++) {
    if ((sorted[i] as Range).begin <= (sorted[i - 1] as Range).end) return true;
  }
  return false;
}

export function rangesEqual(left: readonly Range[], right: readonly Range[]): boolean {
  const a = normalizeRanges(left);
  const b = normalizeRanges(right);
  return a.length === b.length && a.every((range, i) => range.begin === b[i]?.begin && range.end === b[i]?.end);
}

// -------------------------------------------------------------------------------------------- sets

export function normalizeSet(items: readonly string[]): string[] {
  return [...new Set(items)].sort();
}

export function addSets(left: readonly string[], right: readonly string[]): string[] {
  return normalizeSet([...left, ...right]);
}

export function subtractSets(left: readonly string[], right: readonly string[]): string[] {
  const remove = new Set(right);
  return normalizeSet(left.filter((item) => !remove.has(item)));
}

export function setContains(outer: readonly string[], inner: readonly string[]): boolean {
  const items = new Set(outer);
  return inner.every((item) => items.has(item));
}

export function setsEqual(left: readonly string[], right: readonly string[]): boolean {
  return setContains(left, right) && setContains(right, left);
}
