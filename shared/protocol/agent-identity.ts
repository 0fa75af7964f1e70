/**
 * An agent's AWS identity, as it proves it to the master at (re-)registration: a signed STS
 * `GetCallerIdentity` request (SigV4 with the instance role's credentials), the scheme that
 * aws-iam-authenticator and Vault's AWS auth use. The agent signs, the master sends. The master builds
 * the whole request itself — STS's URL from its region, the body, the cluster header — and takes from
 * the agent only what it cannot make: the signature (the `Authorization` header), the signing date and
 * the session token. A token signed for another cluster, endpoint or region no longer matches its
 * signature, and STS refuses it. Pure: both sides build the request from here.
 *
 * On the wire: `Authorization: Mantle-STS <base64url(JSON AgentIdentityToken)>`, so that API Gateway's
 * TOKEN authorizer sees it as it sees any other credential.
 */
import { z } from 'zod';

export const AGENT_IDENTITY_SCHEME = 'Mantle-STS';

/** The signed header that binds a token to one cluster. */
export const CLUSTER_HEADER = 'x-mantle-cluster';

/** STS's query API: the one call the master ever makes with an agent's signature. */
export const GET_CALLER_IDENTITY_BODY = 'Action=GetCallerIdentity&Version=2011-06-15';
export const GET_CALLER_IDENTITY_CONTENT_TYPE = 'application/x-www-form-urlencoded; charset=utf-8';

/** The headers the signature must cover, no more and no fewer (sorted, as SigV4 lists them). */
export function signedHeaderNames(withSessionToken: boolean): string {
  return ['content-type', 'host', 'x-amz-date', ...(withSessionToken ? ['x-amz-security-token'] : []), CLUSTER_HEADER]
    .sort()
    .join(';');
}

export const AgentIdentityTokenSchema = z.strictObject({
  /** The cluster the agent signed for (the master checks it before asking STS, for a clear refusal). */
  cluster: z.string().min(1).max(64),
  /** SigV4's `X-Amz-Date`: the signing date, `YYYYMMDDTHHMMSSZ`. */
  amz_date: z.string().regex(/^\d{8}T\d{6}Z$/),
  /** SigV4's `Authorization` header. */
  authorization: z.string().min(1).max(1024),
  /** The role session's token (`X-Amz-Security-Token`); instance roles always have one. */
  security_token: z.string().min(1).max(8192).optional(),
});
export type AgentIdentityToken = z.infer<typeof AgentIdentityTokenSchema>;

export function encodeIdentityToken(token: AgentIdentityToken): string {
  return `${AGENT_IDENTITY_SCHEME} ${Buffer.from(JSON.stringify(token), 'utf8').toString('base64url')}`;
}

/** Whether an Authorization header is an identity token (whatever its validity). */
export function isIdentityToken(header: string | undefined): boolean {
  return (
    header !== undefined && header.trim().split(/\s+/, 1)[0]?.toLowerCase() === AGENT_IDENTITY_SCHEME.toLowerCase()
  );
}

/** The token of an Authorization header, or why it is not one. */
export function decodeIdentityToken(header: string): { token?: AgentIdentityToken; problem?: string } {
  const [scheme, value, ...rest] = header.trim().split(/\s+/);
  if (scheme?.toLowerCase() !== AGENT_IDENTITY_SCHEME.toLowerCase() || !value || rest.length > 0) {
    return { problem: `Expected 'Authorization: ${AGENT_IDENTITY_SCHEME} <token>'` };
  }
  if (value.length > 16_384) return { problem: 'The identity token is too long' };
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(value, 'base64url').toString('utf8'));
  } catch {
    return { problem: 'The identity token is not base64url JSON' };
  }
  const parsed = AgentIdentityTokenSchema.safeParse(json);
  return parsed.success ? { token: parsed.data } : { problem: 'The identity token is malformed' };
}

/** STS's regional endpoint (the one both sides sign and send for), unless one is configured. */
export function stsEndpoint(region: string, configured?: string): string {
  if (configured) return configured.replace(/\/+$/, '');
  const suffix = region.startsWith('cn-') ? 'amazonaws.com.cn' : 'amazonaws.com';
  return `https://sts.${region}.${suffix}`;
}

export const REGION_PATTERN = /^[a-z]{2}(-[a-z]+)+-\d{1,2}$/;

/** `20240102T030405Z` → epoch ms; undefined when it is not a date. */
export function parseAmzDate(amzDate: string): number | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(amzDate);
  if (!m) return undefined;
  const [, year, month, day, hour, minute, second] = m.map(Number) as number[];
  const ms = Date.UTC(year as number, (month as number) - 1, day, hour, minute, second);
  return new Date(ms)
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}/, '') === amzDate
    ? ms
    : undefined;
}
