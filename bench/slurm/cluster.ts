/**
 * A throwaway Slurm cluster on this host for the side-by-side benchmark: munged, slurmctld and N slurmd
 * ("virtual nodes", `slurmd -N nX`, each on a port of its own; Debian builds Slurm with multiple-slurmd
 * support), all started in the foreground as our children from one temporary directory with its own
 * slurm.conf, munge key, socket, state, spool, pid and log files. The system's /etc/slurm and /etc/munge
 * are neither read nor changed. stop() cancels what is left of our jobs, ends every daemon by its PID
 * (SIGTERM, then SIGKILL), then any job process that outlived them, and removes the directory.
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  chmodSync,
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  writeFileSync,
} from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import type { CpuGroup } from '../support/cpu-group.js';
import { nodeNames, slurmConf } from './conf.js';

const execFileAsync = promisify(execFile);

/** Each job: a shell that runs `true`, as a Mantle task's `sh -c true`. */
export const JOB_SCRIPT = '#!/bin/sh\ntrue\n';

const REQUIRED = ['munged', 'slurmctld', 'slurmd', 'sbatch', 'squeue', 'sinfo', 'scancel'] as const;
const PATH = [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/sbin'].join(delimiter);

function onPath(command: string): boolean {
  return PATH.split(delimiter).some((dir) => dir !== '' && existsSync(join(dir, command)));
}

async function aptGet(args: readonly string[]): Promise<void> {
  const child = spawn('apt-get', args, {
    stdio: ['ignore', 'inherit', 'inherit'],
    env: { ...process.env, PATH, DEBIAN_FRONTEND: 'noninteractive' },
  });
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', resolve);
  });
  if (code !== 0) throw new Error(`apt-get ${args.join(' ')} exited with ${code}`);
}

/** Installs Debian's slurm-wlm and munge when a command is missing; returns Slurm's version. */
export async function ensureSlurm(log: (line: string) => void): Promise<{ version: string; installed: boolean }> {
  const missing = REQUIRED.filter((command) => !onPath(command));
  if (missing.length > 0) {
    if (process.getuid?.() !== 0) {
      throw new Error(
        `Slurm is not installed (${missing.join(', ')} missing) and installing it needs root: ` +
          'apt-get install slurm-wlm munge, then run again',
      );
    }
    log(`  installing Debian's slurm-wlm and munge (${missing.join(', ')} missing)`);
    const install = ['install', '-y', '--no-install-recommends', 'slurm-wlm', 'munge'];
    try {
      await aptGet(install);
    } catch {
      log('  apt-get install failed; updating the package lists and trying again');
      await aptGet(['update']);
      await aptGet(install);
    }
    const still = REQUIRED.filter((command) => !onPath(command));
    if (still.length > 0) throw new Error(`still missing after installing slurm-wlm and munge: ${still.join(', ')}`);
  }
  const { stdout } = await execFileAsync('slurmd', ['-V'], { env: { ...process.env, PATH } });
  return { version: stdout.trim(), installed: missing.length > 0 };
}

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
async function freePorts(count: number): Promise<number[]> {
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
function leftovers(conf: string): number[] {
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
class Daemon {
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

export interface SlurmOptions {
  readonly nodes: number;
  readonly cpusPerNode: number;
  readonly memoryPerNodeMb: number;
  readonly maxArrayTasks: number;
  /** Every daemon, and so every job step they start, runs in this group when given. */
  readonly cpuGroup?: CpuGroup;
  readonly log: (line: string) => void;
}

export interface ArrayRun {
  readonly jobs: number;
  readonly job_id: string;
  /** sbatch's own run, from spawn to its answer. */
  readonly submit_ms: number;
  /** From starting sbatch to the controller's record of the last job's end. */
  readonly seconds: number;
  readonly jobs_per_second: number;
  /** From starting sbatch until squeue lists none of the jobs (every epilog done, nothing completing). */
  readonly seconds_until_none_listed: number;
  /** CPU seconds the daemons and the jobs used over that time (with a CPU group). */
  readonly cpu_seconds?: number;
}

export interface SlurmCluster {
  readonly dir: string;
  readonly conf: string;
  readonly daemons: ReadonlyArray<{ name: string; pid: number | undefined }>;
  /** One `sbatch --array=1-count` of a trivial script, timed to the last job's end. */
  runArray(count: number, label: string): Promise<ArrayRun>;
  /** Idempotent; never throws. */
  stop(): Promise<void>;
}

export async function startSlurm(options: SlurmOptions): Promise<SlurmCluster> {
  const dir = await mkdtemp(join(tmpdir(), 'mantle-vs-slurm-'));
  // munged refuses a socket whose directories others cannot search; mkdtemp makes the directory 0700.
  chmodSync(dir, 0o755);
  for (const sub of ['munge', 'state', 'run', 'log', 'jobs']) mkdirSync(join(dir, sub), { mode: 0o755 });
  const names = nodeNames(options.nodes);
  for (const name of names) mkdirSync(join(dir, 'spool', name), { recursive: true, mode: 0o755 });

  const conf = join(dir, 'slurm.conf');
  const env: NodeJS.ProcessEnv = { ...process.env, PATH, SLURM_CONF: conf };
  const daemons: Daemon[] = [];
  const submitted = new Set<string>();
  const finished = new Set<string>();
  let stopping: Promise<void> | undefined;

  const slurm = async (command: string, args: readonly string[], timeout = 30_000) =>
    (await execFileAsync(command, args, { env, timeout, maxBuffer: 16 * 1024 * 1024 })).stdout;
  /** Whether the controller still lists any of these jobs as not yet done (completing counts as not done). */
  const listed = async (jobIds: readonly string[]): Promise<boolean> => {
    try {
      return (
        (await slurm('squeue', ['-h', '-o', '%i', '-t', 'PD,CF,R,CG,S', `--jobs=${jobIds.join(',')}`])).trim() !== ''
      );
    } catch (error) {
      // squeue fails on an id the controller no longer knows: purged, MinJobAge after it ended.
      if (/Invalid job id/i.test(String((error as { stderr?: unknown }).stderr))) return false;
      throw error;
    }
  };

  const stop = () =>
    (stopping ??= (async () => {
      const controller = daemons.find((d) => d.name === 'slurmctld');
      const left = [...submitted].filter((id) => !finished.has(id));
      if (controller && controller.ended === undefined && left.length > 0) {
        // slurmstepd outlives slurmd by design: end our jobs through the controller before the daemons.
        try {
          await slurm('scancel', left, 10_000);
          const deadline = Date.now() + 15_000;
          while (Date.now() < deadline && (await listed(left))) await sleep(250);
        } catch (error) {
          options.log(`  slurm: cancelling jobs ${left.join(',')} failed: ${String(error)}`);
        }
      }
      // The nodes (together) first, then the controller, then munge, which both need until they are gone.
      const stopAll = (group: readonly Daemon[]) =>
        Promise.all(
          group.map((daemon) =>
            daemon
              .stop()
              .catch((error: unknown) =>
                options.log(`  slurm: stopping ${daemon.name} (pid ${daemon.pid}) failed: ${String(error)}`),
              ),
          ),
        );
      await stopAll(daemons.filter((d) => d.name.startsWith('slurmd ')));
      await stopAll(daemons.filter((d) => d.name === 'slurmctld'));
      await stopAll(daemons.filter((d) => d.name === 'munged'));
      const strays = leftovers(conf);
      if (strays.length > 0) {
        options.log(`  slurm: ending ${strays.length} job processes left behind (pids ${strays.join(' ')})`);
        for (const pid of strays) {
          try {
            process.kill(pid, 'SIGKILL');
          } catch {
            // Already gone.
          }
        }
        for (let waited = 0; waited < 5000 && leftovers(conf).length > 0; waited += 100) await sleep(100);
      }
      await rm(dir, { recursive: true, force: true }).catch(() => undefined);
    })());

  const failure = (message: string) => {
    const ended = daemons.filter((d) => d.ended !== undefined);
    return new Error(
      [message, ...ended.map((d) => `${d.name} (pid ${d.pid}) exited (${d.ended}):\n${d.tail()}`)].join('\n'),
    );
  };

  try {
    const [controllerPort, ...nodePorts] = await freePorts(options.nodes + 1);
    writeFileSync(
      conf,
      slurmConf({
        dir,
        controllerPort: controllerPort as number,
        nodePorts,
        cpusPerNode: options.cpusPerNode,
        memoryPerNodeMb: options.memoryPerNodeMb,
        maxArrayTasks: options.maxArrayTasks,
      }),
    );
    writeFileSync(join(dir, 'munge', 'munge.key'), randomBytes(128), { mode: 0o600 });
    writeFileSync(join(dir, 'jobs', 'true.sh'), JOB_SCRIPT, { mode: 0o755 });

    const socket = join(dir, 'munge', 'munge.socket');
    daemons.push(
      Daemon.start(
        'munged',
        'munged',
        [
          '--foreground',
          `--socket=${socket}`,
          `--key-file=${join(dir, 'munge', 'munge.key')}`,
          `--pid-file=${join(dir, 'run', 'munged.pid')}`,
          `--log-file=${join(dir, 'log', 'munged.log')}`,
          `--seed-file=${join(dir, 'munge', 'munged.seed')}`,
        ],
        { env, output: join(dir, 'log', 'munged.out'), group: options.cpuGroup },
      ),
    );
    for (let waited = 0; !existsSync(socket); waited += 50) {
      if (waited > 10_000 || daemons.some((d) => d.ended !== undefined)) throw failure('munged did not start');
      await sleep(50);
    }
    // -c: a clean start, no state from an earlier run.
    daemons.push(
      Daemon.start('slurmctld', 'slurmctld', ['-D', '-c', '-f', conf], {
        env,
        output: join(dir, 'log', 'slurmctld.out'),
        group: options.cpuGroup,
      }),
    );
    for (const name of names) {
      daemons.push(
        Daemon.start(`slurmd ${name}`, 'slurmd', ['-D', '-N', name, '-f', conf], {
          env,
          output: join(dir, 'log', `${name}.out`),
          group: options.cpuGroup,
        }),
      );
    }
    options.log(
      `  slurm: munged, slurmctld (port ${controllerPort}) and ${names.length} slurmd (ports ${nodePorts[0]}-${nodePorts.at(-1)}) in ${dir}`,
    );

    // Ready when every node is idle in the controller's view.
    const deadline = Date.now() + 90_000;
    for (;;) {
      if (daemons.some((d) => d.ended !== undefined)) throw failure('a Slurm daemon exited during start-up');
      const states = await slurm('sinfo', ['-h', '-N', '-o', '%N %t']).catch(() => '');
      const idle = states.split('\n').filter((line) => /^\S+ idle$/.test(line.trim())).length;
      if (idle === names.length) break;
      if (Date.now() > deadline) throw failure(`Slurm's nodes did not all become idle within 90 s:\n${states}`);
      await sleep(250);
    }
  } catch (error) {
    await stop();
    throw error;
  }

  const jobcomp = join(dir, 'jobcomp.txt');
  let offset = 0;
  let partial = '';
  /** New complete lines of the controller's job completion record. */
  const completions = (): string[] => {
    if (!existsSync(jobcomp)) return [];
    const fd = openSync(jobcomp, 'r');
    try {
      const chunks: Buffer[] = [];
      for (;;) {
        const buffer = Buffer.alloc(1 << 16);
        const read = readSync(fd, buffer, 0, buffer.length, offset);
        if (read === 0) break;
        offset += read;
        chunks.push(buffer.subarray(0, read));
      }
      const text = partial + Buffer.concat(chunks).toString('utf8');
      const lines = text.split('\n');
      partial = lines.pop() ?? '';
      return lines;
    } finally {
      closeSync(fd);
    }
  };

  return {
    dir,
    conf,
    daemons: daemons.map((d) => ({ name: d.name, pid: d.pid })),
    async runArray(count, label) {
      completions();
      const cpuBefore = options.cpuGroup?.usageSeconds();
      const started = performance.now();
      const out = await slurm('sbatch', [
        '--parsable',
        `--array=1-${count}`,
        `--job-name=${label}`,
        '--output=/dev/null',
        '--error=/dev/null',
        `--chdir=${join(dir, 'jobs')}`,
        join(dir, 'jobs', 'true.sh'),
      ]);
      const submittedAt = performance.now();
      const jobId = out.trim().split(';')[0] ?? '';
      if (!/^\d+$/.test(jobId)) throw new Error(`sbatch answered ${JSON.stringify(out)}, not a job id`);
      submitted.add(jobId);

      // Completion is read from the controller's record (jobcomp, written as each job ends), polled every
      // 20 ms: as exact as an squeue poll loop without loading the controller with RPCs while it works.
      const ended = new Map<string, { state: string; exit: string }>();
      const record = new RegExp(`JobState=(\\S+) .*ArrayJobId=${jobId} ArrayTaskId=(\\d+) .*ExitCode=(\\S+)`);
      const deadline = Date.now() + Math.max(120_000, count * 500);
      let reported = performance.now();
      let lastEnd = 0;
      while (ended.size < count) {
        for (const line of completions()) {
          const match = record.exec(line);
          if (match) ended.set(match[2] as string, { state: match[1] as string, exit: match[3] as string });
        }
        const now = performance.now();
        if (ended.size >= count) {
          lastEnd = now;
          break;
        }
        if (stopping) throw new Error(`${label}: stopped`);
        if (daemons.some((d) => d.ended !== undefined)) throw failure(`a Slurm daemon exited during ${label}`);
        if (Date.now() > deadline) throw failure(`${label}: ${ended.size}/${count} jobs ended before the time limit`);
        if (now - reported >= 5000) {
          reported = now;
          console.log(`  ${label}: ${ended.size}/${count} ended after ${Math.round((now - started) / 1000)} s`);
        }
        await sleep(20);
      }
      const failed = [...ended.values()].filter((e) => e.state !== 'COMPLETED' || e.exit !== '0:0');
      if (failed.length > 0) {
        const sample = failed.slice(0, 3).map((e) => `${e.state} ${e.exit}`);
        throw failure(`${label}: ${failed.length} of ${count} jobs did not complete cleanly (${sample.join('; ')})`);
      }
      while (await listed([jobId])) {
        if (Date.now() > deadline) throw failure(`${label}: jobs still listed after they all ended`);
        await sleep(100);
      }
      const cleared = performance.now();
      const cpuAfter = options.cpuGroup?.usageSeconds();
      finished.add(jobId);
      const seconds = (lastEnd - started) / 1000;
      return {
        jobs: count,
        job_id: jobId,
        submit_ms: Math.round(submittedAt - started),
        seconds: Math.round(seconds * 1000) / 1000,
        jobs_per_second: Math.round((count / seconds) * 10) / 10,
        seconds_until_none_listed: Math.round(cleared - started) / 1000,
        ...(cpuBefore !== undefined && cpuAfter !== undefined
          ? { cpu_seconds: Math.round((cpuAfter - cpuBefore) * 100) / 100 }
          : {}),
      };
    },
    stop,
  };
}
