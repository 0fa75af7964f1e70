import { describe, expect, it } from 'vitest';
import { HealthChecker, HealthCheckState, healthCheckPolicy, type HealthEvent } from '../../agent/health-checker.js';
import { commandProbe, httpProbe, tcpProbe } from '../../agent/health-probes.js';
import { Lifecycle } from '../../agent/lifecycle.js';
import { createServer } from 'node:http';
import { createServer as createNetServer, type AddressInfo } from 'node:net';

const policy = { delayMs: 0, intervalMs: 10, timeoutMs: 1000, consecutiveFailures: 3, gracePeriodMs: 100 };

describe('health check decisions (Mesos semantics)', () => {
  it('takes Mesos defaults', () => {
    expect(healthCheckPolicy({ type: 'TCP', tcp: { port: 1 } })).toEqual({
      delayMs: 15_000,
      intervalMs: 10_000,
      timeoutMs: 20_000,
      consecutiveFailures: 3,
      gracePeriodMs: 10_000,
    });
  });

  it('ignores failures in the grace period until the first success', () => {
    const state = new HealthCheckState(policy, 0);
    expect(state.result(false, 50)).toEqual({ kill: false });
    expect(state.result(true, 60)).toEqual({ report: true, kill: false });
    // After a success the grace period no longer applies.
    expect(state.result(false, 70)).toEqual({ report: false, kill: false });
  });

  it('reports every failure, the first success and the first after failures, and kills after N in a row', () => {
    const state = new HealthCheckState(policy, 0);
    expect(state.result(false, 200)).toEqual({ report: false, kill: false });
    expect(state.result(true, 210)).toEqual({ report: true, kill: false });
    expect(state.result(true, 220)).toEqual({ kill: false });
    expect(state.result(false, 230)).toEqual({ report: false, kill: false });
    expect(state.result(false, 240)).toEqual({ report: false, kill: false });
    expect(state.result(false, 250)).toEqual({ report: false, kill: true });
    expect(state.consecutiveFailures).toBe(3);
  });
});

describe('the health checker and its probes', () => {
  it('runs the probe on its timers, times it out, and stops after the kill', async () => {
    const life = new Lifecycle();
    const events: HealthEvent[] = [];
    let calls = 0;
    const checker = new HealthChecker(
      { delayMs: 0, intervalMs: 5, timeoutMs: 30, consecutiveFailures: 2, gracePeriodMs: 0 },
      (signal) => {
        calls++;
        return new Promise((resolve) =>
          signal.addEventListener('abort', () => resolve({ healthy: true, message: 'late' })),
        );
      },
      (event) => events.push(event),
      life,
    );
    checker.start();
    const deadline = Date.now() + 5_000;
    while (!events.some((event) => event.kill) && Date.now() < deadline)
      await new Promise((resolve) => setTimeout(resolve, 10));
    expect(events.map((event) => [event.healthy, event.kill])).toEqual([
      [false, false],
      [false, true],
    ]);
    expect(events[0]?.message).toMatch(/timed out/);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(calls).toBe(2);
    life.end();
  });

  it('HTTP: 200..399 is healthy, anything else and no answer are not', async () => {
    let status = 200;
    const server = createServer((_request, response) => response.writeHead(status).end());
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    const probe = httpProbe('127.0.0.1', { port, path: '/health' });
    const signal = new AbortController().signal;
    expect((await probe(signal)).healthy).toBe(true);
    status = 302;
    expect((await probe(signal)).healthy).toBe(true);
    status = 500;
    expect(await probe(signal)).toMatchObject({ healthy: false, message: /returned 500/ });
    server.close();
    await new Promise((resolve) => server.once('close', resolve));
    expect(await probe(signal)).toMatchObject({ healthy: false, message: /failed/ });
  });

  it('TCP: a listening port is healthy, a closed one is not', async () => {
    const server = createNetServer((socket) => socket.end());
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    const signal = new AbortController().signal;
    expect((await tcpProbe('127.0.0.1', port)(signal)).healthy).toBe(true);
    await new Promise((resolve) => server.close(resolve));
    expect((await tcpProbe('127.0.0.1', port)(signal)).healthy).toBe(false);
  });

  it('COMMAND: the exit code decides', async () => {
    const signal = new AbortController().signal;
    expect((await commandProbe(() => Promise.resolve(0))(signal)).healthy).toBe(true);
    expect(await commandProbe(() => Promise.resolve(7))(signal)).toMatchObject({ healthy: false, message: /status 7/ });
  });
});
