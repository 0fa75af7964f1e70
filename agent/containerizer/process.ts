/**
 * The process containerizer (the Mesos containerizer's role, without images): the task runs on the host
 * in its sandbox, with its environment, in its own session and process group, inside its own cgroups.
 *
 * Between the agent and the task sits a supervisor (Mesos's command executor's role), a few lines of
 * POSIX shell in its own session (`supervisorScript`), started by the spawner (spawner.ts) once the
 * container's cgroups are set up and the task's record is durable: it joins the cgroups, starts the task
 * under `setsid` (as the task's user), writes the task's pid, waits for it and writes its exit status. The
 * supervisor does not depend on the agent, so a task survives the agent's death and its exit status is
 * kept for the restarted agent.
 */
import { spawn } from 'node:child_process';
import { chown, mkdir, readdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { watch, type FSWatcher } from 'node:fs';
import { constants } from 'node:os';
import { basename, dirname, join } from 'node:path';
import type { Logger } from '#shared/log.js';
import type { CommandInfo } from '#shared/protocol/mesos.js';
import type { Checkpoint } from '../checkpoint.js';
import { fromPathComponent } from '../checkpoint.js';
import { NVIDIA_MAJOR } from '../gpu/nvidia.js';
import { ContainerCgroup, type CgroupSupport } from '../isolation/cgroups.js';
import { containerLimits, gpuDenyRules, type LimitOptions } from '../isolation/limits.js';
import { nestedLimits, Pods } from '../isolation/pods.js';
import { isStopped, type Lifecycle } from '../lifecycle.js';
import { processCommand, taskEnvironment } from './command.js';
import { LaunchError, type Container, type Containerizer, type LaunchSpec, type Termination } from './containerizer.js';
import { isAlive, isSupervisor, lookupUser, type User } from './host.js';
import { checkMounts, type ProtectedPath } from './mount-policy.js';
import { ownTree } from '../fetcher/fetcher.js';
import { Spawner, supervisorScript } from './spawner.js';
import { sandboxLinks, taskMounts, type MountContext } from './volumes.js';

export interface ProcessContainerizerOptions {
  readonly checkpoint: Checkpoint;
  readonly volumeDir: MountContext['volumeDir'];
  readonly cgroups: CgroupSupport;
  readonly limits: LimitOptions;
  /** What starts the task in its own session with default signal dispositions (see `taskLauncher`). */
  readonly launcher: readonly string[];
  /** setpriv (util-linux), which starts a task as its user (see `userSwitcher`). */
  readonly setpriv?: string;
  /** The environment tasks start from. */
  readonly baseEnvironment: Readonly<Record<string, string>>;
  /** Switch to the task's user (the agent runs as root and --switch_user is on). */
  readonly switchUser: boolean;
  /** What no task may mount or link, whatever its grant. */
  readonly protectedPaths: readonly ProtectedPath[];
  readonly life: Lifecycle;
  readonly logger: Logger;
}

const SIGNALS = new Map<number, string>();
for (const [name, number] of Object.entries(constants.signals)) if (!SIGNALS.has(number)) SIGNALS.set(number, name);

/** The shell's `$?` for a child: 128 + n for death by signal n. */
export function terminationFromStatus(status: number): Pick<Termination, 'exitCode' | 'signal'> {
  if (status > 128 && status <= 128 + 64 && SIGNALS.has(status - 128)) {
    return { signal: SIGNALS.get(status - 128) as string };
  }
  return { exitCode: status };
}

/** A number the supervisor wrote; undefined until its line is complete. */
async function readNumber(path: string): Promise<number | undefined> {
  const text = await readFile(path, 'utf8').catch(() => undefined);
  if (text === undefined || !/^\d+\n$/.test(text)) return undefined;
  return Number(text);
}

function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
  }
}

/** What a launch prepared before the supervisor starts. */
interface Prepared {
  readonly file: string;
  readonly args: readonly string[];
  readonly user: User | undefined;
  readonly environment: Record<string, string>;
  readonly runDir: string;
}

/** Resolves when `check` holds, looked at every `everyMs`; or never, once cancelled. */
function pollUntil(check: () => Promise<boolean>, everyMs: number): { done: Promise<void>; cancel: () => void } {
  let timer: NodeJS.Timeout | undefined;
  const done = new Promise<void>((resolve) => {
    timer = setInterval(() => {
      void check().then((holds) => {
        if (!holds) return;
        clearInterval(timer);
        resolve();
      });
    }, everyMs);
  });
  return { done, cancel: () => clearInterval(timer) };
}

export class ProcessContainerizer implements Containerizer {
  readonly kind = 'mesos' as const;
  private readonly pods: Pods;
  private readonly spawner: Spawner;

  constructor(readonly options: ProcessContainerizerOptions) {
    this.pods = new Pods({ meta: options.checkpoint.meta, cgroups: options.cgroups, limits: options.limits });
    this.spawner = new Spawner(
      options.launcher[0] as string,
      join(options.checkpoint.meta, 'runs'),
      options.baseEnvironment.PATH ?? process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin',
    );
    options.life.signal.addEventListener('abort', () => this.spawner.close(), { once: true });
  }

  /** The container's cgroups: nested in its pod's for a task of a group. */
  private cgroupOf(spec: LaunchSpec): ContainerCgroup {
    return new ContainerCgroup(this.options.cgroups, spec.containerId, spec.pod?.id);
  }

  /** The pod a task of a group enters (made with its first task); a failure is the launch's. */
  private async enterPod(spec: LaunchSpec): Promise<void> {
    if (!spec.pod) return;
    await this.pods.enter(spec.pod).catch((error: unknown) => {
      throw new LaunchError(`Failed to set up the task group's pod: ${(error as Error).message}`);
    });
  }

  private async leavePod(spec: LaunchSpec): Promise<void> {
    if (spec.pod) await this.pods.leave(spec.pod);
  }

  /** The user the task runs as: its own (switching users), else the agent's; refused as root without the grant. */
  private async user(spec: LaunchSpec): Promise<User | undefined> {
    if (!this.options.switchUser) {
      if (!spec.grant.root && process.getuid?.() === 0) {
        throw new LaunchError(
          "The task would run as root: this agent runs process tasks as itself (--no-switch_user) and it is root, which this task's grant does not allow (acl: run_as_users); run the agent with --switch_user and give the task a non-root user",
        );
      }
      return undefined;
    }
    const name = spec.task.command?.user ?? spec.frameworkInfo.user;
    const user = await lookupUser(name);
    if (!user) throw new LaunchError(`Failed to switch to user '${name}': no such user on this agent`);
    if (user.uid === 0 && !spec.grant.root) {
      throw new LaunchError(
        `The task would run as root (user '${name}' is uid 0), which this task's grant does not allow (acl: run_as_users); set a non-root user (CommandInfo.user or the framework's user)`,
      );
    }
    return user;
  }

  async launch(spec: LaunchSpec): Promise<Container> {
    const prepared = await this.prepare(spec);
    const { runDir, user } = prepared;
    await this.enterPod(spec);
    // The cgroups are set up while the task's record is written; the supervisor starts once both are done.
    const cgroup = this.cgroupOf(spec);
    const cgroupReady = cgroup.create(
      spec.pod
        ? nestedLimits(spec.task, this.options.limits)
        : containerLimits(spec.task.resources ?? [], spec.task.limits, this.options.limits),
      gpuDenyRules(
        spec.allGpus.map((gpu) => gpu.minor),
        spec.gpus.map((gpu) => gpu.minor),
        NVIDIA_MAJOR,
      ),
      spec.allGpus.length > 0 ? spec.gpus.map((gpu) => gpu.minor) : undefined,
    );
    cgroupReady.catch(() => undefined);
    const abandon = async () => {
      await cgroupReady.catch(() => undefined);
      await cgroup.destroy().catch(() => undefined);
      await this.leavePod(spec);
    };
    try {
      await cgroupReady;
    } catch (error) {
      await abandon();
      throw new LaunchError(`Failed to set up cgroups: ${(error as Error).message}`);
    }
    try {
      await spec.recorded;
    } catch (error) {
      await abandon();
      if (isStopped(error)) throw error;
      throw new LaunchError(`Failed to checkpoint the task: ${(error as Error).message}`);
    }
    // Watch before the supervisor can write its pid, so the event cannot be missed.
    const pidWatch = this.waitForFile(runDir, 'pid');
    let supervisorPid: number;
    try {
      supervisorPid = await this.startSupervisor(spec, prepared, cgroup);
    } catch (error) {
      pidWatch.cancel();
      await abandon();
      if (isStopped(error)) throw error;
      throw new LaunchError(`Failed to start the task's supervisor: ${(error as Error).message}`);
    }
    // A supervisor that fails before starting the task (its script's errors are in the sandbox's stderr)
    // writes no pid; one whose task ended at once has written it. Looked at once a second: on a loaded
    // machine many launches wait at once, and inotify tells of the pid.
    const gone = pollUntil(async () => !(await isAlive(supervisorPid)), 1000);
    await Promise.race([pidWatch.done, gone.done]);
    pidWatch.cancel();
    gone.cancel();
    const taskPid = await readNumber(join(runDir, 'pid'));
    if (taskPid === undefined) {
      await abandon();
      throw new LaunchError("The task's supervisor exited before starting the task (see the sandbox's stderr)");
    }
    return this.attach(spec, supervisorPid, taskPid, cgroup, user);
  }

  /** The task's command, user and environment; its sandbox's volume links and its run dir, made. */
  private async prepare(spec: LaunchSpec): Promise<Prepared> {
    const { checkpoint } = this.options;
    const { file, args } = processCommand(spec.task.command);
    const mounts = taskMounts(spec.task.container?.volumes ?? [], spec.task.resources ?? [], {
      sandbox: spec.sandbox,
      ...(spec.parentSandbox ? { parentSandbox: spec.parentSandbox } : {}),
      volumeDir: this.options.volumeDir,
    });
    const links = sandboxLinks(await checkMounts(mounts, spec.grant, this.options.protectedPaths));
    const user = await this.user(spec);
    const environment = taskEnvironment(spec, spec.sandbox, {
      ...this.options.baseEnvironment,
      ...(user ? { HOME: user.home, USER: user.name, LOGNAME: user.name } : {}),
    });

    for (const { link, target } of links) {
      // A volume made now belongs to the task's user, as its sandbox does.
      const made = await mkdir(target, { recursive: true });
      if (made !== undefined && user) await chown(target, user.uid, user.gid);
      await mkdir(dirname(join(spec.sandbox, link)), { recursive: true });
      await symlink(target, join(spec.sandbox, link)).catch((error: NodeJS.ErrnoException) => {
        if (error.code !== 'EEXIST') throw error;
      });
    }
    // The run dir stays root's: the supervisor, root, writes its files there, so a task able to put a link in
    // it could have root write through that link.
    const runDir = checkpoint.runDir(spec.containerId);
    await mkdir(runDir, { recursive: true });
    // The sandbox has its output files from the start, as Mesos's does, even if the supervisor never runs.
    await Promise.all(['stdout', 'stderr'].map((name) => writeFile(join(spec.sandbox, name), '', { flag: 'a' })));
    // What the fetcher put in the sandbox is the user's too.
    if (user) await ownTree(spec.sandbox, user.uid, user.gid);
    return { file, args, user, environment, runDir };
  }

  /**
   * Writes the task's supervisor and has the spawner start it; resolves with the supervisor's pid. In a
   * pod's network namespace nsenter switches to the task's user once inside; elsewhere setpriv does.
   */
  private async startSupervisor(spec: LaunchSpec, prepared: Prepared, cgroup: ContainerCgroup): Promise<number> {
    const { file, args, user, environment, runDir } = prepared;
    const { setpriv, launcher } = this.options;
    this.options.life.check();
    const switchUser =
      user && !this.pods.netns(spec.pod)
        ? [setpriv ?? 'setpriv', `--reuid=${user.uid}`, `--regid=${user.gid}`, '--clear-groups', '--']
        : [];
    const argv = this.inPod(spec, user, [...switchUser, ...launcher, file, ...args]);
    const script = supervisorScript({
      runDir,
      sandbox: spec.sandbox,
      procsFiles: cgroup.procsFiles(),
      argv,
      environment,
    });
    await writeFile(join(runDir, 'launch'), script);
    return this.spawner.start(basename(runDir));
  }

  /** A command line run inside the task's pod's network namespace, if it has one. */
  private inPod(spec: LaunchSpec, user: User | undefined, argv: readonly string[]): string[] {
    return [...this.pods.enterCommand(spec.pod, user), ...argv];
  }

  async recover(spec: LaunchSpec): Promise<Container | undefined> {
    const runDir = this.options.checkpoint.runDir(spec.containerId);
    const supervisorPid = await readNumber(join(runDir, 'supervisor.pid'));
    const taskPid = await readNumber(join(runDir, 'pid'));
    const cgroup = this.cgroupOf(spec);
    if (supervisorPid === undefined || taskPid === undefined) {
      // The task was never started; a supervisor still waiting for the go-ahead exits on end-of-file.
      if (supervisorPid !== undefined && (await isSupervisor(supervisorPid, runDir)))
        killGroup(supervisorPid, 'SIGKILL');
      await cgroup.destroy().catch(() => undefined);
      return undefined;
    }
    if (spec.pod) await this.pods.enter(spec.pod, false);
    const container = await this.attach(
      spec,
      supervisorPid,
      taskPid,
      cgroup,
      await this.user(spec).catch(() => undefined),
    );
    const ended =
      (await readNumber(join(runDir, 'exit'))) !== undefined || !(await isSupervisor(supervisorPid, runDir));
    return ended ? { ...container, endedWhileDown: true } : container;
  }

  async cleanupOrphans(known: ReadonlySet<string>): Promise<string[]> {
    const runs = join(this.options.checkpoint.meta, 'runs');
    const removed: string[] = [];
    for (const entry of await readdir(runs).catch(() => [] as string[])) {
      const containerId = fromPathComponent(entry);
      if (known.has(containerId)) continue;
      const runDir = join(runs, entry);
      const supervisorPid = await readNumber(join(runDir, 'supervisor.pid'));
      const taskPid = await readNumber(join(runDir, 'pid'));
      const alive = supervisorPid !== undefined && (await isSupervisor(supervisorPid, runDir));
      // The task's pid is only trusted while its supervisor lives (a dead task's pid may be reused).
      if (alive && taskPid !== undefined) killGroup(taskPid, 'SIGKILL');
      if (alive) killGroup(supervisorPid, 'SIGKILL');
      await new ContainerCgroup(this.options.cgroups, containerId).destroy().catch(() => undefined);
      await this.options.checkpoint.removeRun(containerId);
      removed.push(containerId);
    }
    const pods = await this.pods.cleanup();
    if (pods.length > 0) this.options.logger.warn('Removed pods no task holds', { pods });
    return removed;
  }

  /** Resolves when `name` in `dir` holds a complete line: inotify for speed, a slow poll in case an event is missed. */
  private waitForFile(dir: string, name: string): { done: Promise<void>; cancel: () => void } {
    let watcher: FSWatcher | undefined;
    let settle: () => void = () => undefined;
    const done = new Promise<void>((resolve) => {
      settle = resolve;
    });
    const check = () =>
      void readNumber(join(dir, name)).then((value) => {
        if (value === undefined) return;
        cancel();
        settle();
      });
    const poll = setInterval(check, 1000);
    const cancel = () => {
      watcher?.close();
      clearInterval(poll);
    };
    try {
      watcher = watch(dir, (_event, file) => {
        if (file === name) check();
      });
    } catch {
      watcher = undefined;
    }
    check();
    return { done, cancel };
  }

  private async attach(
    spec: LaunchSpec,
    supervisorPid: number,
    taskPid: number,
    cgroup: ContainerCgroup,
    user: User | undefined,
  ): Promise<Container> {
    const runDir = this.options.checkpoint.runDir(spec.containerId);
    const netns = this.pods.netns(spec.pod);
    const exitWatch = this.waitForFile(runDir, 'exit');
    let settle: (termination: Termination) => void = () => undefined;
    const exited = new Promise<Termination>((resolve) => {
      settle = resolve;
    });
    const finish = async () => {
      this.spawner.reap();
      const status = await readNumber(join(runDir, 'exit'));
      if (status === undefined) {
        // A supervisor the agent could not shield (not root) may be the OOM killer's victim: the limit is the cause.
        const oomKilled = await cgroup.oomKilled();
        const lost = oomKilled
          ? "The OOM killer ended the task's supervisor before it recorded the task's exit status"
          : "The task's supervisor terminated without recording the task's exit status";
        settle({ oomKilled, lost });
        return;
      }
      settle({ ...terminationFromStatus(status), oomKilled: await cgroup.oomKilled() });
    };
    void exitWatch.done.then(finish);
    // A supervisor killed from outside writes nothing: notice it is gone.
    const liveness = setInterval(() => {
      void isSupervisor(supervisorPid, runDir).then(async (running) => {
        if (running) return;
        clearInterval(liveness);
        await new Promise((resolve) => setTimeout(resolve, 50));
        exitWatch.cancel();
        await finish();
      });
    }, 1000);
    const { signal } = this.options.life;
    const detach = () => {
      exitWatch.cancel();
      clearInterval(liveness);
      signal.removeEventListener('abort', detach);
    };
    void exited.then(detach);
    signal.addEventListener('abort', detach, { once: true });

    return {
      containerId: spec.containerId,
      exited,
      checkHost: '127.0.0.1',
      ...(netns !== undefined ? { checkNetns: netns } : {}),
      signal: async (signal) => {
        killGroup(taskPid, signal);
        // Processes that left the task's process group are still in its cgroups.
        if (signal === 'SIGKILL') await cgroup.killAll(supervisorPid);
      },
      exec: (command, abort) => this.exec(spec, command, abort, user, cgroup),
      destroy: async () => {
        detach();
        await cgroup.destroy();
        await this.options.checkpoint.removeRun(spec.containerId);
        await this.leavePod(spec);
      },
      detach,
    };
  }

  private async exec(
    spec: LaunchSpec,
    command: CommandInfo,
    abort: AbortSignal,
    user: User | undefined,
    cgroup: ContainerCgroup,
  ): Promise<number> {
    const { file, args } = processCommand(command);
    const environment = taskEnvironment(
      { ...spec, task: { ...spec.task, command } },
      spec.sandbox,
      this.options.baseEnvironment,
    );
    // The check runs in the task's cgroups (its limits, and the metadata firewall): it waits on its stdin
    // until the agent has moved it there.
    const argv = this.inPod(spec, user, ['/bin/sh', '-c', 'read -r go || exit 125; exec "$@"', 'mantle-check']);
    const child = spawn(argv[0] as string, [...argv.slice(1), file, ...args], {
      cwd: spec.sandbox,
      env: environment,
      detached: true,
      stdio: ['pipe', 'ignore', 'ignore'],
      ...(user && !this.pods.netns(spec.pod) ? { uid: user.uid, gid: user.gid } : {}),
    });
    child.stdin?.on('error', () => undefined);
    const onAbort = () => {
      if (child.pid !== undefined) killGroup(child.pid, 'SIGKILL');
    };
    abort.addEventListener('abort', onAbort, { once: true });
    try {
      const exited = new Promise<number>((resolve, reject) => {
        child.once('error', reject);
        child.once('exit', (code, signal) => resolve(code ?? 128 + (signal ? constants.signals[signal] : 0)));
      });
      exited.catch(() => undefined);
      await new Promise<void>((resolve, reject) => {
        child.once('spawn', resolve);
        child.once('error', reject);
      });
      try {
        await cgroup.join(child.pid as number);
      } catch (error) {
        onAbort();
        throw error;
      }
      child.stdin?.end('go\n');
      return await exited;
    } finally {
      abort.removeEventListener('abort', onAbort);
    }
  }
}
