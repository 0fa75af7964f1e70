/**
 * How the agent proves who it is at (re-)registration ("Agent identity" in docs/security.md).
 * `--authenticatee=basic` (the default): HTTP Basic with an agent principal's credential, if one is
 * configured.
 * `--authenticatee=aws_sts`: a `GetCallerIdentity` request to STS signed afresh (SigV4) with the
 * instance role's credentials — the AWS SDK's default chain, which reads them from the instance
 * metadata service — and bound to the cluster by a signed header; the master sends it to STS and learns
 * the role session, hence the instance, from the answer. The secret key never leaves the agent.
 */
import {
  CLUSTER_HEADER,
  encodeIdentityToken,
  GET_CALLER_IDENTITY_BODY,
  GET_CALLER_IDENTITY_CONTENT_TYPE,
  REGION_PATTERN,
  stsEndpoint,
} from '#shared/protocol/agent-identity.js';
import { SQSClient } from '@aws-sdk/client-sqs';
import { signRequest, type SigningCredentials } from '#shared/aws/sigv4.js';
import type { AgentConfig } from './config.js';
import { loadCredentials, type Authorization } from './master-client.js';

/** The instance role's current credentials (they rotate: asked for at every signing). */
export type CredentialSource = () => Promise<SigningCredentials>;

export interface IdentitySigning {
  /** The cluster the signature is bound to (the master refuses any other). */
  readonly cluster: string;
  readonly region: string;
  /** STS's endpoint as the master reaches it (default: the region's). */
  readonly stsEndpoint?: string;
  readonly credentials: CredentialSource;
  /** The signing date (default: now). */
  readonly signingDate?: Date;
}

/** An `Authorization: Mantle-STS …` header: a freshly signed GetCallerIdentity request. */
export async function signAgentIdentity(signing: IdentitySigning): Promise<string> {
  const headers = signRequest({
    method: 'POST',
    url: `${stsEndpoint(signing.region, signing.stsEndpoint)}/`,
    headers: { 'content-type': GET_CALLER_IDENTITY_CONTENT_TYPE, [CLUSTER_HEADER]: signing.cluster },
    body: GET_CALLER_IDENTITY_BODY,
    region: signing.region,
    service: 'sts',
    credentials: await signing.credentials(),
    ...(signing.signingDate ? { date: signing.signingDate } : {}),
  });
  const token = headers['x-amz-security-token'];
  return encodeIdentityToken({
    cluster: signing.cluster,
    amz_date: headers['x-amz-date'] ?? '',
    authorization: headers.authorization ?? '',
    ...(token ? { security_token: token } : {}),
  });
}

export interface AuthorizationSources {
  /** Where MANTLE_AGENT_PRINCIPAL / _SECRET, AWS_REGION and AWS_ENDPOINT_URL_STS are read (process.env). */
  readonly env: NodeJS.ProcessEnv;
  /** Test seam: the instance role's credentials (default: the SDK's default chain). */
  readonly awsCredentials?: CredentialSource;
}

/** How this agent authenticates its registrations, as configured. Throws on a configuration that cannot work. */
export async function agentAuthorization(config: AgentConfig, sources: AuthorizationSources): Promise<Authorization> {
  if (config.authenticatee === 'aws_sts') {
    const region = config.region ?? sources.env.AWS_REGION ?? sources.env.AWS_DEFAULT_REGION;
    if (!region || !REGION_PATTERN.test(region)) {
      throw new Error(`--authenticatee=aws_sts needs the AWS region (--region or AWS_REGION), not '${region ?? ''}'`);
    }
    if (!config.cluster) throw new Error('--authenticatee=aws_sts needs --cluster (the cluster the agent joins)');
    const endpoint = config.stsEndpoint ?? sources.env.AWS_ENDPOINT_URL_STS;
    const signing = {
      cluster: config.cluster,
      region,
      ...(endpoint ? { stsEndpoint: endpoint } : {}),
      credentials: sources.awsCredentials ?? sdkCredentials(region),
    };
    return () => signAgentIdentity(signing);
  }
  const credentials = await loadCredentials(config.credential, sources.env);
  if (!credentials) return () => Promise.resolve(undefined);
  const basic = `Basic ${Buffer.from(`${credentials.principal}:${credentials.secret}`, 'utf8').toString('base64')}`;
  return () => Promise.resolve(basic);
}

/** The SDK's default credential chain (on EC2: the instance role, from the metadata service), kept fresh. */
function sdkCredentials(region: string): CredentialSource {
  const client = new SQSClient({ region });
  return () => client.config.credentials();
}
