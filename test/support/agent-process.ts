/**
 * An agent in its own process (`node --import tsx agent/main.ts`), as it runs in production: for the
 * recovery test (`kill -9` is real) and for the benchmark (the agent's event loop is its own). It is
 * known to have registered by its structured log line.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { onOutputLines } from './lines.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

export interface AgentProcess {
  readonly child: ChildProcess;
  readonly pid: number;
  /** Resolves with the agent id of the first "Agent registered/re-registered" log line. */
  readonly registered: Promise<string>;
  /** Everything it logged (JSON lines and anything else). */
  readonly output: string[];
  /** Resolves when the process has exited. */
  readonly exited: Promise<number | null>;
  /** `kill -9`. */
  crash(): Promise<void>;
  /** SIGTERM: the agent stops, its tasks keep running. */
  stop(): Promise<void>;
}

/** `nodeFlags` go to node itself (e.g. `--cpu-prof`, which NODE_OPTIONS does not take). */
export function spawnAgentProcess(
  flags: readonly string[],
  env: NodeJS.ProcessEnv = {},
  nodeFlags: readonly string[] = [],
): AgentProcess {
  const child = spawn(process.execPath, [...nodeFlags, '--import', 'tsx', join(ROOT, 'agent', 'main.ts'), ...flags], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH,
      POWERTOOLS_LOG_LEVEL: 'INFO',
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  let resolveRegistered: (id: string) => void = () => undefined;
  let rejectRegistered: (error: Error) => void = () => undefined;
  const registered = new Promise<string>((resolve, reject) => {
    resolveRegistered = resolve;
    rejectRegistered = reject;
  });
  registered.catch(() => undefined);
  const onLine = (line: string) => {
    output.push(line);
    if (!line.startsWith('{')) return;
    try {
      const entry = JSON.parse(line) as { message?: string; agentId?: string };
      if ((entry.message === 'Agent registered' || entry.message === 'Agent re-registered') && entry.agentId) {
        resolveRegistered(entry.agentId);
      }
    } catch {
      // not a log line of ours
    }
  };
  onOutputLines(child, onLine);
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => {
      rejectRegistered(new Error(`The agent exited (${code}) before registering:\n${output.slice(-20).join('\n')}`));
      resolve(code);
    }),
  );
  return {
    child,
    pid: child.pid as number,
    registered,
    output,
    exited,
    async crash() {
      child.kill('SIGKILL');
      await exited;
    },
    async stop() {
      child.kill('SIGTERM');
      await exited;
    },
  };
}
