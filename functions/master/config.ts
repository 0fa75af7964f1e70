/**
 * The master's configuration: Mesos flag names where Mesos has the setting, Mantle's own otherwise.
 * In Lambda it comes from environment variables (MANTLE_*), locally from the supervisor's flags.
 */
import { z } from 'zod';
import { ClusterAclSchema, parseClusterAcl, SAFE_ACL } from '#shared/acl.js';
import { validateClusterName } from '#shared/queues/queues.js';
import { AgentIdentityConfigSchema, type AgentIdentityConfig } from './agent-identity.js';

const seconds = z.coerce.number().finite().nonnegative();

export const MasterConfigSchema = z.object({
  /** Names the cluster: prefixes tables and queues. */
  cluster: z.string().refine((name) => validateClusterName(name) === undefined, 'invalid cluster name'),
  /** Prefix of the ids this cluster assigns (Mesos's master id). */
  clusterId: z.string().min(1),
  /** SUBSCRIBED.heartbeat_interval_seconds; Mesos sends a HEARTBEAT every 15 s. */
  heartbeatIntervalSeconds: seconds.positive().default(15),
  /**
   * How long a disconnected framework stays active before it is deactivated (Mantle's deviation:
   * streams are closed by the Lambda cap, and clients resubscribe).
   */
  reconnectGraceSeconds: seconds.default(30),
  /** The server closes a SUBSCRIBE stream before this (the Lambda response cap is 15 minutes). */
  maxStreamSeconds: seconds.positive().default(14 * 60),
  /** How often a stream checks that its subscription is still the current one. */
  streamCheckSeconds: seconds.positive().default(2),
  /**
   * Authenticate frameworks, operators and agents. On unless turned off explicitly (fail closed): the
   * local cluster turns it off on loopback unless asked for it.
   */
  authenticate: z.boolean().default(true),
  /**
   * The cluster's default ACL (shared/acl.ts): what frameworks may do where their principal's own ACL
   * says nothing, and what every framework may do with authentication off. Safe unless set otherwise;
   * `permissive` allows everything.
   */
  acls: ClusterAclSchema.default(SAFE_ACL),
  /**
   * This process is the only one that writes the registrar (the local cluster, where every handler shares one
   * process): an operator stream then need not wait for other writers to learn that someone watches.
   */
  soleWriter: z.boolean().default(false),
  /** Seconds an offer stays outstanding before it is rescinded (Mesos: no default). */
  offerTimeoutSeconds: seconds.positive().default(120),
  /** Mesos --agent_ping_timeout and --max_agent_ping_timeouts: an agent silent this long is unreachable. */
  agentPingTimeoutSeconds: seconds.positive().default(15),
  maxAgentPingTimeouts: z.coerce.number().int().positive().default(5),
  /** A launch the agent has not confirmed (no status update) after this long is dropped. */
  launchTimeoutSeconds: seconds.positive().default(60),
  /**
   * Per principal (or per cluster, with authentication off): frameworks not removed, and open SUBSCRIBE
   * streams (each holds a Lambda invocation). Beyond them SUBSCRIBE answers 429 (docs/security.md).
   */
  maxFrameworksPerPrincipal: z.coerce.number().int().positive().default(100),
  maxStreamsPerPrincipal: z.coerce.number().int().positive().default(50),
  /** Largest request body accepted, in bytes. */
  maxBodyBytes: z.coerce
    .number()
    .int()
    .positive()
    .default(4 * 1024 * 1024),
  /** How agents prove who they are (agent-identity.ts): a shared agent principal, or their AWS identity. */
  agentIdentity: AgentIdentityConfigSchema.default({ mode: 'principal' }),
  /**
   * The agents' instance role's unique id (AWS): an agent's role session on an instance is
   * `<agentRoleId>:<instance id>`, which SQS stamps on its messages as SenderId.
   */
  agentRoleId: z
    .string()
    .regex(/^AROA[A-Z0-9]+$/)
    .optional(),
  /**
   * The CloudWatch Logs group agents ship task output to and the files API reads from (the stack's
   * `/mantle/<cluster>/tasks`); absent, there is no task output.
   */
  taskLogGroup: z.string().min(1).optional(),
  /** A stand-in's endpoint for that group (the local cluster's); absent: CloudWatch Logs itself. */
  taskLogsEndpoint: z.string().url().optional(),
});
export type MasterConfig = z.infer<typeof MasterConfigSchema>;
export type MasterConfigInput = z.input<typeof MasterConfigSchema>;

export function masterConfig(input: MasterConfigInput): MasterConfig {
  return MasterConfigSchema.parse(input);
}

/**
 * MANTLE_AUTHENTICATE: absent means on; only `true` or `false` are understood, and anything else stops
 * the function from starting rather than guessing (a typo must not open the cluster).
 */
export function authenticateFromEnvironment(value: string | undefined): boolean {
  if (value === undefined || value.trim() === '') return true;
  const normal = value.trim().toLowerCase();
  if (normal === 'true' || normal === 'false') return normal === 'true';
  throw new Error(`MANTLE_AUTHENTICATE must be true or false, not '${value}'`);
}

/** MANTLE_ACLS: `permissive` or JSON; absent means the safe default, and what does not parse stops the function. */
export function aclsFromEnvironment(value: string | undefined): MasterConfig['acls'] {
  if (value === undefined || value.trim() === '') return SAFE_ACL;
  const parsed = parseClusterAcl(value);
  if (!parsed.ok) throw new Error(`MANTLE_ACLS: ${parsed.error}`);
  return parsed.value;
}

/** From the environment of a Lambda function (MANTLE_CLUSTER, MANTLE_HEARTBEAT_INTERVAL_SECONDS, ...). */
export function masterConfigFromEnvironment(env: NodeJS.ProcessEnv = process.env): MasterConfig {
  const read = (name: string) => env[`MANTLE_${name}`];
  return masterConfig({
    agentIdentity: agentIdentityFromEnvironment(env),
    ...(read('AGENT_ROLE_ID') ? { agentRoleId: read('AGENT_ROLE_ID') } : {}),
    authenticate: authenticateFromEnvironment(read('AUTHENTICATE')),
    acls: aclsFromEnvironment(read('ACLS')),
    cluster: read('CLUSTER') ?? '',
    clusterId: read('CLUSTER_ID') ?? '',
    ...(read('HEARTBEAT_INTERVAL_SECONDS') ? { heartbeatIntervalSeconds: read('HEARTBEAT_INTERVAL_SECONDS') } : {}),
    ...(read('RECONNECT_GRACE_SECONDS') ? { reconnectGraceSeconds: read('RECONNECT_GRACE_SECONDS') } : {}),
    ...(read('MAX_STREAM_SECONDS') ? { maxStreamSeconds: read('MAX_STREAM_SECONDS') } : {}),
    ...(read('OFFER_TIMEOUT_SECONDS') ? { offerTimeoutSeconds: read('OFFER_TIMEOUT_SECONDS') } : {}),
    ...(read('AGENT_PING_TIMEOUT_SECONDS') ? { agentPingTimeoutSeconds: read('AGENT_PING_TIMEOUT_SECONDS') } : {}),
    ...(read('MAX_AGENT_PING_TIMEOUTS') ? { maxAgentPingTimeouts: read('MAX_AGENT_PING_TIMEOUTS') } : {}),
    ...(read('LAUNCH_TIMEOUT_SECONDS') ? { launchTimeoutSeconds: read('LAUNCH_TIMEOUT_SECONDS') } : {}),
    ...(read('MAX_FRAMEWORKS_PER_PRINCIPAL')
      ? { maxFrameworksPerPrincipal: read('MAX_FRAMEWORKS_PER_PRINCIPAL') }
      : {}),
    ...(read('MAX_STREAMS_PER_PRINCIPAL') ? { maxStreamsPerPrincipal: read('MAX_STREAMS_PER_PRINCIPAL') } : {}),
    ...(read('TASK_LOG_GROUP') ? { taskLogGroup: read('TASK_LOG_GROUP') } : {}),
    ...(read('TASK_LOGS_ENDPOINT') ? { taskLogsEndpoint: read('TASK_LOGS_ENDPOINT') } : {}),
  });
}

/**
 * MANTLE_AGENT_IDENTITY (`principal` or `aws-sts`) is required: a function deployed without it fails
 * at its cold start rather than guess how agents authenticate. `aws-sts` reads the agents' role
 * (MANTLE_AGENT_ROLE_NAME, MANTLE_AGENT_ACCOUNT), the region (AWS_REGION) and STS's endpoint
 * (AWS_ENDPOINT_URL_STS, as the AWS SDKs do; default the region's).
 */
export function agentIdentityFromEnvironment(env: NodeJS.ProcessEnv): AgentIdentityConfig {
  const mode = env.MANTLE_AGENT_IDENTITY;
  if (mode === 'principal') return { mode };
  if (mode !== 'aws-sts') {
    throw new Error(`MANTLE_AGENT_IDENTITY must be principal or aws-sts, not '${mode ?? '(unset)'}'`);
  }
  return AgentIdentityConfigSchema.parse({
    mode,
    region: env.AWS_REGION ?? env.AWS_DEFAULT_REGION,
    ...(env.AWS_ENDPOINT_URL_STS ? { stsEndpoint: env.AWS_ENDPOINT_URL_STS } : {}),
    roleName: env.MANTLE_AGENT_ROLE_NAME,
    ...(env.MANTLE_AGENT_ACCOUNT ? { account: env.MANTLE_AGENT_ACCOUNT } : {}),
    ...(env.MANTLE_AGENT_IDENTITY_MAX_AGE_SECONDS ? { maxAgeSeconds: env.MANTLE_AGENT_IDENTITY_MAX_AGE_SECONDS } : {}),
  });
}
