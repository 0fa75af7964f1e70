/**
 * How the agent proves who it is at (re-)registration (docs/agent-identity.md). `--authenticatee=basic`
 * (the default): HTTP Basic with an agent principal's credential, if one is configured.
 * `--authenticatee=aws_sts`: a `GetCallerIdentity` request to STS signed afresh (SigV4) with the
 * instance role's credentials — the AWS SDK's default chain, which reads them from the instance
 * metadata service — and bound to the cluster by a signed header; the master sends it to STS and learns
 * the role session, hence the instance, from the answer. The secret key never leaves the agent.
 */
import { createHash, createHmac, type Hash, type Hmac } from 'node:crypto';
import { defaultProvider } from '@aws-sdk/credential-provider-node';
import { SignatureV4 } from '@smithy/signature-v4';
import type { AwsCredentialIdentityProvider, Checksum, SourceData } from '@smithy/types';
import {
  CLUSTER_HEADER,
  encodeIdentityToken,
  GET_CALLER_IDENTITY_BODY,
  GET_CALLER_IDENTITY_CONTENT_TYPE,
  REGION_PATTERN,
  stsEndpoint,
} from '#shared/protocol/agent-identity.js';
import type { AgentConfig } from './config.js';
import { loadCredentials, type Authorization } from './master-client.js';

function bytes(data: SourceData): Buffer {
  if (typeof data === 'string') return Buffer.from(data, 'utf8');
  if (ArrayBuffer.isView(data)) return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  return Buffer.from(data);
}

/** SHA-256 (and HMAC-SHA256 with a secret) for the SigV4 signer, from node:crypto. */
class Sha256 implements Checksum {
  private hash: Hash | Hmac;

  constructor(private readonly secret?: SourceData) {
    this.hash = this.fresh();
  }

  private fresh(): Hash | Hmac {
    return this.secret === undefined ? createHash('sha256') : createHmac('sha256', bytes(this.secret));
  }

  update(data: Uint8Array): void {
    this.hash.update(bytes(data));
  }

  digest(): Promise<Uint8Array> {
    return Promise.resolve(new Uint8Array(this.hash.digest()));
  }

  reset(): void {
    this.hash = this.fresh();
  }
}

export interface IdentitySigning {
  /** The cluster the signature is bound to (the master refuses any other). */
  readonly cluster: string;
  readonly region: string;
  /** STS's endpoint as the master reaches it (default: the region's). */
  readonly stsEndpoint?: string;
  readonly credentials: AwsCredentialIdentityProvider;
  /** The signing date (default: now). */
  readonly signingDate?: Date;
}

/** An `Authorization: Mantle-STS …` header: a freshly signed GetCallerIdentity request. */
export async function signAgentIdentity(signing: IdentitySigning): Promise<string> {
  const url = new URL(`${stsEndpoint(signing.region, signing.stsEndpoint)}/`);
  const signer = new SignatureV4({
    service: 'sts',
    region: signing.region,
    credentials: signing.credentials,
    sha256: Sha256,
    applyChecksum: false,
  });
  const signed = await signer.sign(
    {
      method: 'POST',
      protocol: url.protocol,
      hostname: url.hostname,
      ...(url.port ? { port: Number(url.port) } : {}),
      path: '/',
      query: {},
      headers: { host: url.host, 'content-type': GET_CALLER_IDENTITY_CONTENT_TYPE, [CLUSTER_HEADER]: signing.cluster },
      body: GET_CALLER_IDENTITY_BODY,
    },
    { signingDate: signing.signingDate ?? new Date() },
  );
  const header = (name: string) => signed.headers[name];
  const token = header('x-amz-security-token');
  return encodeIdentityToken({
    cluster: signing.cluster,
    amz_date: header('x-amz-date') ?? '',
    authorization: header('authorization') ?? '',
    ...(token ? { security_token: token } : {}),
  });
}

export interface AuthorizationSources {
  /** Where MANTLE_AGENT_PRINCIPAL / _SECRET, AWS_REGION and AWS_ENDPOINT_URL_STS are read from (the agent: process.env). */
  readonly env: NodeJS.ProcessEnv;
  /** Test seam: the AWS credentials (default: the SDK's default chain). */
  readonly awsCredentials?: AwsCredentialIdentityProvider;
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
      credentials: sources.awsCredentials ?? defaultProvider(),
    };
    return () => signAgentIdentity(signing);
  }
  const credentials = await loadCredentials(config.credential, sources.env);
  if (!credentials) return () => Promise.resolve(undefined);
  const basic = `Basic ${Buffer.from(`${credentials.principal}:${credentials.secret}`, 'utf8').toString('base64')}`;
  return () => Promise.resolve(basic);
}
