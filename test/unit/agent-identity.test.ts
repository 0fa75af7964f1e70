/**
 * The pure parts of agent identity: SigV4 against AWS's documented example, the master's checks of a
 * token before STS sees it, what it takes from STS's answer, how an agent's instance and role session
 * are bound, and how both sides are configured.
 */
import { describe, expect, it } from 'vitest';
import { agentAuthorization, signAgentIdentity } from '../../agent/identity.js';
import { parseAgentFlags, type AgentConfig } from '../../agent/config.js';
import { signRequest } from '#shared/aws/sigv4.js';
import { decodeIdentityToken, signedHeaderNames, type AgentIdentityToken } from '#shared/protocol/agent-identity.js';
import {
  checkToken,
  identityOf,
  parseCallerIdentity,
  stsRequest,
  type StsIdentityConfig,
} from '../../functions/master/agent-identity.js';
import { agentIdentityFromEnvironment } from '../../functions/master/config.js';
import { boundAttributes, expectedSender, sentBy } from '../../functions/fleet/instance-id.js';

const CONFIG: StsIdentityConfig = {
  mode: 'aws-sts',
  region: 'eu-west-1',
  roleName: 'agents',
  account: '123456789012',
  maxAgeSeconds: 300,
  timeoutMs: 3000,
};
const CREDENTIALS = { accessKeyId: 'ASIAEXAMPLEKEY12345', secretAccessKey: 'secret', sessionToken: 'token' };
const NOW = Date.UTC(2026, 0, 2, 3, 4, 5);

function parseAgentConfig(argv: readonly string[]): AgentConfig {
  const parsed = parseAgentFlags(argv);
  if (parsed.help) throw new Error('help');
  return parsed.config;
}

async function token(options: { cluster?: string; region?: string; at?: number } = {}): Promise<AgentIdentityToken> {
  const header = await signAgentIdentity({
    cluster: options.cluster ?? 'prod',
    region: options.region ?? 'eu-west-1',
    credentials: () => Promise.resolve(CREDENTIALS),
    signingDate: new Date(options.at ?? NOW),
  });
  return decodeIdentityToken(header).token as AgentIdentityToken;
}

describe('SigV4', () => {
  it("signs AWS's documented example (IAM ListUsers) to its documented signature", () => {
    const headers = signRequest({
      method: 'GET',
      url: 'https://iam.amazonaws.com/?Action=ListUsers&Version=2010-05-08',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded; charset=utf-8' },
      body: '',
      region: 'us-east-1',
      service: 'iam',
      credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' },
      date: new Date('2015-08-30T12:36:00Z'),
    });
    expect(headers.authorization).toBe(
      'AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request, ' +
        'SignedHeaders=content-type;host;x-amz-date, ' +
        'Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7',
    );
  });
});

describe("the master's checks before it asks STS", () => {
  it('takes a fresh token of this cluster and region that signs exactly the expected headers', async () => {
    const signed = await token();
    expect(signed.authorization).toContain(`SignedHeaders=${signedHeaderNames(true)},`);
    expect(checkToken(signed, CONFIG, 'prod', NOW + 1000)).toEqual({ ok: true, value: undefined });
    const request = stsRequest(signed, CONFIG, 'prod');
    expect(request.url).toBe('https://sts.eu-west-1.amazonaws.com/');
    expect(request.headers['x-mantle-cluster']).toBe('prod');
    expect(request.body).toBe('Action=GetCallerIdentity&Version=2011-06-15');
  });

  it.each([
    ['another cluster', { cluster: 'staging' }, NOW, /signed for cluster 'staging'/],
    ['another region', { region: 'us-east-1' }, NOW, /region 'us-east-1'/],
    ['a stale signature', {}, NOW + 301_000, /expired: signed 301 s ago/],
    ['a signature from the future', { at: NOW + 120_000 }, NOW, /in the future/],
  ])('refuses %s', async (_name, options, now, message) => {
    const checked = checkToken(await token(options), CONFIG, 'prod', now);
    expect(checked.ok).toBe(false);
    if (!checked.ok)
      expect(checked.error).toMatchObject({ code: 'UNAUTHENTICATED', message: expect.stringMatching(message) });
  });

  it('refuses a signature that leaves out the cluster header or signs more', async () => {
    const signed = await token();
    for (const headers of ['content-type;host;x-amz-date;x-amz-security-token', `${signedHeaderNames(true)};x-extra`]) {
      const altered = {
        ...signed,
        authorization: signed.authorization.replace(/SignedHeaders=[^,]+/, `SignedHeaders=${headers}`),
      };
      expect(checkToken(altered, CONFIG, 'prod', NOW).ok).toBe(false);
    }
  });
});

describe("what the master takes from STS's answer", () => {
  const answer = (arn: string, userId: string, account = '123456789012') =>
    `<GetCallerIdentityResponse><GetCallerIdentityResult><Arn>${arn}</Arn><UserId>${userId}</UserId>` +
    `<Account>${account}</Account></GetCallerIdentityResult></GetCallerIdentityResponse>`;
  const session = 'arn:aws:sts::123456789012:assumed-role/agents/i-0123456789abcdef0';

  it('derives the instance and role session of an agents-role session named after an instance', () => {
    const caller = parseCallerIdentity(answer(session, 'AROAROLEID:i-0123456789abcdef0'));
    expect(identityOf(caller as NonNullable<typeof caller>, CONFIG, 'AROAROLEID')).toEqual({
      ok: true,
      value: {
        arn: session,
        account: '123456789012',
        roleId: 'AROAROLEID',
        instanceId: 'i-0123456789abcdef0',
        session: 'AROAROLEID:i-0123456789abcdef0',
      },
    });
  });

  it.each([
    [
      'another role',
      'arn:aws:sts::123456789012:assumed-role/admin/i-0123456789abcdef0',
      'AROAROLEID:i-0123456789abcdef0',
    ],
    [
      'another account',
      'arn:aws:sts::210987654321:assumed-role/agents/i-0123456789abcdef0',
      'AROAROLEID:i-0123456789abcdef0',
    ],
    ['a session not named after an instance', 'arn:aws:sts::123456789012:assumed-role/agents/bob', 'AROAROLEID:bob'],
    ['a UserId of another session', session, 'AROAROLEID:i-0fffffffffffffff0'],
    ['a re-created role (another role id)', session, 'AROANEWROLEID:i-0123456789abcdef0'],
    ['an IAM user', 'arn:aws:iam::123456789012:user/agents', 'AIDAUSERID'],
  ])('refuses %s (403)', (_name, arn, userId) => {
    const account = arn.split(':')[4] as string;
    const caller = parseCallerIdentity(answer(arn, userId, account));
    const result = identityOf(caller as NonNullable<typeof caller>, CONFIG, 'AROAROLEID');
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.error.code).toBe('FORBIDDEN');
  });

  it('reads nothing from an answer that is not one GetCallerIdentityResult', () => {
    expect(parseCallerIdentity('<ErrorResponse><Error><Code>x</Code></Error></ErrorResponse>')).toBeUndefined();
    const twice = answer(session, 'AROAROLEID:i-0123456789abcdef0').replace('</Arn>', '</Arn><Arn>other</Arn>');
    expect(parseCallerIdentity(twice)).toBeUndefined();
  });
});

describe('binding an agent to its instance', () => {
  const instance = (value: string) => ({ name: 'instance_id', type: 'TEXT' as const, text: { value } });

  it('sets the derived instance id, and refuses a reported one that differs', () => {
    expect(boundAttributes([], 'i-1')).toEqual({ ok: true, value: [instance('i-1')] });
    expect(boundAttributes([instance('i-1')], 'i-1')).toEqual({ ok: true, value: [instance('i-1')] });
    expect(boundAttributes([instance('i-2')], 'i-1').ok).toBe(false);
  });

  it('expects the whole role session as sender, nothing less', () => {
    const bound = { attributes: [instance('i-1')], instanceSession: 'AROAX:i-1' };
    expect(sentBy(expectedSender(bound, 'AROAX'), 'AROAX:i-1')).toBe(true);
    for (const sender of ['AROAY:i-1', 'AROAX:i-12', 'AROAX:i-', 'xAROAX:i-1', undefined]) {
      expect(sentBy(expectedSender(bound, 'AROAX'), sender)).toBe(false);
    }
    // Registered before sessions were recorded: the role's session on the reported instance.
    expect(expectedSender({ attributes: [instance('i-1')] }, 'AROAX')).toBe('AROAX:i-1');
    // Off EC2 (or outside AWS) no sender is expected.
    expect(sentBy(expectedSender({ attributes: [] }, 'AROAX'), undefined)).toBe(true);
    expect(sentBy(expectedSender({ attributes: [instance('i-1')] }, undefined), 'local')).toBe(true);
  });
});

describe('configuration', () => {
  it("reads the master's mode from the environment, and fails closed without it", () => {
    expect(agentIdentityFromEnvironment({ MANTLE_AGENT_IDENTITY: 'principal' })).toEqual({ mode: 'principal' });
    expect(() => agentIdentityFromEnvironment({})).toThrow(/MANTLE_AGENT_IDENTITY must be principal or aws-sts/);
    const env = {
      MANTLE_AGENT_IDENTITY: 'aws-sts',
      AWS_REGION: 'eu-west-1',
      AWS_ENDPOINT_URL_STS: 'http://127.0.0.1:4566',
      MANTLE_AGENT_ROLE_NAME: 'agents',
      MANTLE_AGENT_ACCOUNT: '123456789012',
    };
    expect(agentIdentityFromEnvironment(env)).toMatchObject({ ...CONFIG, stsEndpoint: 'http://127.0.0.1:4566' });
    expect(() => agentIdentityFromEnvironment({ ...env, MANTLE_AGENT_ROLE_NAME: '' })).toThrow();
  });

  it("checks the agent's flags, and what aws_sts needs before it starts", async () => {
    expect(() => parseAgentConfig(['--master=http://m:5050', '--authenticatee=kerberos'])).toThrow(/basic or aws_sts/);
    const config = parseAgentConfig(['--master=http://m:5050', '--authenticatee=aws_sts']);
    await expect(agentAuthorization(config, { env: { AWS_REGION: 'eu-west-1' } })).rejects.toThrow(/needs --cluster/);
    await expect(agentAuthorization({ ...config, cluster: 'prod' }, { env: {} })).rejects.toThrow(
      /needs the AWS region/,
    );
    const basic = parseAgentConfig(['--master=http://m:5050']);
    const none = await agentAuthorization(basic, { env: {} });
    expect(await none()).toBeUndefined();
    const withSecret = await agentAuthorization(basic, {
      env: { MANTLE_AGENT_PRINCIPAL: 'a', MANTLE_AGENT_SECRET: 'b' },
    });
    expect(await withSecret()).toBe(`Basic ${Buffer.from('a:b').toString('base64')}`);
  });
});
