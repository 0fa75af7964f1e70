/**
 * The processes of the throwaway Slurm cluster (cluster.ts): free ports for its daemons, each daemon run
 * in the foreground as our child and stopped by its PID, and the job processes that outlive them.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import type { CpuGroup } from '../support/cpu-group.js';

async function canBind(port: number): Promise<boolean> {
  const server = createServer();
  return new Promise((resolve) => {
    server.once('error', () => resolve(false));
    server.listen({ port, host: '0.0.0.0', exclusive: true }, () => server.close(() => resolve(true)));
  });
}

/**
 * `count` consecutive free ports below Linux's ephemeral range (32768+), so that no outgoing connection
 * of the daemons can take one between this check and their bind.
 */
export async function freePorts(count: number): Promise<number[]> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const first = 20000 + Math.floor(Math.random() * (10000 - count));
    const ports = Array.from({ length: count }, (_, i) => first + i);
    let free = true;
    for (const port of ports) if (!(free = await canBind(port))) break;
    if (free) return ports;
  }
  throw new Error(`no ${count} consecutive free ports between 20000 and 30000`);
}

/**
 * Processes started for this cluster that outlived its daemons: slurmstepd (which slurmd starts detached, so
 * that jobs survive a slurmd restart) and the jobs under it, when the controller could not end them. They
 * are recognised by the SLURM_CONF in their environment, which names our temporary directory.
 */
export function leftovers(conf: string): number[] {
  const mark = Buffer.from(`\0SLURM_CONF=${conf}\0`);
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    const pid = Number(entry);
    if (!Number.isInteger(pid) || pid === process.pid) continue;
    try {
      if (Buffer.concat([Buffer.from([0]), readFileSync(`/proc/${pid}/environ`)]).includes(mark)) pids.push(pid);
    } catch {
      // Gone meanwhile, or not ours to read.
    }
  }
  return pids;
}

/** A daemon run in the foreground as our child, its output in a file. */
export class Daemon {
  readonly exited: Promise<void>;
  private exit: string | undefined;

  constructor(
    readonly name: string,
    private readonly child: ChildProcess,
    readonly output: string,
  ) {
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.exit = signal ?? `code ${code}`;
        resolve();
      });
      child.once('error', (error) => {
        this.exit = String(error);
        resolve();
      });
    });
  }

  static start(
    name: string,
    command: string,
    args: readonly string[],
    options: { env: NodeJS.ProcessEnv; output: string; group: CpuGroup | undefined },
  ) {
    const { env, output, group } = options;
    const [file, argv] = group ? group.wrap(command, args) : [command, [...args]];
    const fd = openSync(output, 'a');
    try {
      // Its own process group: a Ctrl-C reaches only us, and we stop the daemons in order.
      const child = spawn(file, argv, { stdio: ['ignore', fd, fd], env, detached: true });
      return new Daemon(name, child, output);
    } finally {
      closeSync(fd);
    }
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** Why it ended, or undefined while it runs. */
  get ended(): string | undefined {
    return this.exit;
  }

  tail(lines = 15): string {
    try {
      return readFileSync(this.output, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
    } catch {
      return '';
    }
  }

  async stop(): Promise<void> {
    if (this.exit !== undefined || this.child.pid === undefined) return;
    this.child.kill('SIGTERM');
    const stopped = await Promise.race([this.exited.then(() => true), sleep(10_000).then(() => false)]);
    if (!stopped) {
      this.child.kill('SIGKILL');
      await this.exited;
    }
  }
}
