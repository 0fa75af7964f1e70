/**
 * Registry credentials of image pulls (agent/containerizer/registry-auth.ts): the registry of an image
 * reference, the Docker config's `auths`, and ECR tokens from an injected client (the AWS-only part):
 * which credentials a pull gets, and that a token is kept until shortly before it expires, asked for
 * once by concurrent pulls, and not kept when the request fails.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { GetAuthorizationTokenCommand, GetAuthorizationTokenCommandOutput } from '@aws-sdk/client-ecr';
import { describe, expect, it } from 'vitest';
import {
  ecrRegistry,
  loadDockerConfig,
  parseDockerConfig,
  registryOf,
  RegistryCredentials,
  type EcrClientLike,
} from '../../agent/containerizer/registry-auth.js';

const ECR = '123456789012.dkr.ecr.eu-west-1.amazonaws.com';
const b64 = (text: string) => Buffer.from(text).toString('base64');

describe('the registry of an image', () => {
  it.each([
    ['busybox', 'docker.io'],
    ['library/busybox:1.36', 'docker.io'],
    ['pytorch/pytorch:2.3.0-cuda12.1-cudnn8-runtime', 'docker.io'],
    ['nvcr.io/nvidia/pytorch:24.05-py3', 'nvcr.io'],
    ['localhost/app', 'localhost'],
    ['127.0.0.1:5000/app:1', '127.0.0.1:5000'],
    [`${ECR}/team/train:v1`, ECR],
    [`${ECR}/team/train@sha256:${'a'.repeat(64)}`, ECR],
  ])('%s is pulled from %s', (image, registry) => {
    expect(registryOf(image)).toBe(registry);
  });

  it('tells ECR registries (account, region) from others', () => {
    expect(ecrRegistry(ECR)).toEqual({ account: '123456789012', region: 'eu-west-1' });
    expect(ecrRegistry('123456789012.dkr.ecr-fips.us-gov-west-1.amazonaws.com')).toEqual({
      account: '123456789012',
      region: 'us-gov-west-1',
    });
    expect(ecrRegistry('123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn')?.region).toBe('cn-north-1');
    expect(ecrRegistry('public.ecr.aws')).toBeUndefined();
    expect(ecrRegistry('123456789012.dkr.ecr.eu-west-1.amazonaws.com.evil.example')).toBeUndefined();
  });
});

describe('the Docker config', () => {
  it('reads auths as auth, username/password or identitytoken; Docker Hub by any of its names', () => {
    const config = parseDockerConfig(
      JSON.stringify({
        auths: {
          'https://index.docker.io/v1/': { auth: b64('hub-user:hub:pass') },
          'ghcr.io': { username: 'gh', password: 'token' },
          'https://registry.example.com:5000/v2/': { identitytoken: 'refresh' },
        },
        credsStore: 'desktop',
      }),
    );
    expect(Object.fromEntries(config)).toEqual({
      'docker.io': { username: 'hub-user', password: 'hub:pass', serveraddress: 'docker.io' },
      'ghcr.io': { username: 'gh', password: 'token', serveraddress: 'ghcr.io' },
      'registry.example.com:5000': { identitytoken: 'refresh', serveraddress: 'registry.example.com:5000' },
    });
  });

  it('refuses what it cannot use, naming the registry but never the secret', () => {
    expect(() => parseDockerConfig('not json')).toThrow(/--docker_config is not JSON/);
    expect(() => parseDockerConfig('{"credHelpers":{}}')).toThrow(/no "auths" object/);
    let message = '';
    try {
      parseDockerConfig(JSON.stringify({ auths: { 'ghcr.io': { auth: b64('no-colon-secret') } } }));
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toMatch(/entry for 'ghcr.io' has no auth/);
    expect(message).not.toContain('no-colon-secret');
  });

  it('takes an absolute path or the JSON itself, as Mesos does', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mantle-docker-config-'));
    try {
      const file = join(dir, 'config.json');
      await writeFile(file, JSON.stringify({ auths: { 'ghcr.io': { auth: b64('a:b') } } }));
      expect((await loadDockerConfig(file)).get('ghcr.io')).toMatchObject({ username: 'a', password: 'b' });
      expect((await loadDockerConfig('{"auths":{}}')).size).toBe(0);
      await expect(loadDockerConfig('config.json')).rejects.toThrow(/absolute path or a JSON object/);
      await expect(loadDockerConfig(join(dir, 'missing.json'))).rejects.toThrow(/cannot read/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

/** An ECR client that answers with a token valid for `validMs`, counting requests; `fail` makes it throw. */
function fakeEcr(clock: { now: number }, validMs = 12 * 3600_000) {
  const calls: Array<{ region: string; registryIds: string[] | undefined }> = [];
  let fail: Error | undefined;
  const client = (region: string): EcrClientLike => ({
    async send(command: GetAuthorizationTokenCommand): Promise<GetAuthorizationTokenCommandOutput> {
      calls.push({ region, registryIds: command.input.registryIds });
      await new Promise((resolve) => setTimeout(resolve, 5));
      if (fail) throw fail;
      return {
        $metadata: {},
        authorizationData: [
          {
            authorizationToken: b64(`AWS:token-${calls.length}`),
            expiresAt: new Date(clock.now + validMs),
            proxyEndpoint: `https://${ECR}`,
          },
        ],
      };
    },
  });
  return { client, calls, failWith: (error: Error | undefined) => (fail = error) };
}

describe('credentials of a pull', () => {
  it('uses the Docker config entry of the registry, else ECR for ECR registries, else none', async () => {
    const clock = { now: 0 };
    const ecr = fakeEcr(clock);
    const credentials = new RegistryCredentials({
      dockerConfig: parseDockerConfig(JSON.stringify({ auths: { 'ghcr.io': { auth: b64('gh:pw') } } })),
      ecrClient: ecr.client,
      now: () => clock.now,
    });
    expect(await credentials.forImage('ghcr.io/org/train:1')).toEqual({
      auth: { username: 'gh', password: 'pw', serveraddress: 'ghcr.io' },
      source: 'docker_config',
    });
    expect(await credentials.forImage('busybox')).toEqual({ source: 'none' });
    expect(await credentials.forImage(`${ECR}/team/train:v1`)).toEqual({
      auth: { username: 'AWS', password: 'token-1', serveraddress: ECR },
      source: 'ecr',
    });
    expect(ecr.calls).toEqual([{ region: 'eu-west-1', registryIds: ['123456789012'] }]);
  });

  it('prefers a Docker config entry for an ECR registry over the instance role', async () => {
    const ecr = fakeEcr({ now: 0 });
    const credentials = new RegistryCredentials({
      dockerConfig: parseDockerConfig(JSON.stringify({ auths: { [ECR]: { username: 'AWS', password: 'fixed' } } })),
      ecrClient: ecr.client,
    });
    expect((await credentials.forImage(`${ECR}/x`)).source).toBe('docker_config');
    expect(ecr.calls).toEqual([]);
  });

  it('keeps an ECR token until 15 minutes before it expires, and asks once for concurrent pulls', async () => {
    const clock = { now: 1_000_000 };
    const ecr = fakeEcr(clock, 60 * 60_000);
    const credentials = new RegistryCredentials({ ecrClient: ecr.client, now: () => clock.now });
    const first = await Promise.all([1, 2, 3].map(() => credentials.forImage(`${ECR}/a:${1}`)));
    expect(first.map((pull) => pull.auth)).toEqual(Array(3).fill(first[0]?.auth));
    expect(ecr.calls).toHaveLength(1);
    clock.now += 44 * 60_000;
    expect((await credentials.forImage(`${ECR}/b`)).auth).toMatchObject({ password: 'token-1' });
    clock.now += 2 * 60_000;
    expect((await credentials.forImage(`${ECR}/b`)).auth).toMatchObject({ password: 'token-2' });
    expect(ecr.calls).toHaveLength(2);
  });

  it('keeps no failure: the pull fails with a launch error, and the next one asks again', async () => {
    const clock = { now: 0 };
    const ecr = fakeEcr(clock);
    const credentials = new RegistryCredentials({ ecrClient: ecr.client, now: () => clock.now });
    ecr.failWith(new Error('Could not load credentials from any providers'));
    await expect(credentials.forImage(`${ECR}/a`)).rejects.toMatchObject({
      name: 'LaunchError',
      state: 'TASK_FAILED',
      message: `Failed to get ECR credentials for ${ECR}: Could not load credentials from any providers`,
    });
    ecr.failWith(undefined);
    expect((await credentials.forImage(`${ECR}/a`)).source).toBe('ecr');
    expect(ecr.calls).toHaveLength(2);
  });

  it('refuses an answer without a token', async () => {
    const credentials = new RegistryCredentials({
      ecrClient: () => ({ send: async () => ({ $metadata: {}, authorizationData: [] }) }),
    });
    await expect(credentials.forImage(`${ECR}/a`)).rejects.toThrow(/the answer holds no token/);
  });
});
