/**
 * Agents bound to their EC2 instance by their AWS identity (`agentIdentity: aws-sts`): the agent signs
 * a GetCallerIdentity request with its instance role (agent/identity.ts), the master has STS (here the
 * stand-in, test/support/sts.ts, which checks SigV4 by the book) execute it, requires the agents' role,
 * derives the instance from the role session and tags the command queue for it. Forged, replayed,
 * foreign or stale identities are refused, and one instance cannot take over another's agent. The
 * authorizer of the REST API decides the same way.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { RunningAgent } from '../../agent/agent.js';
import { removeWorkDir, startTestAgent, tempWorkDir } from '../support/agent.js';
import { agentAuthorization, signAgentIdentity } from '../../agent/identity.js';
import { agentConfig } from '../../agent/config.js';
import { authorize, UNAUTHORIZED } from '../../functions/master/authorizer.js';
import { Authenticator } from '../../functions/master/auth.js';
import { INSTANCE_ID_ATTRIBUTE } from '../../functions/fleet/instance-id.js';
import { decodeIdentityToken, encodeIdentityToken } from '#shared/protocol/agent-identity.js';
import { startTestMaster, type TestMaster } from '../support/master.js';
import { instanceCaller, startStsStandIn, TEST_ACCOUNT, type StsCaller, type StsStandIn } from '../support/sts.js';
import { instanceId, postRegistration, registrationOn } from './infra-agents.js';

const ROLE = 'mantle-test-agents';
const ROLE_ID = 'AROATESTAGENTSROLE';
const METHOD_ARN = `arn:aws:execute-api:us-east-1:${TEST_ACCOUNT}:abcdef1234/v1/POST/internal/v1/agents/register`;

let sts: StsStandIn;
let tm: TestMaster;
const tagged = new Map<string, string>();

beforeAll(async () => {
  sts = await startStsStandIn();
  const fleet = {
    tagAgentQueue: (url: string, session: string) => {
      tagged.set(url, session);
      return Promise.resolve();
    },
  };
  tm = await startTestMaster(
    {
      authenticate: true,
      agentRoleId: ROLE_ID,
      agentIdentity: {
        mode: 'aws-sts',
        region: 'us-east-1',
        stsEndpoint: sts.url,
        roleName: ROLE,
        account: TEST_ACCOUNT,
        timeoutMs: 500,
      },
    },
    { fleet },
  );
});
afterAll(async () => {
  await tm.close();
  await sts.close();
});

/** An EC2 instance of the agents' role, known to STS. */
function instance(): { id: string; caller: StsCaller } {
  const id = instanceId();
  return { id, caller: sts.add(instanceCaller(ROLE, ROLE_ID, id)) };
}

function identity(caller: StsCaller, options: { cluster?: string; signingDate?: Date } = {}): Promise<string> {
  return signAgentIdentity({
    cluster: options.cluster ?? tm.cluster,
    region: 'us-east-1',
    stsEndpoint: sts.url,
    credentials: () => Promise.resolve(caller),
    ...(options.signingDate ? { signingDate: options.signingDate } : {}),
  });
}

async function register(authorization: string | undefined, body = registrationOn(undefined)) {
  const response = await postRegistration(tm, body, authorization ? { Authorization: authorization } : {});
  const text = await response.text();
  return { status: response.status, text, headers: response.headers };
}

/** A shared agent principal, as agents authenticate in `principal` mode; its Basic header. */
async function agentPrincipal(principal: string): Promise<string> {
  const secret = randomBytes(24).toString('hex');
  const created = await tm.master.registrar.principals.create({ principal, secret, kind: 'agent', roles: ['*'] });
  if (!created.ok) throw new Error(created.error.message);
  return `Basic ${Buffer.from(`${principal}:${secret}`).toString('base64')}`;
}

function agentIdOf(text: string): string {
  return (JSON.parse(text) as { agent_id: { value: string } }).agent_id.value;
}

describe('an agent that proves its instance role session', () => {
  it('is registered on the instance the master derives, its command queue tagged for that session', async () => {
    const { id, caller } = instance();
    // The agent's own code path: --authenticatee=aws_sts with the instance's credentials.
    const config = agentConfig({
      master: tm.url,
      workDir: '/nonexistent',
      authenticatee: 'aws_sts',
      cluster: tm.cluster,
      region: 'us-east-1',
      stsEndpoint: sts.url,
    });
    const authorization = await agentAuthorization(config, { env: {}, awsCredentials: () => Promise.resolve(caller) });
    const calls = sts.calls.length;
    const registered = await register(await authorization());
    expect(registered.status, registered.text).toBe(200);
    const agent = await tm.master.registrar.agents.get(agentIdOf(registered.text));
    expect(agent?.attributes).toContainEqual({ name: INSTANCE_ID_ATTRIBUTE, type: 'TEXT', text: { value: id } });
    expect(agent?.instanceSession).toBe(`${ROLE_ID}:${id}`);
    expect(agent?.principal).toBe(`arn:aws:sts::${TEST_ACCOUNT}:assumed-role/${ROLE}/${id}`);
    expect(tagged.get(agent?.commandQueueUrl ?? '')).toBe(`${ROLE_ID}:${id}`);
    // STS got the request from the master, with the cluster header the agent signed.
    const call = sts.calls[calls];
    expect(call?.status).toBe(200);
    expect(call?.headers['x-mantle-cluster']).toBe(tm.cluster);
    expect(String(call?.headers.authorization)).toContain('x-mantle-cluster');
  });

  it('may report its instance id only if it is the derived one', async () => {
    const { id, caller } = instance();
    expect((await register(await identity(caller), registrationOn(id))).status).toBe(200);
    const lying = await register(await identity(caller), registrationOn(instanceId()));
    expect(lying.status).toBe(403);
    expect(lying.text).toMatch(new RegExp(`its AWS identity is instance ${id}`));
  });

  it('cannot be taken over from another instance (a hijack is refused, the agent keeps its binding)', async () => {
    const victim = instance();
    const attacker = instance();
    const registered = await register(await identity(victim.caller));
    const agentId = agentIdOf(registered.text);
    const before = await tm.master.registrar.agents.get(agentId);

    for (const body of [registrationOn(undefined, { agentId }), registrationOn(victim.id, { agentId })]) {
      const hijack = await register(await identity(attacker.caller), body);
      expect(hijack.status).toBe(403);
    }
    const after = await tm.master.registrar.agents.get(agentId);
    expect(after?.instanceSession).toBe(`${ROLE_ID}:${victim.id}`);
    expect(after?.reregisteredAt).toEqual(before?.reregisteredAt);
    expect(after?.hostname).toBe(before?.hostname);
    expect(tagged.get(after?.commandQueueUrl ?? '')).toBe(`${ROLE_ID}:${victim.id}`);

    const back = await register(await identity(victim.caller), registrationOn(undefined, { agentId }));
    expect(back.status, back.text).toBe(200);
  });
});

describe('a running agent with --authenticatee=aws_sts', () => {
  it('registers on its instance, and one that cannot sign for the agents role is refused and stops', async () => {
    const started: RunningAgent[] = [];
    const dirs: string[] = [];
    const agentWith = async (caller: StsCaller) => {
      const workDir = await tempWorkDir();
      dirs.push(workDir);
      const agent = await startTestAgent(tm, {
        workDir,
        sqsEndpoint: inject('sqsEndpoint'),
        containerizers: ['mesos'],
        authenticatee: 'aws_sts',
        cluster: tm.cluster,
        region: 'us-east-1',
        stsEndpoint: sts.url,
        options: { awsCredentials: () => Promise.resolve(caller) },
      });
      started.push(agent);
      return agent;
    };
    try {
      const { id, caller } = instance();
      const agentId = await (await agentWith(caller)).registered;
      expect((await tm.master.registrar.agents.get(agentId))?.instanceSession).toBe(`${ROLE_ID}:${id}`);
      const stranger = await agentWith(sts.add(instanceCaller('another-role', 'AROAANOTHERROLE', instanceId())));
      await expect(stranger.registered).rejects.toThrow(/\(403\)/);
    } finally {
      for (const agent of started) await agent.stop({ waitForPoll: false }).catch(() => undefined);
      for (const dir of dirs) await removeWorkDir(dir);
    }
  });
});

describe('identities the master refuses', () => {
  it('answers 401 to no identity, a shared agent principal, a forged signature or a stale one', async () => {
    const { caller } = instance();
    const principal = `agent-${Date.now()}`;
    const basic = await agentPrincipal(principal);
    const forged = await identity({ ...caller, secretAccessKey: 'not-the-secret' });
    const stale = await identity(caller, { signingDate: new Date(Date.now() - 10 * 60_000) });
    for (const authorization of [undefined, basic, forged, stale, 'Mantle-STS not-base64-json']) {
      const refused = await register(authorization);
      expect(refused.status, `${String(authorization).slice(0, 20)}: ${refused.text}`).toBe(401);
      expect(refused.headers.get('www-authenticate')).toMatch(/^Mantle-STS/);
    }
  });

  it('answers 401 to an identity signed for another cluster, however the token is dressed', async () => {
    const { caller } = instance();
    const calls = sts.calls.length;
    expect((await register(await identity(caller, { cluster: 'another' }))).status).toBe(401);
    expect(sts.calls.length).toBe(calls); // refused before STS is asked
    // Relabelled as ours, the signature no longer matches the header the master sends: STS refuses.
    const { token } = decodeIdentityToken(await identity(caller, { cluster: 'another' }));
    const relabelled = encodeIdentityToken({ ...(token as NonNullable<typeof token>), cluster: tm.cluster });
    const refused = await register(relabelled);
    expect(refused.status).toBe(401);
    expect(refused.text).toMatch(/SignatureDoesNotMatch/);
  });

  it('answers 403 to sessions of other roles or not named after an instance, and to users', async () => {
    const others: StsCaller[] = [
      instanceCaller('some-admin-role', 'AROAOTHERROLE', instanceId()),
      { ...instanceCaller(ROLE, ROLE_ID, 'alice'), arn: `arn:aws:sts::${TEST_ACCOUNT}:assumed-role/${ROLE}/alice` },
      { ...instanceCaller(ROLE, 'AROAREPLACEDROLE', 'i-0123456789abcdef0') }, // the role was re-created
      { ...instanceCaller(ROLE, ROLE_ID, instanceId()), arn: `arn:aws:iam::${TEST_ACCOUNT}:user/${ROLE}` },
    ];
    for (const other of others) {
      const refused = await register(await identity(sts.add(other)));
      expect(refused.status, refused.text).toBe(403);
      expect(refused.text).toMatch(/may not register as an agent/);
    }
  });

  it('answers 503 (retry later) when STS fails or does not answer in time', async () => {
    const { caller } = instance();
    try {
      for (const mode of [503, 'hang'] as const) {
        sts.fail(mode);
        const unavailable = await register(await identity(caller));
        expect(unavailable.status).toBe(503);
        expect(unavailable.headers.get('retry-after')).toBe('5');
      }
    } finally {
      sts.fail('none');
    }
    expect((await register(await identity(caller))).status).toBe(200);
  });
});

describe("the REST API's authorizer in aws-sts mode", () => {
  it('lets proven agents through as their role session, and refuses agent principals and forgeries', async () => {
    const authenticator = new Authenticator(tm.master.registrar);
    const verifier = tm.master.agentIdentity;
    const { id, caller } = instance();
    const allowed = await authorize(
      authenticator,
      { authorizationToken: await identity(caller), methodArn: METHOD_ARN },
      undefined,
      verifier,
    );
    expect(allowed.context).toEqual({
      principal: `arn:aws:sts::${TEST_ACCOUNT}:assumed-role/${ROLE}/${id}`,
      kind: 'agent',
    });

    const principal = `agent-${Date.now()}-b`;
    const basic = await agentPrincipal(principal);
    const forged = await identity({ ...caller, secretAccessKey: 'nope' });
    for (const authorizationToken of [basic, forged]) {
      await expect(
        authorize(authenticator, { authorizationToken, methodArn: METHOD_ARN }, undefined, verifier),
      ).rejects.toThrow(UNAUTHORIZED);
    }
    // Without a verifier (principal mode) an identity token is no credential at all.
    await expect(
      authorize(authenticator, { authorizationToken: await identity(caller), methodArn: METHOD_ARN }),
    ).rejects.toThrow(UNAUTHORIZED);
  });
});
