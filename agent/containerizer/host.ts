/**
 * Host facts the process containerizer needs: users from /etc/passwd (for --switch_user), binaries on
 * the PATH, and whether a pid is still a given supervisor (a recycled pid must never be taken for one).
 */
import { execFile } from 'node:child_process';
import { constants } from 'node:fs';
import { access, readFile } from 'node:fs/promises';
import { join } from 'node:path';

export interface User {
  readonly name: string;
  readonly uid: number;
  readonly gid: number;
  readonly home: string;
}

/** Parses /etc/passwd lines (`name:x:uid:gid:gecos:home:shell`). Pure. */
export function parsePasswd(text: string): Map<string, User> {
  const users = new Map<string, User>();
  for (const line of text.split('\n')) {
    if (line.trim() === '' || line.startsWith('#')) continue;
    const [name, , uid, gid, , home] = line.split(':');
    if (!name || uid === undefined || gid === undefined || !/^\d+$/.test(uid) || !/^\d+$/.test(gid)) continue;
    users.set(name, { name, uid: Number(uid), gid: Number(gid), home: home ?? '/' });
  }
  return users;
}

export async function lookupUser(name: string, passwd = '/etc/passwd'): Promise<User | undefined> {
  return parsePasswd(await readFile(passwd, 'utf8')).get(name);
}

/** The first executable `name` on `path` (a PATH string). */
export async function which(
  name: string,
  path = process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin',
): Promise<string | undefined> {
  for (const dir of path.split(':')) {
    if (dir === '') continue;
    const candidate = join(dir, name);
    const found = await access(candidate, constants.X_OK).then(
      () => true,
      () => false,
    );
    if (found) return candidate;
  }
  return undefined;
}

/** Whether a /proc/<pid>/cmdline (NUL-separated argv) is the supervisor of `runDir`. Pure. */
export function isSupervisorCommandLine(cmdline: string, runDir: string): boolean {
  const argv = cmdline.split('\u0000');
  return argv.includes('mantle-supervisor') && argv.includes(runDir);
}

/** Whether `pid` is alive (not a zombie). */
export async function isAlive(pid: number): Promise<boolean> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => undefined);
  return stat !== undefined && !stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
}

/** Whether `pid` is alive (not a zombie) and is the supervisor of `runDir`. */
export async function isSupervisor(pid: number, runDir: string): Promise<boolean> {
  const [cmdline, alive] = await Promise.all([
    readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => undefined),
    isAlive(pid),
  ]);
  return cmdline !== undefined && alive && isSupervisorCommandLine(cmdline, runDir);
}

/**
 * The command prefix that starts a task: `setsid` (its own session and process group), then `env
 * --default-signal=INT,QUIT`, because a shell starts background commands with SIGINT and SIGQUIT
 * ignored and the task would inherit that. Older coreutils lack the option: the agent says so.
 */
export async function taskLauncher(path?: string): Promise<{ launcher: string[]; notes: string[] }> {
  const [setsid, env] = await Promise.all([which('setsid', path), which('env', path)]);
  if (!setsid) throw new Error('The process containerizer needs setsid (util-linux) on the PATH');
  const resets =
    env !== undefined &&
    (await new Promise<boolean>((resolve) =>
      execFile(env, ['--default-signal=INT,QUIT', 'true'], { timeout: 5_000 }, (error) => resolve(!error)),
    ));
  if (!resets || !env) {
    return {
      launcher: [setsid],
      notes: ['env lacks --default-signal (coreutils < 8.31): process tasks start with SIGINT and SIGQUIT ignored'],
    };
  }
  return { launcher: [setsid, env, '--default-signal=INT,QUIT'], notes: [] };
}

/** setpriv (util-linux), through which a supervisor starts its task as the task's user. */
export async function userSwitcher(path?: string): Promise<string> {
  const setpriv = await which('setpriv', path);
  if (!setpriv) throw new Error('The process containerizer needs setpriv (util-linux) on the PATH to switch users');
  return setpriv;
}

export async function bootId(): Promise<string | undefined> {
  const text = await readFile('/proc/sys/kernel/random/boot_id', 'utf8').catch(() => undefined);
  return text?.trim();
}
