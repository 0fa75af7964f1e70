import { afterEach, describe, expect, it, vi } from 'vitest';
import { runAgentCli } from '../../agent/main.js';
import { removeWorkDir, tempWorkDir } from '../support/agent.js';

describe('mantle agent (runAgentCli)', () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it('prints the usage for --help and exits 0', async () => {
    const log = vi.spyOn(console, 'log').mockImplementation(() => undefined);
    expect(await runAgentCli(['--help'], {})).toBe(0);
    expect(String(log.mock.calls[0]?.[0])).toMatch(/^Usage: mantle agent/);
  });

  it('exits 2 on a bad flag, saying which', async () => {
    const error = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    expect(await runAgentCli(['--master=http://127.0.0.1:1', '--work_dir=/tmp/x', '--bogus=1'], {})).toBe(2);
    expect(String(error.mock.calls[0]?.[0])).toMatch(/Unknown flag '--bogus'/);
  });

  it('exits 1 when the agent cannot start, saying why', async () => {
    const error = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    const workDir = await tempWorkDir();
    const argv = [
      '--master=http://127.0.0.1:1',
      `--work_dir=${workDir}`,
      '--resources=cpus:-1;mem:64',
      '--ec2_metadata=off',
      '--nvidia_smi=none',
      '--port=-1',
    ];
    expect(await runAgentCli(argv, {})).toBe(1);
    expect(String(error.mock.calls[0]?.[0])).toMatch(/--resources/);
    await removeWorkDir(workDir);
  });
});
