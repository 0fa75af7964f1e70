/**
 * bench:jobs's measures (bench/support/jobs-metrics.ts): the distributions, and the scheduling overhead per
 * job with the wait for a free slot left out.
 */
import { describe, expect, it } from 'vitest';
import { distribution, schedulingOverheads } from '../../bench/support/jobs-metrics.js';

describe('bench:jobs measures', () => {
  it('summarises values as p50, p99, mean and max', () => {
    const values = Array.from({ length: 100 }, (_, i) => i + 1);
    expect(distribution(values)).toEqual({ p50: 51, p99: 100, mean: 50.5, max: 100 });
    expect(distribution([])).toEqual({ p50: NaN, p99: NaN, mean: NaN, max: NaN });
  });

  it('counts from submission while slots are free', () => {
    const jobs = [
      { submitted: 0, started: 30, ended: 40 },
      { submitted: 5, started: 20, ended: 100 },
    ];
    expect(schedulingOverheads(jobs, 2)).toEqual([15, 30]);
  });

  it('leaves out the wait for a slot: a job queued behind a full cluster counts from when its slot freed', () => {
    const jobs = [
      { submitted: 0, started: 10, ended: 1000 },
      { submitted: 0, started: 1012, ended: 1100 },
      { submitted: 500, started: 1107, ended: 1200 },
    ];
    // One slot: the second could start at 1000 (12 ms late), the third at 1100 (7 ms late).
    expect(schedulingOverheads(jobs, 1)).toEqual([10, 12, 7]);
    // Two slots: the second was ready at its submission (a slot was free); the third when the first's slot freed.
    expect(schedulingOverheads(jobs, 2)).toEqual([10, 1012, 107]);
  });

  it('never goes below zero (an end recorded after the next start)', () => {
    const jobs = [
      { submitted: 0, started: 10, ended: 50 },
      { submitted: 0, started: 45, ended: 60 },
    ];
    expect(schedulingOverheads(jobs, 1)).toEqual([10, 0]);
  });
});
