import { setMaxListeners } from 'node:events';

/**
 * The agent's life: one abort signal and every timer it set, so that `stop()` and a simulated crash end
 * all activity at once, and nothing (no checkpoint write, no queue message) happens after the end.
 */

export class AgentStopped extends Error {
  override readonly name = 'AgentStopped';
  constructor() {
    super('The agent has stopped');
  }
}

export class Lifecycle {
  private readonly controller = new AbortController();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly sleepers = new Set<() => void>();

  constructor() {
    // Every live container listens for the end of the agent; there may be hundreds.
    setMaxListeners(0, this.controller.signal);
  }

  get alive(): boolean {
    return !this.controller.signal.aborted;
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** Throws AgentStopped once the agent has ended. */
  check(): void {
    if (!this.alive) throw new AgentStopped();
  }

  /** A timer that the end of the agent cancels. Returns the function that cancels it earlier. */
  after(ms: number, run: () => void): () => void {
    if (!this.alive) return () => undefined;
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      if (this.alive) run();
    }, ms);
    this.timers.add(timer);
    return () => {
      clearTimeout(timer);
      this.timers.delete(timer);
    };
  }

  /**
   * Resolves after `ms`, or at once when the agent ends. The sleepers are a set, not listeners of the abort
   * signal: hundreds of loops sleep at once (each task's output), and a signal's listener is removed in linear time.
   */
  sleep(ms: number): Promise<void> {
    // Asked after the end, no timer is set and `end` has already run: nothing would ever resolve it.
    if (!this.alive) return Promise.resolve();
    return new Promise((resolve) => {
      this.sleepers.add(resolve);
      this.after(ms, () => {
        this.sleepers.delete(resolve);
        resolve();
      });
    });
  }

  end(): void {
    this.controller.abort();
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    for (const wake of this.sleepers) wake();
    this.sleepers.clear();
  }
}

/** Errors caused by the agent ending mid-way are expected and swallowed by the loops. */
export function isStopped(error: unknown): boolean {
  return error instanceof AgentStopped || (error instanceof Error && error.name === 'AbortError');
}
