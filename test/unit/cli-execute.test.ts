import { describe, expect, it } from 'vitest';
import { exitCodeOf, parseExecuteArgs } from '../../cli/execute.js';

describe('mantle execute arguments', () => {
  it('reads the Mesos-execute flags, with defaults', () => {
    const options = parseExecuteArgs(['--command', 'echo hi', '--env', 'A=1,B=x=y'], {});
    expect(options).toMatchObject({
      master: 'http://127.0.0.1:5050',
      name: 'mantle-execute',
      command: 'echo hi',
      environment: { A: '1', B: 'x=y' },
      role: '*',
      timeoutSeconds: 120,
    });
    expect(options.resources.map((r) => [r.name, r.scalar?.value])).toEqual([
      ['cpus', 0.1],
      ['mem', 32],
    ]);
  });

  it('takes the master from MANTLE_MASTER, credentials from MANTLE_PRINCIPAL and MANTLE_SECRET', () => {
    const options = parseExecuteArgs(['--command=true', '--env={"K":2}'], {
      MANTLE_MASTER: 'http://127.0.0.2:5050/',
      MANTLE_PRINCIPAL: 'ops',
      MANTLE_SECRET: 's3cret',
    });
    expect(options.master).toBe('http://127.0.0.2:5050');
    expect(options.credentials).toEqual({ principal: 'ops', secret: 's3cret' });
    expect(options.environment).toEqual({ K: '2' });
  });

  it('takes the master as mesos-execute users name it, and --principal / --secret', () => {
    const master = (argv: string[], env: NodeJS.ProcessEnv = {}) =>
      parseExecuteArgs(['--command=true', ...argv], env).master;
    expect(master(['--master', '127.0.0.1:5050'])).toBe('http://127.0.0.1:5050');
    expect(master(['--master=127.0.0.1:5051'])).toBe('http://127.0.0.1:5051');
    expect(master(['--master=https://gw.example.com/prod/'])).toBe('https://gw.example.com/prod');
    expect(master([], { MESOS_MASTER: '127.0.0.3:5050' })).toBe('http://127.0.0.3:5050');
    expect(master([], { MANTLE_MASTER: '127.0.0.2', MESOS_MASTER: '127.0.0.3:5050' })).toBe('http://127.0.0.2:5050');
    expect(master(['--master=127.0.0.1:1'], { MANTLE_MASTER: '127.0.0.2' })).toBe('http://127.0.0.1:1');
    const options = parseExecuteArgs(['--command=true', '--principal=team-a', '--secret=s3cret'], {
      MANTLE_PRINCIPAL: 'ops',
      MANTLE_SECRET: 'other',
    });
    expect(options.credentials).toEqual({ principal: 'team-a', secret: 's3cret' });
  });

  it.each([
    [[], /--command is required/],
    [['--command=true', '--master=zk://10.0.0.1:2181/mesos'], /--master 'zk:.*ZooKeeper \(zk:\/\/\) is not supported/],
    [['--command=true', '--master=127.0.0.1:http'], /--master '127.0.0.1:http': expected host:port/],
    [['--command=true', '--principal=team-a'], /--principal and --secret go together/],
    [['--command=true', '--resources=cpus:-1'], /--resources/],
    [['--command=true', '--resources=gpus:0.5'], /--resources/],
    [['--command=true', '--timeout=0'], /--timeout must be a positive number/],
    [['--command=true', '--env=NOVALUE'], /not KEY=VALUE/],
    [['--command=true', '--env=[1]'], /--env must be a JSON object/],
    [['--command=true', '--env={"A":'], /--env is not valid JSON/],
    [['--command=true', '--bogus=1'], /bogus/],
  ])('refuses %j', (argv, message) => {
    expect(() => parseExecuteArgs(argv, {})).toThrow(message);
  });
});

describe('exitCodeOf', () => {
  it.each([
    [{ state: 'TASK_FINISHED', message: 'Command exited with status 0' }, 0],
    [{ state: 'TASK_FAILED', message: 'Command exited with status 3' }, 3],
    [{ state: 'TASK_KILLED', message: 'Command terminated with signal Killed' }, 1],
    [{ state: 'TASK_FINISHED' }, 0],
    [{ state: 'TASK_LOST', message: 'Agent is unreachable' }, 1],
  ] as const)('%j -> %d', (status, code) => {
    expect(exitCodeOf({ task_id: { value: 't' }, ...status })).toBe(code);
  });
});
