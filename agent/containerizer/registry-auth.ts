/**
 * Credentials for pulling images from private registries: the agent's `--docker_config` (a Docker
 * config JSON with `auths`, as Mesos's flag of that name, given as a path or inline), and for Amazon
 * ECR (`<account>.dkr.ecr.<region>.amazonaws.com`) a token from `GetAuthorizationToken` with the
 * instance role, cached until shortly before it expires. An entry of the Docker config for a registry
 * wins over the instance role. Neither the token nor a password is ever logged.
 */
import { readFile } from 'node:fs/promises';
import { isAbsolute } from 'node:path';
import { ECRClient, GetAuthorizationTokenCommand, type GetAuthorizationTokenCommandOutput } from '@aws-sdk/client-ecr';
import { LaunchError } from './containerizer.js';

/** What dockerode sends the engine as `X-Registry-Auth`. */
export type RegistryAuth =
  | { readonly username: string; readonly password: string; readonly serveraddress: string }
  | { readonly identitytoken: string; readonly serveraddress: string };

/** Where credentials came from: logged with a pull instead of the credentials. */
export type CredentialSource = 'docker_config' | 'ecr' | 'none';

const DOCKER_HUB = 'docker.io';
const DOCKER_HUB_ALIASES = new Set(['docker.io', 'index.docker.io', 'registry-1.docker.io']);

/** The registry host of an image reference, as Docker reads it (no registry part: Docker Hub). */
export function registryOf(image: string): string {
  const slash = image.indexOf('/');
  if (slash < 0) return DOCKER_HUB;
  const first = image.slice(0, slash);
  const isHost = first.includes('.') || first.includes(':') || first === 'localhost';
  return isHost ? normalRegistry(first) : DOCKER_HUB;
}

/** A Docker config key (`https://index.docker.io/v1/`, `ghcr.io`, `host:5000`) as a registry host. */
export function normalRegistry(key: string): string {
  const host = key
    .trim()
    .replace(/^[a-z]+:\/\//i, '')
    .split('/')[0]
    ?.toLowerCase();
  return host === undefined || DOCKER_HUB_ALIASES.has(host) ? DOCKER_HUB : host;
}

const ECR_HOST = /^(\d{12})\.dkr\.ecr(?:-fips)?\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?$/;

/** The account and region of an ECR registry host, or undefined for any other registry. */
export function ecrRegistry(host: string): { account: string; region: string } | undefined {
  const match = ECR_HOST.exec(host);
  return match ? { account: match[1] as string, region: match[2] as string } : undefined;
}

interface AuthEntry {
  auth?: unknown;
  username?: unknown;
  password?: unknown;
  identitytoken?: unknown;
}

function entryAuth(registry: string, entry: AuthEntry): RegistryAuth {
  if (typeof entry.identitytoken === 'string' && entry.identitytoken !== '') {
    return { identitytoken: entry.identitytoken, serveraddress: registry };
  }
  if (typeof entry.username === 'string' && typeof entry.password === 'string') {
    return { username: entry.username, password: entry.password, serveraddress: registry };
  }
  if (typeof entry.auth === 'string') {
    const decoded = Buffer.from(entry.auth, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon > 0) {
      return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1), serveraddress: registry };
    }
  }
  // The message names the registry only: the entry holds a secret.
  throw new Error(
    `--docker_config: the entry for '${registry}' has no auth (base64 user:password), username and password, or identitytoken`,
  );
}

/** The `auths` of a Docker config, by registry host. */
export function parseDockerConfig(text: string): Map<string, RegistryAuth> {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new Error(`--docker_config is not JSON: ${(error as Error).message}`, { cause: error });
  }
  const auths = (json as { auths?: unknown } | null)?.auths;
  if (typeof auths !== 'object' || auths === null || Array.isArray(auths)) {
    throw new Error('--docker_config has no "auths" object');
  }
  const result = new Map<string, RegistryAuth>();
  for (const [key, entry] of Object.entries(auths as Record<string, AuthEntry>)) {
    const registry = normalRegistry(key);
    result.set(registry, entryAuth(registry, entry ?? {}));
  }
  return result;
}

/** `--docker_config` as Mesos takes it: an absolute path to the file, or the JSON itself. */
export async function loadDockerConfig(value: string): Promise<Map<string, RegistryAuth>> {
  const trimmed = value.trim();
  if (trimmed.startsWith('{')) return parseDockerConfig(trimmed);
  if (!isAbsolute(trimmed)) throw new Error('--docker_config must be an absolute path or a JSON object');
  const text = await readFile(trimmed, 'utf8').catch((error: Error) => {
    throw new Error(`--docker_config: cannot read ${trimmed}: ${error.message}`);
  });
  return parseDockerConfig(text);
}

/** The part of the ECR client this uses (a test injects its own). */
export interface EcrClientLike {
  send(command: GetAuthorizationTokenCommand): Promise<GetAuthorizationTokenCommandOutput>;
}

export interface RegistryCredentialsOptions {
  readonly dockerConfig?: ReadonlyMap<string, RegistryAuth>;
  /** The ECR client of a region (default: the SDK's, with the instance role). */
  readonly ecrClient?: (region: string) => EcrClientLike;
  readonly now?: () => number;
  /** How long before its expiry a cached ECR token is replaced (15 minutes: a long pull must not outlive it). */
  readonly refreshBeforeMs?: number;
}

interface Token {
  readonly auth: RegistryAuth;
  readonly expiresAt: number;
}

/** Chooses the credentials of each pull, and keeps ECR tokens while they are good. */
export class RegistryCredentials {
  private readonly tokens = new Map<string, Token>();
  /** One request per registry at a time: concurrent pulls wait for the same token. */
  private readonly inFlight = new Map<string, Promise<RegistryAuth>>();
  private readonly clients = new Map<string, EcrClientLike>();

  constructor(private readonly options: RegistryCredentialsOptions = {}) {}

  /** The credentials to pull `image` with, and where they came from. */
  async forImage(image: string): Promise<{ auth?: RegistryAuth; source: CredentialSource }> {
    const registry = registryOf(image);
    const configured = this.options.dockerConfig?.get(registry);
    if (configured) return { auth: configured, source: 'docker_config' };
    const ecr = ecrRegistry(registry);
    if (!ecr) return { source: 'none' };
    return { auth: await this.ecrAuth(registry, ecr.account, ecr.region), source: 'ecr' };
  }

  private ecrAuth(registry: string, account: string, region: string): Promise<RegistryAuth> {
    const now = (this.options.now ?? Date.now)();
    const token = this.tokens.get(registry);
    if (token && token.expiresAt - (this.options.refreshBeforeMs ?? 15 * 60_000) > now) {
      return Promise.resolve(token.auth);
    }
    let pending = this.inFlight.get(registry);
    if (!pending) {
      // A failure is not kept: the next pull asks again.
      pending = this.fetchToken(registry, account, region)
        .then((fresh) => {
          this.tokens.set(registry, fresh);
          return fresh.auth;
        })
        .finally(() => this.inFlight.delete(registry));
      this.inFlight.set(registry, pending);
    }
    return pending;
  }

  private client(region: string): EcrClientLike {
    let client = this.clients.get(region);
    if (!client) {
      client = this.options.ecrClient?.(region) ?? new ECRClient({ region });
      this.clients.set(region, client);
    }
    return client;
  }

  private async fetchToken(registry: string, account: string, region: string): Promise<Token> {
    let output: GetAuthorizationTokenCommandOutput;
    try {
      output = await this.client(region).send(new GetAuthorizationTokenCommand({ registryIds: [account] }));
    } catch (error) {
      throw new LaunchError(`Failed to get ECR credentials for ${registry}: ${(error as Error).message}`);
    }
    const data = output.authorizationData?.[0];
    const decoded = Buffer.from(data?.authorizationToken ?? '', 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (!data?.expiresAt || colon <= 0) {
      throw new LaunchError(`Failed to get ECR credentials for ${registry}: the answer holds no token`);
    }
    return {
      auth: { username: decoded.slice(0, colon), password: decoded.slice(colon + 1), serveraddress: registry },
      expiresAt: data.expiresAt.getTime(),
    };
  }
}
