import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { DEFAULTS, FlagError, parseAgentFlags, parseBytes, parseDuration, usage } from '../../agent/config.js';
import { parseCredential } from '../../agent/master-client.js';
import { standInEndpoint } from '#shared/queues/queues.js';

const required = ['--master=http://127.0.0.1:5050', '--work_dir=/var/lib/mantle'];

function config(...argv: string[]) {
  const parsed = parseAgentFlags([...required, ...argv]);
  if (parsed.help) throw new Error('help');
  return parsed.config;
}

describe('mantle agent flags', () => {
  it('takes Mesos-style flags and fills the defaults', () => {
    const c = config(
      '--resources=cpus:4;mem:8192;gpus:1;ports:[31000-32000];cpus(ml):2',
      '--attributes=rack:a;level:10',
      '--containerizers=docker,mesos',
      '--hostname',
      'gpu-7',
      '--no-switch_user',
      '--status_update_retry_interval_min=100ms',
      '--executor_shutdown_grace_period=2secs',
      '--nvidia_gpu_devices=0,2',
      '--port=0',
    );
    expect(c).toMatchObject({
      master: 'http://127.0.0.1:5050',
      workDir: '/var/lib/mantle',
      resources: 'cpus:4;mem:8192;gpus:1;ports:[31000-32000];cpus(ml):2',
      attributes: 'rack:a;level:10',
      containerizers: ['docker', 'mesos'],
      hostname: 'gpu-7',
      switchUser: false,
      statusUpdateRetryIntervalMinMs: 100,
      executorShutdownGracePeriodMs: 2000,
      nvidiaGpuDevices: [0, 2],
      port: 0,
      statusUpdateRetryIntervalMaxMs: DEFAULTS.statusUpdateRetryIntervalMaxMs,
      defaultKillGracePeriodMs: 3000,
    });
  });

  it('reads MANTLE_AGENT_* from the environment, and the command line wins', () => {
    const parsed = parseAgentFlags(['--work_dir=/w', '--containerizers=mesos'], {
      MANTLE_AGENT_MASTER: 'http://m:5050',
      MANTLE_AGENT_CONTAINERIZERS: 'docker',
      MANTLE_AGENT_CGROUPS_ENABLE_CFS: 'false',
    });
    expect(parsed.help).toBe(false);
    if (!parsed.help) {
      expect(parsed.config.master).toBe('http://m:5050');
      expect(parsed.config.containerizers).toEqual(['mesos']);
      expect(parsed.config.cgroupsEnableCfs).toBe(false);
    }
  });

  it('takes the master as Mesos users name it: host:port, also from MANTLE_MASTER or MESOS_MASTER', () => {
    const master = (argv: string[], env: NodeJS.ProcessEnv) => {
      const parsed = parseAgentFlags(['--work_dir=/w', ...argv], env);
      return parsed.help ? undefined : parsed.config.master;
    };
    expect(master(['--master=127.0.0.1:5050'], {})).toBe('http://127.0.0.1:5050');
    expect(master(['--master', '10.0.0.1'], {})).toBe('http://10.0.0.1:5050');
    expect(master([], { MESOS_MASTER: '127.0.0.3:5050' })).toBe('http://127.0.0.3:5050');
    expect(master([], { MANTLE_MASTER: '127.0.0.2:5050', MESOS_MASTER: '127.0.0.3:5050' })).toBe(
      'http://127.0.0.2:5050',
    );
    expect(master([], { MANTLE_AGENT_MASTER: 'https://gw.example.com/prod/', MANTLE_MASTER: '127.0.0.2' })).toBe(
      'https://gw.example.com/prod',
    );
    expect(() => master([], { MESOS_MASTER: 'zk://z:2181/mesos' })).toThrow(/^MESOS_MASTER 'zk:/);
  });

  it('defaults the work dir to one per endpoint port, so that a restarted agent finds its checkpoint', () => {
    const of = (argv: string[]) => {
      const parsed = parseAgentFlags(['--master=http://127.0.0.1:5050', ...argv], {});
      return parsed.help ? undefined : parsed.config.workDir;
    };
    expect(of([])).toBe(join('.mantle', 'agent-5051'));
    expect(of(['--port=5052'])).toBe(join('.mantle', 'agent-5052'));
    expect(of(['--work_dir=/w'])).toBe('/w');
  });

  it.each([
    [[], /--master is required/],
    [[...required, '--frobnicate=1'], /Unknown flag '--frobnicate'/],
    [[...required, 'stray'], /Unexpected argument 'stray'/],
    [[...required, '--port=x'], /--port takes an integer/],
    [[...required, '--switch_user=maybe'], /takes true or false/],
    [[...required, '--no-port'], /only for boolean flags/],
    [[...required, '--registration_backoff_factor=5'], /takes a duration/],
    [[...required, '--containerizers=lxc'], /Unknown containerizer 'lxc'/],
    [[...required, '--nvidia_gpu_devices=a'], /GPU indices/],
    [[...required, '--ec2_metadata=sometimes'], /auto or off/],
    [['--master=ftp://m', '--work_dir=/w'], /--master 'ftp:\/\/m': ftp:\/\/ is not supported/],
    [['--master=zk://z:2181/mesos', '--work_dir=/w'], /ZooKeeper \(zk:\/\/\) is not supported/],
    [[...required, '--executor_environment_variables=[1]'], /JSON object/],
    [
      [...required, '--status_update_retry_interval_min=10mins', '--status_update_retry_interval_max=1secs'],
      /at most the max/,
    ],
    [[...required, '--hostname'], /needs a value/],
    [[...required, '--block_metadata=169.254.169.254,metadata.internal'], /--block_metadata: 'metadata.internal'/],
  ])('refuses %j', (argv, message) => {
    expect(() => parseAgentFlags(argv)).toThrow(FlagError);
    expect(() => parseAgentFlags(argv)).toThrow(message);
  });

  it('blocks no metadata address unless told; AWS agents name both of IMDS', () => {
    expect(config().blockMetadata).toEqual([]);
    expect(config('--block_metadata=169.254.169.254,fd00:ec2::254').blockMetadata).toEqual([
      '169.254.169.254',
      'fd00:ec2::254',
    ]);
    const fromEnv = parseAgentFlags(required, { MANTLE_AGENT_BLOCK_METADATA: '169.254.169.254:80,[::1]:8080' });
    expect(fromEnv.help ? undefined : fromEnv.config.blockMetadata).toEqual(['169.254.169.254:80', '[::1]:8080']);
  });

  it('answers --help with the usage', () => {
    expect(parseAgentFlags(['--help'])).toEqual({ help: true });
    expect(usage()).toMatch(/--work_dir/);
    expect(usage()).toMatch(/MANTLE_AGENT_PRINCIPAL/);
  });

  it('parses Mesos durations', () => {
    expect(parseDuration('10secs')).toBe(10_000);
    expect(parseDuration('1.5mins')).toBe(90_000);
    expect(parseDuration('250ms')).toBe(250);
    expect(parseDuration('2hrs')).toBe(7_200_000);
    expect(parseDuration('10')).toBeUndefined();
    expect(parseDuration('10 parsecs')).toBeUndefined();
  });

  it('parses Mesos byte sizes for the fetcher cache, and its flags', () => {
    expect(parseBytes('2GB')).toBe(2 * 1024 ** 3);
    expect(parseBytes('512MB')).toBe(512 * 1024 ** 2);
    expect(parseBytes('100B')).toBe(100);
    expect(parseBytes('1.5KB')).toBe(1536);
    expect(parseBytes('10')).toBeUndefined();
    expect(parseBytes('-1GB')).toBeUndefined();
    const parsed = parseAgentFlags(['--master=m:5050', '--fetcher_cache_size=1GB', '--fetcher_stall_timeout=5secs']);
    expect(parsed).toMatchObject({ config: { fetcherCacheSizeBytes: 1024 ** 3, fetcherStallTimeoutMs: 5_000 } });
    expect(DEFAULTS.fetcherCacheSizeBytes).toBe(2 * 1024 ** 3);
    expect(() => parseAgentFlags(['--master=m:5050', '--fetcher_cache_size=lots'])).toThrow(
      "--fetcher_cache_size takes a size such as 2GB or 512MB, not 'lots'",
    );
  });
});

describe('agent credentials', () => {
  it('reads "principal secret" and the JSON form', () => {
    expect(parseCredential('agent-7 s3cret\n')).toEqual({ principal: 'agent-7', secret: 's3cret' });
    expect(parseCredential('{"principal":"a","secret":"b"}')).toEqual({ principal: 'a', secret: 'b' });
  });

  it('refuses anything else', () => {
    expect(() => parseCredential('only-one')).toThrow(/principal secret/);
    expect(() => parseCredential('a b c')).toThrow(/principal secret/);
    expect(() => parseCredential('{"principal":"a"}')).toThrow(/"secret"/);
  });
});

describe('standInEndpoint', () => {
  it.each([
    ['http://127.0.0.1:36643/000000000000/mantle-status.fifo', 'http://127.0.0.1:36643'],
    ['http://localhost:9324/queue/x', 'http://localhost:9324'],
    ['http://[::1]:9324/queue/x', 'http://[::1]:9324'],
    ['https://sqs.us-east-1.amazonaws.com/123456789012/mantle-status.fifo', undefined],
    ['http://10.0.0.5:9324/queue/x', undefined],
    ['https://127.0.0.1:9324/queue/x', undefined],
    ['not a url', undefined],
  ])('%s -> %s', (url, endpoint) => {
    expect(standInEndpoint(url)).toBe(endpoint);
  });
});
