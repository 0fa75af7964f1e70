/** The `mantle` command run as a user runs it: its own process, its output line by line. */
import { spawn, type ChildProcess } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { onOutputLines } from './lines.js';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

export interface Run {
  readonly child: ChildProcess;
  readonly lines: string[];
  readonly exited: Promise<number | null>;
  /** Resolves with the first line matching. */
  line(pattern: RegExp, timeoutMs?: number): Promise<string>;
}

/** Starts `mantle <args>` with a bare environment (PATH, HOME) plus `env`. */
export function mantle(args: readonly string[], env: Record<string, string> = {}): Run {
  const child = spawn(process.execPath, [join(ROOT, 'bin', 'mantle.js'), ...args], {
    cwd: ROOT,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, POWERTOOLS_LOG_LEVEL: 'WARN', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  const waiters = new Set<() => void>();
  onOutputLines(child, (line) => {
    lines.push(line);
    for (const wake of waiters) wake();
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    child,
    lines,
    exited,
    line: (pattern, timeoutMs = 60_000) =>
      new Promise<string>((resolve, reject) => {
        const check = () => {
          const found = lines.find((l) => pattern.test(l));
          if (!found) return;
          cleanup();
          resolve(found);
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(new Error(`no line matching ${String(pattern)}; got:\n${lines.slice(-30).join('\n')}`));
        }, timeoutMs);
        const cleanup = () => {
          clearTimeout(timer);
          waiters.delete(check);
        };
        waiters.add(check);
        check();
      }),
  };
}

/** Runs `mantle <args>` to its end. */
export async function run(
  args: readonly string[],
  env: Record<string, string> = {},
): Promise<{ code: number | null; output: string; ms: number }> {
  const started = Date.now();
  const child = mantle(args, env);
  const code = await child.exited;
  return { code, output: child.lines.join('\n'), ms: Date.now() - started };
}
