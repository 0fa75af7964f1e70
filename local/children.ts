/**
 * What the local cluster's child processes share: the entry beside a module (TypeScript through tsx, or the
 * build's JavaScript), waiting for a child to exit, and killing the ones still running when this process exits.
 */
import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** A Node child's entry `name` (without extension) beside `base` (the caller's import.meta.url), and its flags. */
export function childEntry(base: string, name: string): { file: string; execArgv: string[] } {
  const source = base.endsWith('.ts');
  const file = fileURLToPath(new URL(`./${name}${source ? '.ts' : '.js'}`, base));
  // A profiled cluster (node --cpu-prof) profiles its children too: NODE_OPTIONS may not carry the flag.
  const profiling = process.execArgv.filter((flag) => flag.startsWith('--cpu-prof'));
  return { file, execArgv: [...(source ? ['--import', import.meta.resolve('tsx')] : []), ...profiling] };
}

/** True once `child` has exited, or when it does within `timeoutMs`. */
export async function waitForExit(child: ChildProcess, timeoutMs: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return true;
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), timeoutMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

/** Stops `child` with SIGTERM, and SIGKILL if it has not exited within `timeoutMs`. */
export async function terminate(child: ChildProcess, timeoutMs = 5_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  if (!(await waitForExit(child, timeoutMs))) {
    child.kill('SIGKILL');
    await waitForExit(child, timeoutMs);
  }
}

const live = new Set<ChildProcess>();
let exitHookInstalled = false;

/** If this process exits without stopping `child` (process.exit, an uncaught error), it is killed. */
export function killOnExit(child: ChildProcess): void {
  live.add(child);
  child.once('exit', () => live.delete(child));
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const proc of live) if (proc.pid) process.kill(proc.pid, 'SIGKILL');
  });
}
