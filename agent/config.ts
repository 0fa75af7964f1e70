/**
 * The agent's configuration and its flags, Mesos-style (`--work_dir=/var/lib/mantle`, `--no-switch_user`),
 * with Mesos's flag names where Mesos has the setting. Every flag can also come from the environment as
 * `MANTLE_AGENT_<FLAG>` (Mesos reads `MESOS_<FLAG>`); a flag on the command line wins. Pure.
 */
import { join } from 'node:path';
import { resolveMaster } from '#shared/master-url.js';
import { ok, err, type Result } from '#shared/result.js';
import { parseMetadataTargets } from './isolation/firewall-rules.js';

export type ContainerizerKind = 'docker' | 'mesos';

export interface AgentConfig {
  /** The master's base URL (http://host:5050), as shared/master-url.ts makes it from what was given. */
  readonly master: string;
  readonly workDir: string;
  /** `--resources` text (or JSON array); absent: detected from the host. */
  readonly resources?: string;
  /** `--attributes` text (`rack:a;level:10`); merged over the detected EC2 attributes. */
  readonly attributes?: string;
  readonly containerizers: readonly ContainerizerKind[];
  readonly hostname?: string;
  /** The address frameworks reach the agent at (Mesos --advertise_ip); default: EC2's private IPv4, else the host's first. */
  readonly advertiseIp?: string;
  /** Where the agent's own HTTP endpoint (/health, /metrics/snapshot) listens; port 0 = any, -1 = off. */
  readonly ip: string;
  readonly port: number;
  /** Mesos --default_role: resources of `--resources` without a role are statically reserved to it. */
  readonly defaultRole: string;
  /** A file holding `principal secret` (or JSON {principal, secret}); env MANTLE_AGENT_PRINCIPAL/SECRET otherwise. */
  readonly credential?: string;
  /**
   * How the agent authenticates to the master (Mesos --authenticatee): `basic` (an agent principal's
   * credential, if any) or `aws_sts` (its EC2 instance's AWS identity; see identity.ts).
   */
  readonly authenticatee: 'basic' | 'aws_sts';
  /** The cluster an `aws_sts` identity is bound to. */
  readonly cluster?: string;
  /** STS's endpoint as the master reaches it (default: the region's; or AWS_ENDPOINT_URL_STS). */
  readonly stsEndpoint?: string;
  readonly sqsEndpoint?: string;
  /** Where the fetcher reads `s3://` URIs: an S3-compatible endpoint (default: the region's; or AWS_ENDPOINT_URL_S3). */
  readonly s3Endpoint?: string;
  readonly region?: string;
  /** Registration retries: a random wait in [0, factor], doubling, capped at one minute (Mesos). */
  readonly registrationBackoffFactorMs: number;
  /** Kill grace for SHUTDOWN_FRAMEWORK / SHUTDOWN_EXECUTOR (Mesos --executor_shutdown_grace_period). */
  readonly executorShutdownGracePeriodMs: number;
  /** A custom executor that has not subscribed by then is killed (Mesos --executor_registration_timeout). */
  readonly executorRegistrationTimeoutMs: number;
  /** After an agent restart, a recovered executor that has not resubscribed by then is killed (Mesos's flag). */
  readonly executorReregistrationTimeoutMs: number;
  /** The status update manager's resend backoff (Mesos: 10 s doubling to 10 min). */
  readonly statusUpdateRetryIntervalMinMs: number;
  readonly statusUpdateRetryIntervalMaxMs: number;
  /** Long-poll wait on the command queue. */
  readonly commandPollSeconds: number;
  readonly dockerSocket: string;
  /** `strict` refuses process tasks with GPUs where neither the devices cgroup nor the cgroup2 device filter works. */
  readonly gpuProcessIsolation: 'strict' | 'visibility';
  /** The cgroup2 GPU device filter's loader (agent/isolation/device-filter.c); '' beside the agent, 'none' off. */
  readonly gpuDeviceFilter: string;
  /** A Docker config (`auths`) for private registries: an absolute path or the JSON (Mesos --docker_config). */
  readonly dockerConfig?: string;
  /** Where the sandbox is mounted inside Docker containers (Mesos --sandbox_directory). */
  readonly sandboxDirectory: string;
  /** Kill containers labelled with this work dir that no checkpoint knows (Mesos --docker_kill_orphans). */
  readonly dockerKillOrphans: boolean;
  readonly cgroupsHierarchy: string;
  readonly cgroupsRoot: string;
  /** CFS quota from `cpus` as well as shares (Mesos --cgroups_enable_cfs; on by default here). */
  readonly cgroupsEnableCfs: boolean;
  /** pids limit per container; 0 = none. */
  readonly pidsLimit: number;
  /** Only these GPU indices are offered (Mesos --nvidia_gpu_devices); absent: every non-MIG GPU. */
  readonly nvidiaGpuDevices?: readonly number[];
  /** The nvidia-smi binary; "none" skips GPU detection. */
  readonly nvidiaSmi: string;
  /** EC2 instance metadata (IMDSv2) for instance type and zone attributes: auto (try, quietly) or off. */
  readonly ec2Metadata: 'auto' | 'off';
  readonly ec2MetadataEndpoint: string;
  readonly ec2MetadataTimeoutMs: number;
  /** Run process tasks as the framework's (or the command's) user when the agent runs as root. */
  readonly switchUser: boolean;
  /** The environment process tasks start from (Mesos --executor_environment_variables); default PATH only. */
  readonly executorEnvironmentVariables?: Readonly<Record<string, string>>;
  /** Kill grace when the task and the kill name none (Mesos's command executor: 3 s). */
  readonly defaultKillGracePeriodMs: number;
  /**
   * Addresses (`addr` or `addr:port`, `[v6]:port`) no task may reach: the instance metadata service.
   * Empty: no firewall. AWS agents block 169.254.169.254 and fd00:ec2::254.
   */
  readonly blockMetadata: readonly string[];
  /** Ended tasks' sandboxes are removed this long after they end (Mesos --gc_delay, 1 week). */
  readonly gcDelayMs: number;
  /**
   * Mesos --gc_disk_headroom (0.1): sandboxes go sooner as the work dir's disk fills, after
   * gc_delay × max(0, 1 − headroom − disk usage); at 90% used (the default), at once.
   */
  readonly gcDiskHeadroom: number;
  /** How often the disk is checked and old sandboxes removed (Mesos --disk_watermark_interval, 1 min). */
  readonly diskWatermarkIntervalMs: number;
  /** Kill a task whose sandbox outgrows its `disk` (Mesos --enforce_container_disk_quota, `disk/du`; off). */
  readonly enforceContainerDiskQuota: boolean;
  /** How often sandboxes are measured for that (Mesos --container_disk_watch_interval, 15 s). */
  readonly containerDiskWatchIntervalMs: number;
  /** Bytes the fetcher cache may hold (Mesos --fetcher_cache_size, 2 GB). */
  readonly fetcherCacheSizeBytes: number;
  /** The fetcher cache's folder (Mesos --fetcher_cache_dir); default `<work_dir>/fetch`. */
  readonly fetcherCacheDir?: string;
  /** A download that receives nothing this long fails (Mesos --fetcher_stall_timeout, 1 min). */
  readonly fetcherStallTimeoutMs: number;
}

export type AgentConfigInput = Partial<AgentConfig> & Pick<AgentConfig, 'master' | 'workDir'>;

export const DEFAULTS = {
  containerizers: ['mesos'] as readonly ContainerizerKind[],
  ip: '127.0.0.1',
  port: 5051,
  defaultRole: '*',
  authenticatee: 'basic' as const,
  registrationBackoffFactorMs: 1_000,
  executorShutdownGracePeriodMs: 5_000,
  executorRegistrationTimeoutMs: 60_000,
  executorReregistrationTimeoutMs: 2_000,
  statusUpdateRetryIntervalMinMs: 10_000,
  statusUpdateRetryIntervalMaxMs: 600_000,
  commandPollSeconds: 20,
  dockerSocket: '/var/run/docker.sock',
  gpuProcessIsolation: 'visibility',
  gpuDeviceFilter: '',
  sandboxDirectory: '/mnt/mesos/sandbox',
  dockerKillOrphans: true,
  cgroupsHierarchy: '/sys/fs/cgroup',
  cgroupsRoot: 'mantle',
  cgroupsEnableCfs: true,
  pidsLimit: 4096,
  nvidiaSmi: 'nvidia-smi',
  ec2Metadata: 'auto' as const,
  ec2MetadataEndpoint: 'http://169.254.169.254',
  ec2MetadataTimeoutMs: 300,
  switchUser: true,
  defaultKillGracePeriodMs: 3_000,
  blockMetadata: [] as readonly string[],
  gcDelayMs: 604_800_000,
  gcDiskHeadroom: 0.1,
  diskWatermarkIntervalMs: 60_000,
  enforceContainerDiskQuota: false,
  containerDiskWatchIntervalMs: 15_000,
  fetcherCacheSizeBytes: 2 * 1024 ** 3,
  fetcherStallTimeoutMs: 60_000,
} satisfies Partial<AgentConfig>;

export function agentConfig(input: AgentConfigInput): AgentConfig {
  return { ...DEFAULTS, ...input };
}

// ------------------------------------------------------------------------------------------- flags

type Kind = 'string' | 'bool' | 'duration' | 'int' | 'bytes' | 'fraction' | 'list' | 'json';

interface FlagSpec {
  readonly key: keyof AgentConfig;
  readonly kind: Kind;
  readonly help: string;
}

const FLAGS: Readonly<Record<string, FlagSpec>> = {
  master: {
    key: 'master',
    kind: 'string',
    help: 'the master: host:port or http(s)://host:port[/path] (required; or MANTLE_MASTER, MESOS_MASTER)',
  },
  work_dir: {
    key: 'workDir',
    kind: 'string',
    help: 'where the agent checkpoints and keeps sandboxes (.mantle/agent-<port>)',
  },
  resources: { key: 'resources', kind: 'string', help: "e.g. 'cpus:4;mem:8192;gpus:1;ports:[31000-32000];cpus(ml):2'" },
  attributes: { key: 'attributes', kind: 'string', help: "e.g. 'rack:a;level:10'" },
  containerizers: { key: 'containerizers', kind: 'list', help: 'docker,mesos (default: mesos)' },
  hostname: { key: 'hostname', kind: 'string', help: "the hostname offers carry (default: the host's)" },
  ip: { key: 'ip', kind: 'string', help: 'address of the /health and /metrics/snapshot endpoint (127.0.0.1)' },
  advertise_ip: { key: 'advertiseIp', kind: 'string', help: "the address offers carry (default: the host's)" },
  port: { key: 'port', kind: 'int', help: 'port of that endpoint (5051; 0 = any free port, -1 = none)' },
  default_role: { key: 'defaultRole', kind: 'string', help: "role of --resources given without one ('*')" },
  credential: { key: 'credential', kind: 'string', help: "file holding 'principal secret' of an agent principal" },
  authenticatee: { key: 'authenticatee', kind: 'string', help: 'basic (a credential) or aws_sts (the AWS identity)' },
  cluster: { key: 'cluster', kind: 'string', help: 'the cluster an aws_sts identity is for' },
  sts_endpoint: { key: 'stsEndpoint', kind: 'string', help: "STS endpoint override (default: the region's)" },
  sqs_endpoint: { key: 'sqsEndpoint', kind: 'string', help: 'SQS endpoint override (or AWS_ENDPOINT_URL_SQS)' },
  s3_endpoint: { key: 's3Endpoint', kind: 'string', help: 'S3 endpoint for s3:// URIs (or AWS_ENDPOINT_URL_S3)' },
  region: { key: 'region', kind: 'string', help: 'AWS region (default: the SDK chain)' },
  registration_backoff_factor: { key: 'registrationBackoffFactorMs', kind: 'duration', help: '1secs' },
  executor_shutdown_grace_period: { key: 'executorShutdownGracePeriodMs', kind: 'duration', help: '5secs' },
  executor_registration_timeout: { key: 'executorRegistrationTimeoutMs', kind: 'duration', help: '1mins' },
  executor_reregistration_timeout: { key: 'executorReregistrationTimeoutMs', kind: 'duration', help: '2secs' },
  status_update_retry_interval_min: { key: 'statusUpdateRetryIntervalMinMs', kind: 'duration', help: '10secs' },
  status_update_retry_interval_max: { key: 'statusUpdateRetryIntervalMaxMs', kind: 'duration', help: '10mins' },
  command_poll_wait: { key: 'commandPollSeconds', kind: 'int', help: 'seconds of one command long-poll (20)' },
  docker_socket: { key: 'dockerSocket', kind: 'string', help: '/var/run/docker.sock' },
  docker_config: { key: 'dockerConfig', kind: 'string', help: 'registry credentials: a Docker config path or JSON' },
  sandbox_directory: { key: 'sandboxDirectory', kind: 'string', help: 'sandbox path in containers' },
  docker_kill_orphans: { key: 'dockerKillOrphans', kind: 'bool', help: 'true' },
  cgroups_hierarchy: { key: 'cgroupsHierarchy', kind: 'string', help: '/sys/fs/cgroup' },
  cgroups_root: { key: 'cgroupsRoot', kind: 'string', help: 'mantle' },
  cgroups_enable_cfs: { key: 'cgroupsEnableCfs', kind: 'bool', help: 'CPU quota as well as shares (true)' },
  pids_limit: { key: 'pidsLimit', kind: 'int', help: 'pids per container (4096; 0 = none)' },
  nvidia_gpu_devices: { key: 'nvidiaGpuDevices', kind: 'list', help: "GPU indices to offer, e.g. '0,1'" },
  gpu_process_isolation: {
    key: 'gpuProcessIsolation',
    kind: 'string',
    help: 'strict|visibility: refuse GPU process tasks without a device filter (visibility)',
  },
  gpu_device_filter: {
    key: 'gpuDeviceFilter',
    kind: 'string',
    help: "cgroup2 GPU device filter loader (beside the agent; 'none' turns it off)",
  },
  nvidia_smi: { key: 'nvidiaSmi', kind: 'string', help: "nvidia-smi binary ('none' skips GPU detection)" },
  ec2_metadata: { key: 'ec2Metadata', kind: 'string', help: 'auto|off: instance type and zone from IMDSv2' },
  ec2_metadata_endpoint: { key: 'ec2MetadataEndpoint', kind: 'string', help: 'http://169.254.169.254' },
  ec2_metadata_timeout: { key: 'ec2MetadataTimeoutMs', kind: 'duration', help: '300ms' },
  switch_user: { key: 'switchUser', kind: 'bool', help: "run process tasks as the framework's user (true)" },
  executor_environment_variables: { key: 'executorEnvironmentVariables', kind: 'json', help: 'JSON object' },
  default_kill_grace_period: { key: 'defaultKillGracePeriodMs', kind: 'duration', help: '3secs' },
  gc_delay: { key: 'gcDelayMs', kind: 'duration', help: 'ended sandboxes removed after (1weeks)' },
  gc_disk_headroom: { key: 'gcDiskHeadroom', kind: 'fraction', help: 'sooner as the disk fills (0.1)' },
  disk_watermark_interval: { key: 'diskWatermarkIntervalMs', kind: 'duration', help: '1mins' },
  enforce_container_disk_quota: {
    key: 'enforceContainerDiskQuota',
    kind: 'bool',
    help: 'kill a task whose sandbox outgrows its disk (false)',
  },
  container_disk_watch_interval: { key: 'containerDiskWatchIntervalMs', kind: 'duration', help: '15secs' },
  fetcher_cache_size: { key: 'fetcherCacheSizeBytes', kind: 'bytes', help: 'the fetcher cache (2GB)' },
  fetcher_cache_dir: { key: 'fetcherCacheDir', kind: 'string', help: 'where it is kept (<work_dir>/fetch)' },
  fetcher_stall_timeout: { key: 'fetcherStallTimeoutMs', kind: 'duration', help: 'a silent download fails (1mins)' },
  block_metadata: {
    key: 'blockMetadata',
    kind: 'list',
    help: "addresses tasks may not reach, e.g. '169.254.169.254,fd00:ec2::254' (none)",
  },
};

const UNITS: Readonly<Record<string, number>> = {
  ns: 1e-6,
  us: 1e-3,
  ms: 1,
  secs: 1_000,
  mins: 60_000,
  hrs: 3_600_000,
  days: 86_400_000,
  weeks: 604_800_000,
};

const BYTE_UNITS: Readonly<Record<string, number>> = { B: 1, KB: 1024, MB: 1024 ** 2, GB: 1024 ** 3, TB: 1024 ** 4 };

/** A Mesos byte size (`2GB`, `512MB`, `100B`; binary units, as Mesos's `Bytes`) in bytes. */
export function parseBytes(text: string): number | undefined {
  const match = /^\s*(\d+(?:\.\d+)?)\s*([KMGT]?B)\s*$/.exec(text);
  if (!match?.[1] || !match[2]) return undefined;
  const unit = BYTE_UNITS[match[2]];
  return unit === undefined ? undefined : Math.floor(Number(match[1]) * unit);
}

/** A Mesos duration (`10secs`, `100ms`, `1.5mins`) in milliseconds. */
export function parseDuration(text: string): number | undefined {
  const match = /^\s*(\d+(?:\.\d+)?)\s*([a-z]+)\s*$/.exec(text);
  if (!match?.[1] || !match[2]) return undefined;
  const unit = UNITS[match[2]];
  return unit === undefined ? undefined : Number(match[1]) * unit;
}

export class FlagError extends Error {
  override readonly name = 'FlagError';
}

function convert(name: string, spec: FlagSpec, raw: string): Result<unknown, string> {
  switch (spec.kind) {
    case 'string':
      return ok(raw);
    case 'bool':
      if (raw === 'true' || raw === '1') return ok(true);
      if (raw === 'false' || raw === '0') return ok(false);
      return err(`--${name} takes true or false, not '${raw}'`);
    case 'duration': {
      const ms = parseDuration(raw);
      return ms === undefined ? err(`--${name} takes a duration such as 10secs or 100ms, not '${raw}'`) : ok(ms);
    }
    case 'bytes': {
      const bytes = parseBytes(raw);
      return bytes === undefined ? err(`--${name} takes a size such as 2GB or 512MB, not '${raw}'`) : ok(bytes);
    }
    case 'int':
      return /^-?\d+$/.test(raw.trim()) ? ok(Number(raw)) : err(`--${name} takes an integer, not '${raw}'`);
    case 'fraction': {
      const value = /^\s*\d*\.?\d+\s*$/.test(raw) ? Number(raw) : NaN;
      return value >= 0 && value <= 1 ? ok(value) : err(`--${name} takes a number from 0 to 1, not '${raw}'`);
    }
    case 'list': {
      const items = raw
        .split(',')
        .map((item) => item.trim())
        .filter((item) => item !== '');
      if (spec.key === 'nvidiaGpuDevices') {
        if (!items.every((item) => /^\d+$/.test(item))) return err(`--${name} takes GPU indices, not '${raw}'`);
        return ok(items.map(Number));
      }
      return ok(items);
    }
    case 'json':
      try {
        const value: unknown = JSON.parse(raw);
        if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error('not an object');
        if (!Object.values(value).every((v) => typeof v === 'string')) throw new Error('values must be strings');
        return ok(value);
      } catch (error) {
        return err(`--${name} takes a JSON object of strings: ${(error as Error).message}`);
      }
  }
}

function envName(flag: string): string {
  return `MANTLE_AGENT_${flag.toUpperCase()}`;
}

function validate(config: AgentConfigInput): string | undefined {
  const containerizers = config.containerizers ?? DEFAULTS.containerizers;
  if (containerizers.length === 0) return '--containerizers names none';
  for (const kind of containerizers) {
    if (kind !== 'docker' && kind !== 'mesos') return `Unknown containerizer '${String(kind)}' (docker, mesos)`;
  }
  if (config.authenticatee !== undefined && config.authenticatee !== 'basic' && config.authenticatee !== 'aws_sts') {
    return `--authenticatee takes basic or aws_sts, not '${String(config.authenticatee)}'`;
  }
  if (config.ec2Metadata !== undefined && config.ec2Metadata !== 'auto' && config.ec2Metadata !== 'off') {
    return `--ec2_metadata takes auto or off, not '${String(config.ec2Metadata)}'`;
  }
  const isolation = config.gpuProcessIsolation;
  if (isolation !== undefined && isolation !== 'strict' && isolation !== 'visibility') {
    return `--gpu_process_isolation takes strict or visibility, not '${String(isolation)}'`;
  }
  const blocked = parseMetadataTargets(config.blockMetadata ?? []);
  if (!blocked.ok) return blocked.error;
  const min = config.statusUpdateRetryIntervalMinMs ?? DEFAULTS.statusUpdateRetryIntervalMinMs;
  const max = config.statusUpdateRetryIntervalMaxMs ?? DEFAULTS.statusUpdateRetryIntervalMaxMs;
  if (min <= 0 || max < min) return '--status_update_retry_interval_min must be positive and at most the max';
  return undefined;
}

export type ParsedFlags = { readonly help: true } | { readonly help: false; readonly config: AgentConfig };

/** Parses `mantle agent` flags (argv without the command) over `MANTLE_AGENT_*` environment variables. */
export function parseAgentFlags(argv: readonly string[], env: NodeJS.ProcessEnv = {}): ParsedFlags {
  const values: Record<string, unknown> = {};
  for (const [flag, spec] of Object.entries(FLAGS)) {
    const raw = env[envName(flag)];
    if (raw === undefined) continue;
    const converted = convert(flag, spec, raw);
    if (!converted.ok) throw new FlagError(`${envName(flag)}: ${converted.error}`);
    values[spec.key] = converted.value;
  }
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === '--help' || arg === '-h') return { help: true };
    const match = /^--(no-)?([a-z0-9_]+)(?:=(.*))?$/s.exec(arg);
    if (!match?.[2]) throw new FlagError(`Unexpected argument '${arg}' (flags look like --name=value)`);
    const name = match[2];
    const spec = FLAGS[name];
    if (!spec) throw new FlagError(`Unknown flag '--${name}'; see --help`);
    let raw = match[3];
    if (match[1]) {
      if (spec.kind !== 'bool' || raw !== undefined) throw new FlagError(`'--no-${name}' is only for boolean flags`);
      raw = 'false';
    } else if (raw === undefined) {
      if (spec.kind === 'bool') raw = 'true';
      else if (i + 1 < argv.length && !(argv[i + 1] as string).startsWith('--')) raw = argv[++i] as string;
      else throw new FlagError(`--${name} needs a value`);
    }
    const converted = convert(name, spec, raw);
    if (!converted.ok) throw new FlagError(converted.error);
    values[spec.key] = converted.value;
  }
  const master = resolveMaster({ given: values.master as string | undefined, env });
  if (!master.ok) {
    if (values.master !== undefined || env.MANTLE_MASTER || env.MESOS_MASTER) throw new FlagError(master.error);
    throw new FlagError('--master is required (e.g. --master=127.0.0.1:5050), or MANTLE_MASTER or MESOS_MASTER');
  }
  values.master = master.value;
  // Mesos insists on --work_dir; for agents joined to a local cluster by hand, one per endpoint port
  // (two agents on one host need different ports anyway) lets a restarted agent find its checkpoint.
  values.workDir ??= join('.mantle', `agent-${String(values.port ?? DEFAULTS.port)}`);
  const input = values as unknown as AgentConfigInput;
  const problem = validate(input);
  if (problem) throw new FlagError(problem);
  return { help: false, config: agentConfig(input) };
}

export function usage(): string {
  const lines = Object.entries(FLAGS).map(([flag, spec]) => `  --${flag.padEnd(34)} ${spec.help}`);
  return [
    'Usage: mantle agent --master=<url> [--work_dir=<dir>] [flags]',
    '',
    'Flags (also from the environment as MANTLE_AGENT_<FLAG>; booleans take --no-<flag>):',
    ...lines,
    '',
    'Credentials: --credential=<file>, or MANTLE_AGENT_PRINCIPAL and MANTLE_AGENT_SECRET; on EC2,',
    '--authenticatee=aws_sts --cluster=<name> proves the instance role instead (AWS_REGION, AWS_ENDPOINT_URL_STS).',
  ].join('\n');
}
