import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isAlive, isSupervisor, userSwitcher } from '../../agent/containerizer/host.js';
import { shellQuote, Spawner, supervisorScript } from '../../agent/containerizer/spawner.js';

async function until<T>(check: () => Promise<T | undefined>, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

const readText = (path: string) => readFile(path, 'utf8').catch(() => undefined);

describe('the spawner of supervisors', () => {
  let dir: string;
  let sandbox: string;
  let spawner: Spawner;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mantle-spawner-'));
    sandbox = join(dir, 'sandbox');
    await mkdir(join(dir, 'runs'));
    await mkdir(sandbox);
    spawner = new Spawner('/usr/bin/setsid', join(dir, 'runs'), '/usr/bin:/bin');
  });

  afterEach(async () => {
    spawner.close();
    await rm(dir, { recursive: true, force: true });
  });

  /** A run dir and its supervisor of the given task command line and environment. */
  async function run(
    name: string,
    argv: string[],
    environment: Record<string, string> = {},
    procsFiles: string[] = [],
  ): Promise<string> {
    const runDir = join(dir, 'runs', name);
    await mkdir(runDir);
    await writeFile(join(runDir, 'launch'), supervisorScript({ runDir, sandbox, procsFiles, argv, environment }));
    return runDir;
  }

  it('quotes any word for the shell', () => {
    expect(shellQuote("it's")).toBe(`'it'\\''s'`);
    expect(shellQuote('a\nb $x')).toBe(`'a\nb $x'`);
  });

  it('runs a supervisor in its own session that starts the task with its environment in the sandbox', async () => {
    const environment = { ODD: "quote ' and\nnewline", PLAIN: '$HOME `x`', 'NOT-A-NAME': '1', IFS: '0123456789' };
    const runDir = await run(
      'one',
      ['/usr/bin/setsid', '/bin/sh', '-c', 'env > ../env; cut -d" " -f6 /proc/$$/stat > ../sid; echo out; exit 3'],
      environment,
    );
    const pid = await spawner.start('one');
    expect(await until(() => readText(join(runDir, 'exit')))).toBe('3\n');
    expect(await readText(join(runDir, 'supervisor.pid'))).toBe(`${pid}\n`);
    // The task's session is its own, not the supervisor's.
    const taskPid = await readText(join(runDir, 'pid'));
    expect(await readText(join(dir, 'sid'))).toBe(taskPid);
    expect(taskPid).not.toBe(`${pid}\n`);
    // The shell that dumps it adds PWD and resets IFS, as any shell a task runs does; a name no shell can
    // export is dropped. An IFS of digits did not split the supervisor's pids.
    expect(
      ((await readText(join(dir, 'env'))) ?? '')
        .trimEnd()
        .split(/\n(?=[A-Z]+=)/)
        .filter((line) => !line.startsWith('IFS='))
        .sort(),
    ).toEqual(["ODD=quote ' and\nnewline", 'PLAIN=$HOME `x`', `PWD=${sandbox}`]);
    expect(await readText(join(sandbox, 'stdout'))).toBe('out\n');
  });

  it('is a supervisor by its command line while it waits for its task', async () => {
    const runDir = await run('waits', ['/usr/bin/setsid', '/bin/sleep', '5']);
    const pid = await spawner.start('waits');
    await until(() => readText(join(runDir, 'pid')));
    expect(await isSupervisor(pid, runDir)).toBe(true);
    process.kill(-pid, 'SIGKILL');
    process.kill(-Number(await readText(join(runDir, 'pid'))), 'SIGKILL');
  });

  it('ends before starting the task when it cannot join its cgroups, with the reason in the stderr', async () => {
    const runDir = await run('bad', ['/usr/bin/touch', join(dir, 'ran')], {}, [join(dir, 'nowhere', 'cgroup.procs')]);
    const pid = await spawner.start('bad');
    await until(async () => ((await isAlive(pid)) ? undefined : true));
    expect(await readText(join(dir, 'ran'))).toBeUndefined();
    expect(await readText(join(runDir, 'pid'))).toBeUndefined();
    expect(await readText(join(sandbox, 'stderr'))).toMatch(/nowhere/);
  });

  it('answers launches in order and refuses names that are not a run dir', async () => {
    const names = ['a', 'b', 'c'];
    for (const name of names) await run(name, ['/bin/true']);
    const pids = await Promise.all(names.map((name) => spawner.start(name)));
    for (const [i, name] of names.entries()) {
      expect(await until(() => readText(join(dir, 'runs', name, 'supervisor.pid')))).toBe(`${pids[i]}\n`);
    }
    await expect(spawner.start('../x')).rejects.toThrow(/Not a run dir/);
    await expect(spawner.start('a\nb')).rejects.toThrow(/Not a run dir/);
  });

  it('starts nothing once closed, and rejects the launches it has not answered', async () => {
    await run('late', ['/usr/bin/touch', join(dir, 'ran')]);
    const started = spawner.start('late');
    spawner.close();
    await expect(started).rejects.toThrow(/stopping/);
    await expect(spawner.start('late')).rejects.toThrow(/stopping/);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(await readText(join(dir, 'ran'))).toBeUndefined();
  });

  it('finds setpriv for switching users, or says it is needed', async () => {
    expect(await userSwitcher()).toMatch(/\/setpriv$/);
    await expect(userSwitcher('/nonexistent')).rejects.toThrow(/needs setpriv/);
  });
});
