/**
 * What bench:jobs reports about one run, computed from each job's times (all ms since the epoch, one
 * machine's clock): submitted (the API's 201 received), started (its task's TASK_RUNNING, the agent's
 * timestamp) and ended (its terminal update).
 *
 * The scheduling overhead per job leaves out the wait for a free slot: the cluster has `slots` places
 * (agents × what fits one job), and each start takes the slot that frees first. A job could have started
 * at ready = max(its submission, that slot's previous job's end); its overhead is start − ready, the time
 * the master, the Jobs framework and the agent took to get it running once both it and a slot were there.
 */

export interface JobTimes {
  readonly submitted: number;
  readonly started: number;
  readonly ended: number;
}

export interface Distribution {
  readonly p50: number;
  readonly p99: number;
  readonly mean: number;
  readonly max: number;
}

function round(ms: number): number {
  return Math.round(ms * 10) / 10;
}

export function distribution(values: readonly number[]): Distribution {
  if (values.length === 0) return { p50: NaN, p99: NaN, mean: NaN, max: NaN };
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number;
  const mean = sorted.reduce((sum, value) => sum + value, 0) / sorted.length;
  return { p50: round(at(0.5)), p99: round(at(0.99)), mean: round(mean), max: round(sorted.at(-1) as number) };
}

/** A min-heap of slot free times. */
class Slots {
  private readonly heap: number[];

  constructor(count: number) {
    this.heap = Array.from({ length: count }, () => Number.NEGATIVE_INFINITY);
  }

  /** Takes the slot that frees first; returns when it freed. */
  take(): number {
    const heap = this.heap;
    const top = heap[0] as number;
    const last = heap.pop() as number;
    if (heap.length > 0) {
      heap[0] = last;
      for (let i = 0; ;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < heap.length && (heap[l] as number) < (heap[m] as number)) m = l;
        if (r < heap.length && (heap[r] as number) < (heap[m] as number)) m = r;
        if (m === i) break;
        [heap[i], heap[m]] = [heap[m] as number, heap[i] as number];
        i = m;
      }
    }
    return top;
  }

  /** Gives a slot back, free from `at`. */
  give(at: number): void {
    const heap = this.heap;
    heap.push(at);
    for (let i = heap.length - 1; i > 0;) {
      const parent = (i - 1) >> 1;
      if ((heap[parent] as number) <= (heap[i] as number)) break;
      [heap[i], heap[parent]] = [heap[parent] as number, heap[i] as number];
      i = parent;
    }
  }
}

/** Per job (in start order): start − max(submission, the freed slot's time); never below 0. */
export function schedulingOverheads(jobs: readonly JobTimes[], slots: number): number[] {
  const free = new Slots(Math.max(1, slots));
  const overheads: number[] = [];
  for (const job of [...jobs].sort((a, b) => a.started - b.started)) {
    const ready = Math.max(job.submitted, free.take());
    overheads.push(Math.max(0, job.started - ready));
    free.give(job.ended);
  }
  return overheads;
}
