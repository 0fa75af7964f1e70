/**
 * Checks (Mesos `Checker`, src/checks/checker.cpp and docs/health-checks.md "Mesos Checks"): a COMMAND,
 * HTTP or TCP probe on the health checks' timing (defaults: delay 15 s, interval 10 s, timeout 20 s),
 * whose result only informs — it never kills. The result is a `CheckStatusInfo`: the COMMAND's exit
 * code, the HTTP status code, whether the TCP connection succeeded; a probe that could not be performed
 * (a timeout, an HTTP connection that failed) gives the type's empty result, as Mesos does. A result is
 * reported only when it differs from the one before. `checkStatus` and `CheckStatusTracker` are pure.
 */
import type { CheckInfo, TaskStatus } from '#shared/protocol/mesos.js';
import { ProbeLoop, type Probe, type ProbeResult, type ProbeTiming } from './health-checker.js';
import type { Lifecycle } from './lifecycle.js';

export type CheckStatusInfo = NonNullable<TaskStatus['check_status']>;
export type CheckType = 'COMMAND' | 'HTTP' | 'TCP';

export function checkTiming(check: CheckInfo): ProbeTiming {
  return {
    delayMs: (check.delay_seconds ?? 15) * 1000,
    intervalMs: (check.interval_seconds ?? 10) * 1000,
    timeoutMs: (check.timeout_seconds ?? 20) * 1000,
  };
}

/** The result before any check ran: the type and its empty result (Mesos's first TASK_RUNNING carries it). */
export function emptyCheckStatus(type: CheckType): CheckStatusInfo {
  switch (type) {
    case 'COMMAND':
      return { type, command: {} };
    case 'HTTP':
      return { type, http: {} };
    case 'TCP':
      return { type, tcp: {} };
  }
}

export function checkStatus(type: CheckType, result: ProbeResult): CheckStatusInfo {
  const observed = result.observed;
  switch (type) {
    case 'COMMAND':
      return observed?.exitCode === undefined
        ? emptyCheckStatus(type)
        : { type, command: { exit_code: observed.exitCode } };
    case 'HTTP':
      return observed?.statusCode === undefined
        ? emptyCheckStatus(type)
        : { type, http: { status_code: observed.statusCode } };
    case 'TCP':
      return observed?.connected === undefined
        ? emptyCheckStatus(type)
        : { type, tcp: { succeeded: observed.connected } };
  }
}

function sameStatus(a: CheckStatusInfo, b: CheckStatusInfo): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** Which results to report: those that differ from the last one reported (the empty one at first). */
export class CheckStatusTracker {
  private last: CheckStatusInfo;

  constructor(readonly type: CheckType) {
    this.last = emptyCheckStatus(type);
  }

  get current(): CheckStatusInfo {
    return this.last;
  }

  /** The status to report, or undefined when it has not changed. */
  result(result: ProbeResult): CheckStatusInfo | undefined {
    const status = checkStatus(this.type, result);
    if (sameStatus(status, this.last)) return undefined;
    this.last = status;
    return status;
  }
}

export class Checker {
  private readonly tracker: CheckStatusTracker;
  private readonly loop: ProbeLoop;

  constructor(
    check: CheckInfo & { type: CheckType },
    probe: Probe,
    onChange: (status: CheckStatusInfo, message: string) => void,
    life: Lifecycle,
  ) {
    this.tracker = new CheckStatusTracker(check.type);
    this.loop = new ProbeLoop(
      checkTiming(check),
      probe,
      (result) => {
        const changed = this.tracker.result(result);
        if (changed) onChange(changed, result.message);
        return true;
      },
      life,
    );
  }

  /** The last result (the empty one before the first check). */
  get status(): CheckStatusInfo {
    return this.tracker.current;
  }

  start(): void {
    this.loop.start();
  }

  stop(): void {
    this.loop.stop();
  }
}
