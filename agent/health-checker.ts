/**
 * Health checks (Mesos `HealthChecker`, src/checks/health_checker.cpp): the first check after `delay_seconds`, then one every
 * `interval_seconds` after the previous one ended; a check slower than `timeout_seconds` fails; failures
 * inside `grace_period_seconds` from the start are ignored until the first success; every failure after
 * that is reported (healthy: false) and the first success, and the first after failures, report healthy;
 * after `consecutive_failures` failures in a row the task is killed. The decisions are pure
 * (`HealthCheckState`); `HealthChecker` runs the probe on the timers of `ProbeLoop`, which checks
 * (checker.ts) share.
 */
import type { HealthCheck } from '#shared/protocol/mesos.js';
import type { Lifecycle } from './lifecycle.js';

export interface HealthCheckPolicy {
  readonly delayMs: number;
  readonly intervalMs: number;
  readonly timeoutMs: number;
  readonly consecutiveFailures: number;
  readonly gracePeriodMs: number;
}

/** Mesos's defaults: delay 15 s, interval 10 s, timeout 20 s, 3 failures, grace 10 s. */
export function healthCheckPolicy(check: HealthCheck): HealthCheckPolicy {
  return {
    delayMs: (check.delay_seconds ?? 15) * 1000,
    intervalMs: (check.interval_seconds ?? 10) * 1000,
    timeoutMs: (check.timeout_seconds ?? 20) * 1000,
    consecutiveFailures: check.consecutive_failures ?? 3,
    gracePeriodMs: (check.grace_period_seconds ?? 10) * 1000,
  };
}

export interface HealthDecision {
  /** Report this health in a TASK_RUNNING update; absent: say nothing. */
  readonly report?: boolean;
  readonly kill: boolean;
}

export class HealthCheckState {
  private initializing = true;
  private failures = 0;

  constructor(
    private readonly policy: HealthCheckPolicy,
    private readonly startedAt: number,
  ) {}

  get consecutiveFailures(): number {
    return this.failures;
  }

  result(healthy: boolean, at: number): HealthDecision {
    if (healthy) {
      const report = this.initializing || this.failures > 0;
      this.initializing = false;
      this.failures = 0;
      return report ? { report: true, kill: false } : { kill: false };
    }
    if (this.initializing && at < this.startedAt + this.policy.gracePeriodMs) return { kill: false };
    this.failures++;
    return { report: false, kill: this.failures >= this.policy.consecutiveFailures };
  }
}

/** What a probe saw, for checks (Mesos `CheckStatusInfo`): absent when the probe could not be performed. */
export interface ProbeObservation {
  readonly exitCode?: number;
  readonly statusCode?: number;
  readonly connected?: boolean;
}

export interface ProbeResult {
  readonly healthy: boolean;
  readonly message: string;
  readonly observed?: ProbeObservation;
}

/** One check; it must give up by itself when `signal` aborts (the timeout). */
export type Probe = (signal: AbortSignal) => Promise<ProbeResult>;

export interface ProbeTiming {
  readonly delayMs: number;
  readonly intervalMs: number;
  readonly timeoutMs: number;
}

/**
 * The timing both health checks and checks share (Mesos `CheckerProcess`): the first probe after the
 * delay, then one every interval after the previous one ended; a probe slower than the timeout fails
 * (and observed nothing). `onResult` returns false to stop.
 */
export class ProbeLoop {
  private cancel: (() => void) | undefined;
  private stopped = false;

  constructor(
    private readonly timing: ProbeTiming,
    private readonly probe: Probe,
    private readonly onResult: (result: ProbeResult) => boolean,
    private readonly life: Lifecycle,
  ) {}

  start(): void {
    this.cancel = this.life.after(this.timing.delayMs, () => void this.check());
  }

  stop(): void {
    this.stopped = true;
    this.cancel?.();
  }

  private async check(): Promise<void> {
    if (this.stopped) return;
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), this.timing.timeoutMs);
    let result: ProbeResult;
    try {
      result = await this.probe(controller.signal);
      if (controller.signal.aborted) {
        result = { healthy: false, message: `Check timed out after ${this.timing.timeoutMs / 1000}s` };
      }
    } catch (error) {
      result = { healthy: false, message: `Check failed: ${(error as Error).message}` };
    } finally {
      clearTimeout(timer);
    }
    if (this.stopped) return;
    if (!this.onResult(result)) {
      this.stopped = true;
      return;
    }
    this.cancel = this.life.after(this.timing.intervalMs, () => void this.check());
  }
}

export interface HealthEvent {
  readonly healthy: boolean;
  readonly kill: boolean;
  readonly message: string;
  readonly consecutiveFailures: number;
}

export class HealthChecker {
  private readonly state: HealthCheckState;
  private readonly loop: ProbeLoop;

  constructor(
    policy: HealthCheckPolicy,
    probe: Probe,
    private readonly onEvent: (event: HealthEvent) => void,
    life: Lifecycle,
    private readonly now: () => number = Date.now,
  ) {
    this.state = new HealthCheckState(policy, now());
    this.loop = new ProbeLoop(policy, probe, (result) => this.decide(result), life);
  }

  start(): void {
    this.loop.start();
  }

  stop(): void {
    this.loop.stop();
  }

  /** Whether to go on checking. */
  private decide(result: ProbeResult): boolean {
    const decision = this.state.result(result.healthy, this.now());
    if (decision.report !== undefined) {
      this.onEvent({
        healthy: decision.report,
        kill: decision.kill,
        message: result.message,
        consecutiveFailures: this.state.consecutiveFailures,
      });
    }
    return !decision.kill;
  }
}
