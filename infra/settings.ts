/**
 * A cluster's deploy settings: the stack's props, read from CDK context (`-c key=value` or cdk.json)
 * with defaults and checks, so that a typo fails the synth instead of the deploy.
 */
import { parseClusterAcl } from '#shared/acl.js';
import { validateClusterName } from '#shared/queues/queues.js';
import { DEFAULT_AGENT_SHAPE, parseAgentShape } from '../functions/fleet/demand.js';
import { DEFAULT_DRAIN_SETTINGS, KILL_SLACK_SECONDS } from '../functions/fleet/drain.js';

/** The AWS Deep Learning Base GPU AMI (Amazon Linux 2023): NVIDIA driver, Docker and the container toolkit. */
export const DEFAULT_AGENT_AMI_PARAMETER =
  '/aws/service/deeplearning/ami/x86_64/base-oss-nvidia-driver-gpu-amazon-linux-2023/latest/ami-id';

/** One NVIDIA GPU each (A10G, L4); larger sizes can be added. */
export const DEFAULT_AGENT_INSTANCE_TYPES = ['g6.xlarge', 'g5.xlarge', 'g6.2xlarge', 'g5.2xlarge'];

/** A lifecycle hook waits at most two hours (its heartbeat timeout's maximum). */
export const MAX_LIFECYCLE_WAIT_SECONDS = 7200;

/**
 * The heartbeat queue's event source: a batching window gathers many heartbeats into one invocation
 * (one read of their agents, one write), and the most one invocation takes. The window only delays
 * recording heartbeats, which the sweeper's threshold (a minute and more) absorbs.
 */
export const HEARTBEAT_BATCHING_WINDOW_SECONDS = 20;
export const HEARTBEAT_BATCH_SIZE = 1000;

/** How frameworks and agents reach the master. */
export type Endpoint = 'api-gateway' | 'function-url';

export interface ClusterSettings {
  readonly clusterName: string;
  /** Deploy to this region (default: the CLI's). */
  readonly region?: string;
  readonly account?: string;
  /** API Gateway REST API (authorizer, throttling, WAF) or a Lambda function URL (cheapest; see docs/cost.md). */
  readonly endpoint: Endpoint;
  readonly agentInstanceTypes: readonly string[];
  readonly minAgents: number;
  readonly maxAgents: number;
  readonly spot: boolean;
  readonly deletionProtection: boolean;
  readonly agentAmiParameter: string;
  readonly rootVolumeGiB: number;
  /** Explicit zones for the agents' subnets (a synth without an account knows none; default two). */
  readonly availabilityZones?: readonly string[];
  /** A custom domain for the REST API: both or neither. */
  readonly domainName?: string;
  readonly certificateArn?: string;
  /** A WAFv2 web ACL (REGIONAL) to associate with the REST API's stage. */
  readonly webAclArn?: string;
  /** Alarm notifications go to this address as well as the alarm topic. */
  readonly alarmEmail?: string;
  readonly drainGraceSeconds: number;
  readonly drainKillGraceSeconds: number;
  readonly spotKillGraceSeconds: number;
  /** Mesos --agent_ping_timeout and --max_agent_ping_timeouts (the heartbeat interval is the former). */
  readonly agentPingTimeoutSeconds: number;
  readonly maxAgentPingTimeouts: number;
  /** REST API stage throttling (requests per second, burst). */
  readonly throttleRateLimit: number;
  readonly throttleBurstLimit: number;
  /**
   * Reserved concurrency of the status and heartbeat functions (the allocator has its own), so that
   * SUBSCRIBE streams can never starve them; at least 2 (an SQS event source's least).
   */
  readonly statusConcurrency: number;
  readonly heartbeatsConcurrency: number;
  /** Per principal: frameworks, and open SUBSCRIBE streams (each holds a Lambda invocation). */
  readonly maxFrameworksPerPrincipal: number;
  readonly maxStreamsPerPrincipal: number;
  /**
   * The cluster's default ACL (docs/security.md), as the master reads it from MANTLE_ACLS: `permissive`
   * or JSON, checked at synth. Absent: the master's safe defaults.
   */
  readonly acls?: string;
  /**
   * Mesos --filter_gpu_resources: agents with GPUs only for GPU_RESOURCES frameworks (the default). False
   * lets tasks without GPUs run on the GPU agents, the only agents this stack has.
   */
  readonly filterGpuResources: boolean;
  /**
   * What one new agent offers, as resource text (the smallest of `agentInstanceTypes`, less the agent's
   * reserve): the fleet tick packs pending demand into agents of this shape to know how many to add.
   */
  readonly agentResources: string;
  /**
   * ECR repositories the agents may pull from with their instance role (names in the stack's account and
   * region, or repository ARNs; a name may end in `*`). Empty: no ECR permission at all.
   */
  readonly ecrRepositories: readonly string[];
  /**
   * What agents accept from each other: `tasks` (the task ports and the Linux ephemeral ports NCCL and
   * PyTorch listen on) or `all` (every protocol and port, which EFA requires).
   */
  readonly agentPeerTraffic: 'tasks' | 'all';
  /**
   * S3 buckets the agents' fetcher may read `s3://` URIs from (the instance role gets s3:GetObject on
   * their objects, nothing else); which principals may use which is the ACLs' `s3_buckets`.
   */
  readonly fetchBuckets: readonly string[];
}

/** The default instance types' smallest (4 vCPUs, 16 GiB, 1 GPU), less the agent's 1 GB reserve. */
export const DEFAULT_AGENT_RESOURCES = Object.entries(DEFAULT_AGENT_SHAPE)
  .map(([name, amount]) => `${name}:${amount}`)
  .join(';');

export class SettingsError extends Error {
  override readonly name = 'SettingsError';
}

type Lookup = (key: string) => unknown;

function text(get: Lookup, key: string): string | undefined {
  const value = get(key);
  if (value === undefined || value === null || value === '') return undefined;
  return String(value);
}

function integer(get: Lookup, key: string, fallback: number, min = 0): number {
  const raw = text(get, key);
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min)
    throw new SettingsError(`${key} must be an integer ≥ ${min}, not '${raw}'`);
  return value;
}

function flag(get: Lookup, key: string, fallback: boolean): boolean {
  const raw = text(get, key);
  if (raw === undefined) return fallback;
  if (raw === 'true' || raw === 'false') return raw === 'true';
  throw new SettingsError(`${key} must be true or false, not '${raw}'`);
}

function list(get: Lookup, key: string): string[] | undefined {
  const value = get(key);
  if (Array.isArray(value)) return value.map(String);
  const raw = text(get, key);
  return raw === undefined
    ? undefined
    : raw
        .split(',')
        .map((item) => item.trim())
        .filter((item) => item !== '');
}

/** S3 bucket names (3–63 lower-case letters, digits, dots and hyphens), as `fetchBuckets`. */
function fetchBucketsSetting(get: Lookup): string[] {
  const buckets = list(get, 'fetchBuckets') ?? [];
  const bad = buckets.find((bucket) => !/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket));
  if (bad !== undefined) throw new SettingsError(`fetchBuckets must name S3 buckets, not '${bad}'`);
  return buckets;
}

/** Reads and checks the settings; `get` is `app.node.tryGetContext` (or a map in tests). */
export function clusterSettings(get: Lookup): ClusterSettings {
  const clusterName = text(get, 'cluster') ?? 'mantle';
  const invalid = validateClusterName(clusterName);
  if (invalid) throw new SettingsError(invalid);
  const endpoint = text(get, 'endpoint') ?? 'api-gateway';
  if (endpoint !== 'api-gateway' && endpoint !== 'function-url') {
    throw new SettingsError(`endpoint must be api-gateway or function-url, not '${endpoint}'`);
  }
  const agentInstanceTypes = list(get, 'agentInstanceTypes') ?? DEFAULT_AGENT_INSTANCE_TYPES;
  const badType = agentInstanceTypes.find((type) => !/^[a-z][a-z0-9-]*\.[a-z0-9]+$/.test(type));
  if (agentInstanceTypes.length === 0 || badType !== undefined) {
    throw new SettingsError(`agentInstanceTypes must list instance types such as g6.xlarge, not '${String(badType)}'`);
  }
  const minAgents = integer(get, 'minAgents', 0);
  const maxAgents = integer(get, 'maxAgents', 8, 1);
  if (minAgents > maxAgents) throw new SettingsError(`minAgents (${minAgents}) exceeds maxAgents (${maxAgents})`);
  const domainName = text(get, 'domainName');
  const certificateArn = text(get, 'certificateArn');
  if ((domainName === undefined) !== (certificateArn === undefined)) {
    throw new SettingsError('domainName and certificateArn go together');
  }
  const drainGraceSeconds = integer(get, 'drainGraceSeconds', DEFAULT_DRAIN_SETTINGS.graceSeconds);
  const drainKillGraceSeconds = integer(get, 'drainKillGraceSeconds', DEFAULT_DRAIN_SETTINGS.killGraceSeconds);
  const wait = lifecycleWaitSeconds(drainGraceSeconds, drainKillGraceSeconds);
  if (wait > MAX_LIFECYCLE_WAIT_SECONDS) {
    throw new SettingsError(
      `drainGraceSeconds + drainKillGraceSeconds + ${LIFECYCLE_SLACK_SECONDS} must fit in a lifecycle hook's ` +
        `${MAX_LIFECYCLE_WAIT_SECONDS} s, not ${wait} s`,
    );
  }
  const region = text(get, 'region');
  const account = text(get, 'account');
  const availabilityZones = list(get, 'availabilityZones');
  const webAclArn = text(get, 'webAclArn');
  const alarmEmail = text(get, 'alarmEmail');
  const acls = aclsSetting(get);
  return {
    clusterName,
    ...(region ? { region } : {}),
    ...(account ? { account } : {}),
    endpoint,
    agentInstanceTypes,
    minAgents,
    maxAgents,
    spot: flag(get, 'spot', false),
    deletionProtection: flag(get, 'deletionProtection', true),
    agentAmiParameter: text(get, 'agentAmiParameter') ?? DEFAULT_AGENT_AMI_PARAMETER,
    rootVolumeGiB: integer(get, 'rootVolumeGiB', 150, 30),
    ...(availabilityZones ? { availabilityZones } : {}),
    ...(domainName && certificateArn ? { domainName, certificateArn } : {}),
    ...(webAclArn ? { webAclArn } : {}),
    ...(alarmEmail ? { alarmEmail } : {}),
    drainGraceSeconds,
    drainKillGraceSeconds,
    spotKillGraceSeconds: integer(get, 'spotKillGraceSeconds', DEFAULT_DRAIN_SETTINGS.spotKillGraceSeconds),
    agentPingTimeoutSeconds: integer(get, 'agentPingTimeoutSeconds', 15, 1),
    maxAgentPingTimeouts: integer(get, 'maxAgentPingTimeouts', 5, 1),
    throttleRateLimit: integer(get, 'throttleRateLimit', 200, 1),
    throttleBurstLimit: integer(get, 'throttleBurstLimit', 400, 1),
    statusConcurrency: integer(get, 'statusConcurrency', 10, 2),
    heartbeatsConcurrency: integer(get, 'heartbeatsConcurrency', 2, 2),
    maxFrameworksPerPrincipal: integer(get, 'maxFrameworksPerPrincipal', 100, 1),
    maxStreamsPerPrincipal: integer(get, 'maxStreamsPerPrincipal', 50, 1),
    ...(acls ? { acls } : {}),
    filterGpuResources: flag(get, 'filterGpuResources', true),
    agentResources: agentResourcesSetting(get),
    ecrRepositories: ecrRepositoriesSetting(get),
    agentPeerTraffic: peerTrafficSetting(get),
    fetchBuckets: fetchBucketsSetting(get),
  };
}

/** A repository name, or a prefix of names ending in `*` (`team/*`, `team/train-*`); never `*` alone. */
const ECR_NAME = /^(?:[a-z0-9]+(?:[._-][a-z0-9]+)*\/)*(?:[a-z0-9]+(?:[._-][a-z0-9]+)*[._-]?\*?|\*)$/;
const ECR_ARN = /^arn:aws[a-z-]*:ecr:[a-z0-9-]+:\d{12}:repository\/[a-z0-9._/-]+\*?$/;

/** `ecrRepositories`: repository names or ARNs, never a bare `*` (least privilege). */
function ecrRepositoriesSetting(get: Lookup): string[] {
  const repositories = list(get, 'ecrRepositories') ?? [];
  const bad = repositories.find(
    (repository) => repository === '*' || (!ECR_NAME.test(repository) && !ECR_ARN.test(repository)),
  );
  if (bad !== undefined) {
    throw new SettingsError(
      `ecrRepositories must list ECR repository names or ARNs (team/train, team/*), not '${bad}'`,
    );
  }
  return repositories;
}

function peerTrafficSetting(get: Lookup): 'tasks' | 'all' {
  const value = text(get, 'agentPeerTraffic') ?? 'tasks';
  if (value !== 'tasks' && value !== 'all') {
    throw new SettingsError(`agentPeerTraffic must be tasks or all, not '${value}'`);
  }
  return value;
}

/** `agentResources`: Mesos resource text whose scalars are the fleet's shape. */
function agentResourcesSetting(get: Lookup): string {
  const raw = text(get, 'agentResources') ?? DEFAULT_AGENT_RESOURCES;
  try {
    parseAgentShape(raw);
  } catch (error) {
    throw new SettingsError(`agentResources: ${(error as Error).message}`);
  }
  return raw;
}

/** `acls`: `permissive`, JSON text, or an object (cdk.json); checked here, passed on as text. */
function aclsSetting(get: Lookup): string | undefined {
  const value = get('acls');
  if (value === undefined || value === null || value === '') return undefined;
  const raw = typeof value === 'string' ? value : JSON.stringify(value);
  const parsed = parseClusterAcl(raw);
  if (!parsed.ok) throw new SettingsError(`acls: ${parsed.error}`);
  return raw.trim() === 'permissive' ? 'permissive' : JSON.stringify(parsed.value);
}

/**
 * Beyond the grace and the kill grace: up to a minute for a fleet tick to notice the grace is over, the
 * slack for the killed tasks' updates, a tick to notice that, and a minute to spare.
 */
export const LIFECYCLE_SLACK_SECONDS = 3 * 60 + KILL_SLACK_SECONDS;

/** How long the termination lifecycle hook waits before the group goes on by itself. */
export function lifecycleWaitSeconds(graceSeconds: number, killGraceSeconds: number): number {
  return graceSeconds + killGraceSeconds + LIFECYCLE_SLACK_SECONDS;
}
