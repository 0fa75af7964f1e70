/**
 * CPU time of a group of processes and everything they fork, from a control group of our own: on a
 * shared machine wall-clock throughput moves with the neighbours' load, the CPU seconds a system spends
 * per task much less. cgroup v2 (cpu.stat usage_usec) or v1 (cpuacct.usage); undefined where neither is
 * writable (not root, no cgroup file system), and the benchmark then reports wall clock only.
 */
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const V2 = '/sys/fs/cgroup';
const V1 = '/sys/fs/cgroup/cpuacct';

export interface CpuGroup {
  readonly path: string;
  /** CPU seconds used by the group's processes so far, the exited ones included. */
  usageSeconds(): number;
  /** The command line that starts `command` inside the group (a shell joins, then execs it). */
  wrap(command: string, args: readonly string[]): [string, string[]];
  /** Moves this process (all its threads) into the group; its later children are born there. */
  enter(): void;
  /** Moves this process back to where it was. */
  leave(): void;
  /** Removes the group once its processes are gone; returns false when it could not. */
  remove(): boolean;
}

function ownGroup(v2: boolean): string {
  const lines = readFileSync('/proc/self/cgroup', 'utf8').split('\n');
  const line = v2 ? lines.find((l) => l.startsWith('0::')) : lines.find((l) => /^\d+:[^:]*\bcpuacct\b/.test(l));
  return line?.split(':').slice(2).join(':') || '/';
}

export function cpuGroup(name: string): CpuGroup | undefined {
  const v2 = existsSync(join(V2, 'cgroup.controllers'));
  const root = v2 ? V2 : V1;
  if (!existsSync(join(root, 'cgroup.procs'))) return undefined;
  const path = join(root, name);
  const home = join(root, ownGroup(v2));
  try {
    mkdirSync(path);
  } catch {
    return undefined;
  }
  const usageSeconds = () => {
    if (!v2) return Number(readFileSync(join(path, 'cpuacct.usage'), 'utf8').trim()) / 1e9;
    const usec = /^usage_usec (\d+)$/m.exec(readFileSync(join(path, 'cpu.stat'), 'utf8'))?.[1];
    return Number(usec) / 1e6;
  };
  try {
    usageSeconds();
  } catch {
    rmdirSync(path);
    return undefined;
  }
  const procs = join(path, 'cgroup.procs');
  return {
    path,
    usageSeconds,
    wrap: (command, args) => ['/bin/sh', ['-c', `echo $$ > '${procs}' && exec "$@"`, 'sh', command, ...args]],
    enter: () => writeFileSync(procs, `${process.pid}\n`),
    leave: () => writeFileSync(join(home, 'cgroup.procs'), `${process.pid}\n`),
    remove() {
      try {
        rmdirSync(path);
        return true;
      } catch {
        return false;
      }
    },
  };
}

/** CPU seconds per second the group spends while nothing is asked of it (heartbeats, polls, timers). */
export async function idleCpuPerSecond(group: CpuGroup, seconds: number): Promise<number> {
  const before = group.usageSeconds();
  await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
  return Math.round(((group.usageSeconds() - before) / seconds) * 1000) / 1000;
}
