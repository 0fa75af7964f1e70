import { describe, expect, it } from 'vitest';
import { fromPathComponent, pathComponent } from '../../agent/checkpoint.js';
import { describeTermination } from '../../agent/containerizer/containerizer.js';
import { isSupervisorCommandLine, parsePasswd, taskLauncher, which } from '../../agent/containerizer/host.js';
import { terminationFromStatus } from '../../agent/containerizer/process.js';

describe('host facts for the process containerizer', () => {
  it('parses /etc/passwd', () => {
    const users = parsePasswd(
      'root:x:0:0:root:/root:/bin/bash\n# comment\nbad line\nml:x:1001:1002::/home/ml:/bin/sh\n',
    );
    expect(users.get('root')).toEqual({ name: 'root', uid: 0, gid: 0, home: '/root' });
    expect(users.get('ml')).toEqual({ name: 'ml', uid: 1001, gid: 1002, home: '/home/ml' });
    expect(users.size).toBe(2);
  });

  it('recognises a supervisor only by its own run dir', () => {
    const cmdline = ['/bin/sh', '/w/meta/runs/c1/launch', 'mantle-supervisor', '/w/meta/runs/c1', ''].join('\u0000');
    expect(isSupervisorCommandLine(cmdline, '/w/meta/runs/c1')).toBe(true);
    expect(isSupervisorCommandLine(cmdline, '/w/meta/runs/c2')).toBe(false);
    expect(isSupervisorCommandLine(['sleep', '/w/meta/runs/c1'].join('\u0000'), '/w/meta/runs/c1')).toBe(false);
  });

  it('starts tasks through setsid and env --default-signal where the host has them', async () => {
    const { launcher, notes } = await taskLauncher();
    expect(launcher[0]).toMatch(/\/setsid$/);
    expect(launcher.slice(1)).toEqual(
      notes.length === 0 ? [expect.stringMatching(/\/env$/), '--default-signal=INT,QUIT'] : [],
    );
    await expect(taskLauncher('/nonexistent')).rejects.toThrow(/needs setsid/);
  });

  it('finds binaries on a PATH', async () => {
    expect(await which('sh', '/nonexistent::/bin')).toBe('/bin/sh');
    expect(await which('surely-not-a-binary', '/bin')).toBeUndefined();
  });

  it("turns the shell's exit status into an exit code or a signal", () => {
    expect(terminationFromStatus(0)).toEqual({ exitCode: 0 });
    expect(terminationFromStatus(3)).toEqual({ exitCode: 3 });
    expect(terminationFromStatus(137)).toEqual({ signal: 'SIGKILL' });
    expect(terminationFromStatus(143)).toEqual({ signal: 'SIGTERM' });
    expect(terminationFromStatus(255)).toEqual({ exitCode: 255 });
    expect(describeTermination({ exitCode: 2, oomKilled: false })).toBe('Command exited with status 2');
    expect(describeTermination({ signal: 'SIGKILL', oomKilled: true })).toBe('Command terminated with signal SIGKILL');
    expect(describeTermination({ oomKilled: false, lost: 'gone' })).toBe('gone');
  });

  it('encodes ids as path components, reversibly', () => {
    for (const id of ['plain', '..', '.', 'a/b', 'a%b', '', 'ünï*']) {
      const component = pathComponent(id);
      expect(component).not.toMatch(/[/]/);
      expect(['.', '..']).not.toContain(component);
      expect(fromPathComponent(component)).toBe(id);
    }
  });
});
