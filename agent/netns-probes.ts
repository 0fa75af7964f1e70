/**
 * HTTP and TCP probes of a task in a pod (Mesos's checker enters the task's network namespace to run
 * curl or its TCP connect helper): the agent cannot reach a pod's own namespace, so each probe runs a
 * short Node program inside it through `nsenter --net=<the pod's namespace file>`, which connects to
 * 127.0.0.1 there and prints what it observed. The results read as the host probes' do (health-probes.ts).
 */
import { execFile } from 'node:child_process';
import type { HealthCheck } from '#shared/protocol/mesos.js';
import type { Probe, ProbeResult } from './health-checker.js';
import { httpAnswer } from './health-probes.js';

/** Prints the HTTP status, or exits 1 with the error; for TCP, exits 0 once connected. */
const PROGRAM = `
const [type, port, path, scheme] = process.argv.slice(1);
const fail = (error) => { process.stderr.write(error.message); process.exit(1); };
if (type === 'TCP') {
  require('net').connect({ host: '127.0.0.1', port: Number(port) }).on('connect', () => process.exit(0)).on('error', fail);
} else {
  const options = { host: '127.0.0.1', port: Number(port), path, method: 'GET', rejectUnauthorized: false };
  require(scheme === 'https' ? 'https' : 'http').request(options, (response) => {
    process.stdout.write(String(response.statusCode ?? 0));
    process.exit(0);
  }).on('error', fail).end();
}`;

interface Outcome {
  readonly ok: boolean;
  readonly stdout: string;
  readonly error: string;
}

function runInNetns(netns: string, args: readonly string[], signal: AbortSignal): Promise<Outcome> {
  return new Promise((resolve) => {
    execFile(
      'nsenter',
      [`--net=${netns}`, '--', process.execPath, '-e', PROGRAM, ...args],
      { signal, timeout: 60_000, killSignal: 'SIGKILL' },
      (error, stdout, stderr) => {
        const why = signal.aborted ? 'timed out' : stderr.trim() || error?.message || '';
        resolve({ ok: error === null, stdout: stdout.trim(), error: why });
      },
    );
  });
}

export function netnsHttpProbe(netns: string, check: NonNullable<HealthCheck['http']>): Probe {
  const scheme = check.scheme ?? 'http';
  const path = check.path ?? '/';
  const where = `${scheme}://127.0.0.1:${check.port}${path} in the pod's network`;
  return async (signal): Promise<ProbeResult> => {
    const outcome = await runInNetns(netns, ['HTTP', String(check.port), path, scheme], signal);
    const status = Number(outcome.stdout);
    if (!outcome.ok || !Number.isInteger(status)) {
      return { healthy: false, message: `HTTP check on ${where} failed: ${outcome.error}` };
    }
    return httpAnswer(status, where);
  };
}

export function netnsTcpProbe(netns: string, port: number): Probe {
  const where = `127.0.0.1:${port} in the pod's network`;
  return async (signal): Promise<ProbeResult> => {
    const outcome = await runInNetns(netns, ['TCP', String(port)], signal);
    return outcome.ok
      ? { healthy: true, message: `TCP connection to ${where} succeeded`, observed: { connected: true } }
      : {
          healthy: false,
          message: `TCP connection to ${where} failed: ${outcome.error}`,
          observed: { connected: false },
        };
  };
}
