/**
 * The process containerizer's spawner: one small shell, started once, that starts every task's supervisor.
 * Node forks a copy of the whole agent for each `spawn` and waits for it to exec, on the event loop (about
 * 25 ms of a loaded agent's time per task); a shell of a few hundred kilobytes forks in a fraction of
 * that, off the agent's loop. The agent writes a run dir's name (path-encoded: never a newline) on its
 * stdin; the spawner starts the supervisor `<run dir>/launch` (see `supervisorScript`) in a session of
 * its own through `setsid` and answers with its pid (setsid execs the shell). An empty line
 * only lets it reap the supervisors that ended. Its stdin closing (the agent stopped or died) ends it; the
 * supervisors live on.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';

/**
 * $1 = setsid, $2 = the runs directory. `jobs` drops the jobs that ended: a shell without job control
 * keeps every background job it started until it is asked.
 */
export const SPAWNER = [
  'setsid=$1; runs=$2',
  'while IFS= read -r run; do',
  '  if [ -n "$run" ]; then',
  '    "$setsid" /bin/sh "$runs/$run/launch" mantle-supervisor "$runs/$run" &',
  '    echo "$!"',
  '  fi',
  '  jobs >/dev/null',
  'done',
].join('\n');

/** A word for the shell, whatever it holds (single-quoted). Pure. */
export function shellQuote(word: string): string {
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

/** What a task's supervisor does. */
export interface SupervisorScript {
  readonly runDir: string;
  readonly sandbox: string;
  /** The cgroup.procs files the supervisor joins (the task starts inside them). */
  readonly procsFiles: readonly string[];
  /** The task's command line, with what starts it in its own session as its user (and pod). */
  readonly argv: readonly string[];
  readonly environment: Readonly<Record<string, string>>;
}

/** A name the shell can export; the shell would drop any other from a task's environment anyway. */
const EXPORTABLE = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * A task's supervisor (Mesos's command executor's role), which the spawner runs as the agent's user: it
 * records its pid, sends its output to the sandbox, moves itself into the container's cgroups, takes
 * the task's environment (and only that), starts the task, writes the task's pid, waits for it and
 * writes its exit status. Any failure before the task starts goes to the sandbox's stderr and ends it.
 * Only shell builtins run after the task starts, so that killing what is left in the cgroups can never
 * hit a helper of the supervisor; the supervisor itself is kept from the OOM killer (the task's limit is the
 * task's to hit). Each file is one `echo` (one write); readers wait for its newline. Pure.
 */
export function supervisorScript({ runDir, sandbox, procsFiles, argv, environment }: SupervisorScript): string {
  const file = (name: string) => shellQuote(`${runDir}/${name}`);
  const exports = Object.entries(environment)
    .filter(([name]) => EXPORTABLE.test(name))
    .map(([name, value]) => `export ${shellQuote(`${name}=${value}`)}`);
  return [
    `echo "$$" > ${file('supervisor.pid')} || exit 125`,
    `exec </dev/null >>${shellQuote(`${sandbox}/stdout`)} 2>>${shellQuote(`${sandbox}/stderr`)} || exit 125`,
    `cd ${shellQuote(sandbox)} || exit 125`,
    ...procsFiles.map((procs) => `echo "$$" > ${shellQuote(procs)} || exit 125`),
    'unset PATH OLDPWD',
    ...exports,
    `${argv.map(shellQuote).join(' ')} &`,
    `echo "$!" > ${file('pid')}`,
    // Out of the OOM killer's reach once the task has its own score: in the task's memory cgroup, a small
    // supervisor can be its victim (seen under load), and then no exit status is written. Root only.
    '{ echo -1000 > /proc/$$/oom_score_adj; } 2>/dev/null',
    'wait "$!"',
    `echo "$?" > ${file('exit')}`,
    '',
  ].join('\n');
}

export class Spawner {
  private child: ChildProcess | undefined;
  private opening: Promise<ChildProcess> | undefined;
  private closed = false;
  /** The launches waiting for their pid, in the order they were written. */
  private waiting: Array<{ resolve: (pid: number) => void; reject: (error: Error) => void }> = [];

  constructor(
    private readonly setsid: string,
    private readonly runs: string,
    private readonly path: string,
  ) {}

  /** Starts the script `<runs>/<run>/launch`; resolves with its pid (the spawner starts on first use). */
  async start(run: string): Promise<number> {
    if (run === '' || run.includes('\n') || run.includes('/')) throw new Error(`Not a run dir's name: ${run}`);
    if (this.closed) throw new Error('The agent is stopping');
    const child =
      this.child ??
      (await (this.opening ??= this.open().finally(() => {
        this.opening = undefined;
      })));
    if (this.closed) throw new Error('The agent is stopping');
    return new Promise<number>((resolve, reject) => {
      this.waiting.push({ resolve, reject });
      child.stdin?.write(`${run}\n`);
    });
  }

  /** Lets the spawner reap supervisors that ended (they wait as zombies until it does). */
  reap(): void {
    this.child?.stdin?.write('\n');
  }

  /** Ends the spawner (the supervisors it started keep running). */
  close(): void {
    this.closed = true;
    this.child?.stdin?.end();
    this.ended(new Error('The agent is stopping'));
  }

  private ended(error: Error): void {
    this.child = undefined;
    const waiting = this.waiting;
    this.waiting = [];
    for (const { reject } of waiting) reject(error);
  }

  private async open(): Promise<ChildProcess> {
    const child = spawn('/bin/sh', ['-c', SPAWNER, 'mantle-spawner', this.setsid, this.runs], {
      env: { PATH: this.path },
      stdio: ['pipe', 'pipe', 'ignore'],
      detached: true,
    });
    child.stdin?.on('error', () => undefined);
    child.once('exit', (code, signal) => {
      if (this.child === child) this.ended(new Error(`The spawner of supervisors ended (${signal ?? code})`));
    });
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
      this.waiting.shift()?.resolve(Number(line));
    });
    await Promise.race([once(child, 'spawn'), once(child, 'error').then(([error]) => Promise.reject(error as Error))]);
    // Neither the spawner nor its pipes keep the agent's process alive.
    child.unref();
    for (const pipe of [child.stdin, child.stdout]) (pipe as unknown as { unref?: () => void } | null)?.unref?.();
    if (this.closed) child.stdin?.end();
    else this.child = child;
    return child;
  }
}
