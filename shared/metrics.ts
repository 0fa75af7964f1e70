/**
 * An in-process metrics registry with Mesos's naming and snapshot shape (`/metrics/snapshot`: a flat
 * `{ "name": value }` object; timers add /count /min /max /p50 /p90 /p95 /p99 /p999 /p9999).
 * Hosts decide where a snapshot goes (the HTTP endpoint locally, CloudWatch EMF in Lambda).
 */

const PERCENTILES: ReadonlyArray<[string, number]> = [
  ['p50', 0.5],
  ['p90', 0.9],
  ['p95', 0.95],
  ['p99', 0.99],
  ['p999', 0.999],
  ['p9999', 0.9999],
];

/** Timers keep a window of recent samples, as Mesos's do (its window is time-based, ours count-based). */
const WINDOW = 1000;

class Timer {
  private readonly samples: number[] = [];
  private next = 0;
  count = 0;

  observe(ms: number): void {
    this.count++;
    if (this.samples.length < WINDOW) this.samples.push(ms);
    else this.samples[this.next] = ms;
    this.next = (this.next + 1) % WINDOW;
  }

  snapshot(name: string, into: Record<string, number>): void {
    if (this.samples.length === 0) return;
    const sorted = [...this.samples].sort((a, b) => a - b);
    into[name] = this.samples[(this.next + WINDOW - 1) % WINDOW] ?? (sorted.at(-1) as number);
    into[`${name}/count`] = this.count;
    into[`${name}/min`] = sorted[0] as number;
    into[`${name}/max`] = sorted.at(-1) as number;
    for (const [label, q] of PERCENTILES) {
      into[`${name}/${label}`] = sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number;
    }
  }
}

export class Metrics {
  private readonly counters = new Map<string, number>();
  private readonly gauges = new Map<string, () => number>();
  private readonly timers = new Map<string, Timer>();

  increment(name: string, by = 1): void {
    this.counters.set(name, (this.counters.get(name) ?? 0) + by);
  }

  /** A value read at snapshot time. */
  gauge(name: string, read: () => number): void {
    this.gauges.set(name, read);
  }

  observe(name: string, ms: number): void {
    let timer = this.timers.get(name);
    if (!timer) {
      timer = new Timer();
      this.timers.set(name, timer);
    }
    timer.observe(ms);
  }

  /** Runs `work`, recording its duration under `name` whether it succeeds or throws. */
  async time<T>(name: string, work: () => Promise<T>): Promise<T> {
    const start = performance.now();
    try {
      return await work();
    } finally {
      this.observe(name, performance.now() - start);
    }
  }

  /** Which names are counters (only ever go up), for exporters that type their series. */
  counterNames(): ReadonlySet<string> {
    return new Set(this.counters.keys());
  }

  snapshot(): Record<string, number> {
    const result: Record<string, number> = {};
    for (const [name, value] of this.counters) result[name] = value;
    for (const [name, read] of this.gauges) result[name] = read();
    for (const [name, timer] of this.timers) timer.snapshot(name, result);
    return result;
  }
}
