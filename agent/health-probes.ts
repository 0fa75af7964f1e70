/**
 * The three kinds of health check and check (Mesos `HealthCheck.Type`, `CheckInfo.Type`,
 * src/checks/checker_process.cpp); each result says what it observed (exit code, HTTP status, connection). HTTP and
 * TCP go to the task's own address and port (for tasks on the host network: 127.0.0.1); HTTP succeeds
 * on a status in 200..399, as Mesos's checker (curl) does, https without certificate verification, as
 * curl -k does. COMMAND checks run through the containerizer (in the container's environment and
 * sandbox).
 */
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { connect } from 'node:net';
import type { HealthCheck } from '#shared/protocol/mesos.js';
import type { Probe, ProbeResult } from './health-checker.js';

/** What an HTTP check's answer means: healthy on 200..399, as curl in Mesos's checker counts it. */
export function httpAnswer(status: number, where: string): ProbeResult {
  return {
    healthy: status >= 200 && status < 400,
    message: `HTTP check on ${where} returned ${status}`,
    observed: { statusCode: status },
  };
}

export function httpProbe(host: string, check: NonNullable<HealthCheck['http']>): Probe {
  const scheme = check.scheme ?? 'http';
  const path = check.path ?? '/';
  return (signal) =>
    new Promise<ProbeResult>((resolve) => {
      const request = (scheme === 'https' ? httpsRequest : httpRequest)(
        { host, port: check.port, path, method: 'GET', signal, rejectUnauthorized: false },
        (response) => {
          response.resume();
          resolve(httpAnswer(response.statusCode ?? 0, `${scheme}://${host}:${check.port}${path}`));
        },
      );
      request.on('error', (error) =>
        resolve({ healthy: false, message: `HTTP check on port ${check.port} failed: ${error.message}` }),
      );
      request.end();
    });
}

export function tcpProbe(host: string, port: number): Probe {
  return (signal) =>
    new Promise<ProbeResult>((resolve) => {
      const socket = connect({ host, port });
      const finish = (result: ProbeResult) => {
        socket.destroy();
        resolve(result);
      };
      signal.addEventListener('abort', () => finish({ healthy: false, message: `TCP check timed out` }), {
        once: true,
      });
      socket.once('connect', () =>
        finish({
          healthy: true,
          message: `TCP connection to ${host}:${port} succeeded`,
          observed: { connected: true },
        }),
      );
      socket.once('error', (error) =>
        finish({
          healthy: false,
          message: `TCP connection to ${host}:${port} failed: ${error.message}`,
          observed: { connected: false },
        }),
      );
    });
}

/** A COMMAND check from a function that runs a command in the container and gives its exit code. */
export function commandProbe(run: (signal: AbortSignal) => Promise<number>): Probe {
  return async (signal) => {
    const code = await run(signal);
    return { healthy: code === 0, message: `Command check exited with status ${code}`, observed: { exitCode: code } };
  };
}
