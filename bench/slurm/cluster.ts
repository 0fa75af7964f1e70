/**
 * A throwaway Slurm cluster on this host for the side-by-side benchmark: munged, slurmctld and N slurmd
 * ("virtual nodes", `slurmd -N nX`, each on a port of its own; Debian builds Slurm with multiple-slurmd
 * support), all started in the foreground as our children from one temporary directory with its own
 * slurm.conf, munge key, socket, state, spool, pid and log files. The system's /etc/slurm and /etc/munge
 * are neither read nor changed. stop() cancels what is left of our jobs, ends every daemon by its PID
 * (SIGTERM, then SIGKILL), then any job process that outlived them, and removes the directory.
 */
import { spawn, execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, closeSync, existsSync, mkdirSync, openSync, readSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import type { CpuGroup } from '../support/cpu-group.js';
import { nodeNames, slurmConf } from './conf.js';
import { Daemon, freePorts, leftovers } from './processes.js';

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
  const cluster = new LocalSlurm(options, dir, names);
  try {
    await cluster.start();
  } catch (error) {
    await cluster.stop();
    throw error;
  }
  return cluster;
}

/** The daemons of one throwaway cluster, the jobs it ran, and the controller's completion record. */
class LocalSlurm implements SlurmCluster {
  readonly conf: string;
  private readonly env: NodeJS.ProcessEnv;
  private readonly running: Daemon[] = [];
  private readonly submitted = new Set<string>();
  private readonly finished = new Set<string>();
  private stopping: Promise<void> | undefined;
  private readonly jobcomp: string;
  private offset = 0;
  private partial = '';

  constructor(
    private readonly options: SlurmOptions,
    readonly dir: string,
    private readonly names: readonly string[],
  ) {
    this.conf = join(dir, 'slurm.conf');
    this.env = { ...process.env, PATH, SLURM_CONF: this.conf };
    this.jobcomp = join(dir, 'jobcomp.txt');
  }

  get daemons(): ReadonlyArray<{ name: string; pid: number | undefined }> {
    return this.running.map((d) => ({ name: d.name, pid: d.pid }));
  }

  private async slurm(command: string, args: readonly string[], timeout = 30_000): Promise<string> {
    return (await execFileAsync(command, args, { env: this.env, timeout, maxBuffer: 16 * 1024 * 1024 })).stdout;
  }

  /** Whether the controller still lists any of these jobs as not yet done (completing counts as not done). */
  private async listed(jobIds: readonly string[]): Promise<boolean> {
    try {
      return (
        (await this.slurm('squeue', ['-h', '-o', '%i', '-t', 'PD,CF,R,CG,S', `--jobs=${jobIds.join(',')}`])).trim() !==
        ''
      );
    } catch (error) {
      // squeue fails on an id the controller no longer knows: purged, MinJobAge after it ended.
      if (/Invalid job id/i.test(String((error as { stderr?: unknown }).stderr))) return false;
      throw error;
    }
  }

  private failure(message: string): Error {
    const ended = this.running.filter((d) => d.ended !== undefined);
    return new Error(
      [message, ...ended.map((d) => `${d.name} (pid ${d.pid}) exited (${d.ended}):\n${d.tail()}`)].join('\n'),
    );
  }

  /** Writes the configuration, starts munged, slurmctld and the slurmd, and waits for every node to be idle. */
  async start(): Promise<void> {
    const { dir, conf, options } = this;
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
    await this.startMunge();
    this.startSlurmDaemons();
    options.log(
      `  slurm: munged, slurmctld (port ${controllerPort}) and ${this.names.length} slurmd (ports ${nodePorts[0]}-${nodePorts.at(-1)}) in ${dir}`,
    );
    await this.waitUntilIdle();
  }

  private async startMunge(): Promise<void> {
    const { dir, env, options } = this;
    const socket = join(dir, 'munge', 'munge.socket');
    this.running.push(
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
      if (waited > 10_000 || this.running.some((d) => d.ended !== undefined))
        throw this.failure('munged did not start');
      await sleep(50);
    }
  }

  private startSlurmDaemons(): void {
    const { dir, env, conf, options } = this;
    // -c: a clean start, no state from an earlier run.
    this.running.push(
      Daemon.start('slurmctld', 'slurmctld', ['-D', '-c', '-f', conf], {
        env,
        output: join(dir, 'log', 'slurmctld.out'),
        group: options.cpuGroup,
      }),
    );
    for (const name of this.names) {
      this.running.push(
        Daemon.start(`slurmd ${name}`, 'slurmd', ['-D', '-N', name, '-f', conf], {
          env,
          output: join(dir, 'log', `${name}.out`),
          group: options.cpuGroup,
        }),
      );
    }
  }

  /** Ready when every node is idle in the controller's view. */
  private async waitUntilIdle(): Promise<void> {
    const deadline = Date.now() + 90_000;
    for (;;) {
      if (this.running.some((d) => d.ended !== undefined)) throw this.failure('a Slurm daemon exited during start-up');
      const states = await this.slurm('sinfo', ['-h', '-N', '-o', '%N %t']).catch(() => '');
      const idle = states.split('\n').filter((line) => /^\S+ idle$/.test(line.trim())).length;
      if (idle === this.names.length) return;
      if (Date.now() > deadline) throw this.failure(`Slurm's nodes did not all become idle within 90 s:\n${states}`);
      await sleep(250);
    }
  }

  /** Idempotent; never throws. */
  stop(): Promise<void> {
    return (this.stopping ??= this.shutdown());
  }

  private async shutdown(): Promise<void> {
    await this.cancelOwnJobs();
    // The nodes (together) first, then the controller, then munge, which both need until they are gone.
    const stopAll = (group: readonly Daemon[]) =>
      Promise.all(
        group.map((daemon) =>
          daemon
            .stop()
            .catch((error: unknown) =>
              this.options.log(`  slurm: stopping ${daemon.name} (pid ${daemon.pid}) failed: ${String(error)}`),
            ),
        ),
      );
    await stopAll(this.running.filter((d) => d.name.startsWith('slurmd ')));
    await stopAll(this.running.filter((d) => d.name === 'slurmctld'));
    await stopAll(this.running.filter((d) => d.name === 'munged'));
    await this.endLeftovers();
    await rm(this.dir, { recursive: true, force: true }).catch(() => undefined);
  }

  /** slurmstepd outlives slurmd by design: end our jobs through the controller before the daemons. */
  private async cancelOwnJobs(): Promise<void> {
    const controller = this.running.find((d) => d.name === 'slurmctld');
    const left = [...this.submitted].filter((id) => !this.finished.has(id));
    if (!controller || controller.ended !== undefined || left.length === 0) return;
    try {
      await this.slurm('scancel', left, 10_000);
      const deadline = Date.now() + 15_000;
      while (Date.now() < deadline && (await this.listed(left))) await sleep(250);
    } catch (error) {
      this.options.log(`  slurm: cancelling jobs ${left.join(',')} failed: ${String(error)}`);
    }
  }

  private async endLeftovers(): Promise<void> {
    const strays = leftovers(this.conf);
    if (strays.length === 0) return;
    this.options.log(`  slurm: ending ${strays.length} job processes left behind (pids ${strays.join(' ')})`);
    for (const pid of strays) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
    for (let waited = 0; waited < 5000 && leftovers(this.conf).length > 0; waited += 100) await sleep(100);
  }

  /** New complete lines of the controller's job completion record. */
  private completions(): string[] {
    if (!existsSync(this.jobcomp)) return [];
    const fd = openSync(this.jobcomp, 'r');
    try {
      const chunks: Buffer[] = [];
      for (;;) {
        const buffer = Buffer.alloc(1 << 16);
        const read = readSync(fd, buffer, 0, buffer.length, this.offset);
        if (read === 0) break;
        this.offset += read;
        chunks.push(buffer.subarray(0, read));
      }
      const text = this.partial + Buffer.concat(chunks).toString('utf8');
      const lines = text.split('\n');
      this.partial = lines.pop() ?? '';
      return lines;
    } finally {
      closeSync(fd);
    }
  }

  /** One `sbatch --array=1-count` of a trivial script, timed to the last job's end. */
  async runArray(count: number, label: string): Promise<ArrayRun> {
    const { dir, options } = this;
    this.completions();
    const cpuBefore = options.cpuGroup?.usageSeconds();
    const started = performance.now();
    const out = await this.slurm('sbatch', [
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
    this.submitted.add(jobId);
    const deadline = Date.now() + Math.max(120_000, count * 500);
    const lastEnd = await this.waitForEnds(jobId, count, label, started, deadline);
    while (await this.listed([jobId])) {
      if (Date.now() > deadline) throw this.failure(`${label}: jobs still listed after they all ended`);
      await sleep(100);
    }
    const cleared = performance.now();
    const cpuAfter = options.cpuGroup?.usageSeconds();
    this.finished.add(jobId);
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
  }

  /**
   * Waits until every job of the array has ended, all cleanly, and returns when the last one did.
   * Completion is read from the controller's record (jobcomp, written as each job ends), polled every
   * 20 ms: as exact as an squeue poll loop without loading the controller with RPCs while it works.
   */
  private async waitForEnds(
    jobId: string,
    count: number,
    label: string,
    started: number,
    deadline: number,
  ): Promise<number> {
    const ended = new Map<string, { state: string; exit: string }>();
    const record = new RegExp(`JobState=(\\S+) .*ArrayJobId=${jobId} ArrayTaskId=(\\d+) .*ExitCode=(\\S+)`);
    let reported = performance.now();
    let lastEnd = 0;
    while (ended.size < count) {
      for (const line of this.completions()) {
        const match = record.exec(line);
        if (match) ended.set(match[2] as string, { state: match[1] as string, exit: match[3] as string });
      }
      const now = performance.now();
      if (ended.size >= count) {
        lastEnd = now;
        break;
      }
      if (this.stopping) throw new Error(`${label}: stopped`);
      if (this.running.some((d) => d.ended !== undefined)) throw this.failure(`a Slurm daemon exited during ${label}`);
      if (Date.now() > deadline)
        throw this.failure(`${label}: ${ended.size}/${count} jobs ended before the time limit`);
      if (now - reported >= 5000) {
        reported = now;
        console.log(`  ${label}: ${ended.size}/${count} ended after ${Math.round((now - started) / 1000)} s`);
      }
      await sleep(20);
    }
    const failed = [...ended.values()].filter((e) => e.state !== 'COMPLETED' || e.exit !== '0:0');
    if (failed.length > 0) {
      const sample = failed.slice(0, 3).map((e) => `${e.state} ${e.exit}`);
      throw this.failure(`${label}: ${failed.length} of ${count} jobs did not complete cleanly (${sample.join('; ')})`);
    }
    return lastEnd;
  }
}
