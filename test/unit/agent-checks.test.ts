import { describe, expect, it } from 'vitest';
import { Checker, checkStatus, CheckStatusTracker, checkTiming, emptyCheckStatus } from '../../agent/checker.js';
import type { ProbeResult } from '../../agent/health-checker.js';
import { Lifecycle } from '../../agent/lifecycle.js';

const exited = (code: number): ProbeResult => ({ healthy: code === 0, message: '', observed: { exitCode: code } });
const timedOut: ProbeResult = { healthy: false, message: 'Check timed out after 1s' };

describe('check results (Mesos CheckStatusInfo)', () => {
  it("takes Mesos's defaults: delay 15 s, interval 10 s, timeout 20 s", () => {
    expect(checkTiming({ type: 'TCP', tcp: { port: 1 } })).toEqual({
      delayMs: 15_000,
      intervalMs: 10_000,
      timeoutMs: 20_000,
    });
    expect(checkTiming({ type: 'TCP', delay_seconds: 0, interval_seconds: 0.5, timeout_seconds: 2 })).toEqual({
      delayMs: 0,
      intervalMs: 500,
      timeoutMs: 2_000,
    });
  });

  it('gives the exit code, the HTTP status, whether TCP connected; empty when nothing was observed', () => {
    expect(checkStatus('COMMAND', exited(3))).toEqual({ type: 'COMMAND', command: { exit_code: 3 } });
    expect(checkStatus('COMMAND', timedOut)).toEqual({ type: 'COMMAND', command: {} });
    expect(checkStatus('HTTP', { healthy: false, message: '', observed: { statusCode: 503 } })).toEqual({
      type: 'HTTP',
      http: { status_code: 503 },
    });
    expect(checkStatus('HTTP', { healthy: false, message: 'ECONNREFUSED' })).toEqual(emptyCheckStatus('HTTP'));
    expect(checkStatus('TCP', { healthy: false, message: '', observed: { connected: false } })).toEqual({
      type: 'TCP',
      tcp: { succeeded: false },
    });
  });

  it('reports a result only when it changed', () => {
    const tracker = new CheckStatusTracker('COMMAND');
    expect(tracker.current).toEqual({ type: 'COMMAND', command: {} });
    expect(tracker.result(timedOut)).toBeUndefined();
    expect(tracker.result(exited(1))).toEqual({ type: 'COMMAND', command: { exit_code: 1 } });
    expect(tracker.result(exited(1))).toBeUndefined();
    expect(tracker.result(exited(0))).toEqual({ type: 'COMMAND', command: { exit_code: 0 } });
    expect(tracker.result(timedOut)).toEqual({ type: 'COMMAND', command: {} });
    expect(tracker.current).toEqual({ type: 'COMMAND', command: {} });
  });

  it('runs the probe on its timer, reports changes, never stops by itself, and times a slow probe out', async () => {
    const life = new Lifecycle();
    const codes = [1, 1, 0, -1, 0];
    const changes: unknown[] = [];
    const checker = new Checker(
      { type: 'COMMAND', delay_seconds: 0, interval_seconds: 0.01, timeout_seconds: 0.05 },
      async (signal) => {
        const code = codes.shift() ?? 0;
        if (code === -1) await new Promise((resolve) => signal.addEventListener('abort', resolve));
        return exited(code);
      },
      (status) => changes.push(status),
      life,
    );
    checker.start();
    await expect.poll(() => codes.length, { timeout: 5_000 }).toBe(0);
    await expect.poll(() => changes.length, { timeout: 5_000 }).toBe(4);
    checker.stop();
    life.end();
    expect(changes).toEqual([
      { type: 'COMMAND', command: { exit_code: 1 } },
      { type: 'COMMAND', command: { exit_code: 0 } },
      { type: 'COMMAND', command: {} },
      { type: 'COMMAND', command: { exit_code: 0 } },
    ]);
  });
});
