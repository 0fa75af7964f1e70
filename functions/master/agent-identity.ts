/**
 * How the master tells which instance an agent runs on ("Agent identity" in docs/security.md): which
 * mode the cluster is in, and — in `aws-sts` mode — the checks around the signed `GetCallerIdentity` request the
 * agent presents (shared/protocol/agent-identity.ts): the token before STS sees it, the request the
 * master sends in its place, and STS's answer, from which the instance id is derived. Pure; the call to
 * STS is sts-identity.ts.
 *
 * Modes: `principal` — agents authenticate as an agent principal (one shared credential), and report
 * their instance themselves (the local cluster, tests, legacy deployments); `aws-sts` — each agent
 * proves its instance role session, and the master derives the instance from it.
 */
import { z } from 'zod';
import {
  CLUSTER_HEADER,
  GET_CALLER_IDENTITY_BODY,
  GET_CALLER_IDENTITY_CONTENT_TYPE,
  parseAmzDate,
  REGION_PATTERN,
  signedHeaderNames,
  stsEndpoint,
  type AgentIdentityToken,
} from '#shared/protocol/agent-identity.js';
import { failure, ok, type Failure, type Result } from '#shared/result.js';

export const AgentIdentityConfigSchema = z.discriminatedUnion('mode', [
  z.object({ mode: z.literal('principal') }),
  z.object({
    mode: z.literal('aws-sts'),
    /** The region agents sign for; STS's endpoint is the region's unless `stsEndpoint` says otherwise. */
    region: z.string().regex(REGION_PATTERN, 'not an AWS region'),
    stsEndpoint: z.url().optional(),
    /** The agents' instance role: only its sessions may register as agents. */
    roleName: z.string().regex(/^[\w+=,.@-]{1,64}$/, 'not an IAM role name'),
    /** The account the role lives in, when known. */
    account: z
      .string()
      .regex(/^\d{12}$/)
      .optional(),
    /** How old a signature may be (aws-iam-authenticator: 15 minutes; STS itself takes 15). */
    maxAgeSeconds: z.coerce.number().int().positive().max(900).default(300),
    /** How long the master waits for STS. */
    timeoutMs: z.coerce.number().int().positive().default(3000),
  }),
]);
export type AgentIdentityConfig = z.infer<typeof AgentIdentityConfigSchema>;
export type StsIdentityConfig = Extract<AgentIdentityConfig, { mode: 'aws-sts' }>;

/** What the master knows of an agent that proved its identity. */
export interface AgentIdentity {
  /** `arn:aws:sts::<account>:assumed-role/<role name>/<instance id>` */
  readonly arn: string;
  readonly account: string;
  /** The role's unique id (`AROA…`), the first half of STS's UserId. */
  readonly roleId: string;
  /** Derived from the role session's name: EC2 names instance-role sessions after the instance. */
  readonly instanceId: string;
  /** `<role id>:<instance id>`: the `aws:userid` of the session, and what SQS stamps as SenderId. */
  readonly session: string;
}

export type IdentityFailure = Failure<'UNAUTHENTICATED' | 'FORBIDDEN' | 'UNAVAILABLE'>;

/** Clocks disagree a little: a signature dated this far ahead is still taken. */
const MAX_SKEW_MS = 60_000;

const AUTHORIZATION =
  /^AWS4-HMAC-SHA256 Credential=([A-Z0-9]{16,128})\/(\d{8})\/([a-z0-9-]+)\/sts\/aws4_request, ?SignedHeaders=([a-z0-9;-]+), ?Signature=([0-9a-f]{64})$/;

/** What can be checked before STS is asked: cluster, age, and a signature of the expected shape. */
export function checkToken(
  token: AgentIdentityToken,
  config: StsIdentityConfig,
  cluster: string,
  now: number,
): Result<void, IdentityFailure> {
  if (token.cluster !== cluster) {
    return failure('UNAUTHENTICATED', `The identity was signed for cluster '${token.cluster}'; this is '${cluster}'`);
  }
  const signedAt = parseAmzDate(token.amz_date);
  if (signedAt === undefined) return failure('UNAUTHENTICATED', 'The identity has no valid signing date');
  const age = now - signedAt;
  if (age > config.maxAgeSeconds * 1000) {
    return failure(
      'UNAUTHENTICATED',
      `The identity expired: signed ${Math.round(age / 1000)} s ago (at most ${config.maxAgeSeconds} s)`,
    );
  }
  if (age < -MAX_SKEW_MS) return failure('UNAUTHENTICATED', 'The identity is signed in the future (check the clock)');
  const match = AUTHORIZATION.exec(token.authorization);
  if (!match) return failure('UNAUTHENTICATED', 'The identity is not a SigV4 signature for STS');
  const [, , day, region, signedHeaders] = match;
  if (day !== token.amz_date.slice(0, 8)) return failure('UNAUTHENTICATED', 'The signature scope is not its date');
  if (region !== config.region) {
    return failure(
      'UNAUTHENTICATED',
      `The identity is signed for region '${region}'; agents sign for '${config.region}'`,
    );
  }
  if (signedHeaders !== signedHeaderNames(token.security_token !== undefined)) {
    return failure('UNAUTHENTICATED', `The signature must cover exactly ${signedHeaderNames(true)}`);
  }
  return ok(undefined);
}

export interface StsRequest {
  readonly url: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

/** The request the master sends: everything but the signature, date and session token is its own. */
export function stsRequest(token: AgentIdentityToken, config: StsIdentityConfig, cluster: string): StsRequest {
  return {
    url: `${stsEndpoint(config.region, config.stsEndpoint)}/`,
    headers: {
      'content-type': GET_CALLER_IDENTITY_CONTENT_TYPE,
      'x-amz-date': token.amz_date,
      ...(token.security_token !== undefined ? { 'x-amz-security-token': token.security_token } : {}),
      [CLUSTER_HEADER]: cluster,
      authorization: token.authorization,
      accept: 'text/xml',
    },
    body: GET_CALLER_IDENTITY_BODY,
  };
}

/** The single value of an XML element (STS's answers are flat and never escape these values). */
function element(xml: string, name: string): string | undefined {
  const found = [...xml.matchAll(new RegExp(`<${name}>([^<]*)</${name}>`, 'g'))];
  return found.length === 1 ? found[0]?.[1]?.trim() : undefined;
}

export interface CallerIdentity {
  readonly arn: string;
  readonly userId: string;
  readonly account: string;
}

/** GetCallerIdentity's answer (`<GetCallerIdentityResult>`), or undefined. */
export function parseCallerIdentity(xml: string): CallerIdentity | undefined {
  if (!xml.includes('<GetCallerIdentityResult>')) return undefined;
  const arn = element(xml, 'Arn');
  const userId = element(xml, 'UserId');
  const account = element(xml, 'Account');
  return arn && userId && account ? { arn, userId, account } : undefined;
}

/** STS's error (`<Error><Code>…</Code><Message>…</Message></Error>`), for the refusal's message. */
export function stsErrorOf(xml: string, status: number): string {
  const code = element(xml, 'Code') ?? `HTTP ${status}`;
  const message = element(xml, 'Message');
  return message ? `${code}: ${message.slice(0, 200)}` : code;
}

const ASSUMED_ROLE = /^arn:aws[a-z-]*:sts::(\d{12}):assumed-role\/([\w+=,.@-]{1,64})\/([\w+=,.@-]{2,64})$/;
const INSTANCE_ID = /^i-[0-9a-f]{8,17}$/;

/**
 * The agent's identity from STS's answer: a session of the agents' role (and, where the master knows
 * them, of its id and account), named after an EC2 instance. Anything else is refused (403).
 */
export function identityOf(
  caller: CallerIdentity,
  config: StsIdentityConfig,
  roleId: string | undefined,
): Result<AgentIdentity, IdentityFailure> {
  const match = ASSUMED_ROLE.exec(caller.arn);
  const refuse = (why: string) => failure('FORBIDDEN', `${caller.arn} may not register as an agent: ${why}`);
  if (!match) return refuse("it is not a role session of the agents' instance role");
  const [, account, roleName, sessionName] = match as unknown as [string, string, string, string];
  if (roleName !== config.roleName) return refuse(`agents run with the role '${config.roleName}'`);
  if (config.account !== undefined && account !== config.account) return refuse(`agents run in ${config.account}`);
  if (account !== caller.account) return refuse('STS named another account');
  if (!INSTANCE_ID.test(sessionName)) return refuse('its session is not named after an EC2 instance');
  const [sessionRoleId, userSession, ...rest] = caller.userId.split(':');
  if (!sessionRoleId || userSession !== sessionName || rest.length > 0 || !/^AROA[A-Z0-9]+$/.test(sessionRoleId)) {
    return refuse(`STS's UserId ${caller.userId} is not <role id>:${sessionName}`);
  }
  if (roleId !== undefined && sessionRoleId !== roleId) return refuse('the role was replaced since the stack made it');
  return ok({
    arn: caller.arn,
    account,
    roleId: sessionRoleId,
    instanceId: sessionName,
    session: caller.userId,
  });
}
