/**
 * Authentication of HTTP callers (Mesos `--authenticate_http_frameworks` with the basic authenticator):
 * `Authorization: Basic base64(principal:secret)`, or `Authorization: Bearer <token>` where a token is
 * base64url(principal:secret) as `mantle principal create` prints it. Principals and their hashed
 * secrets live in the registrar. Verified credentials are cached briefly (hashing is deliberately slow).
 */
import { createHash, randomBytes } from 'node:crypto';
import { failure, ok, type Failure, type Result } from '#shared/result.js';
import type { PrincipalKind, PrincipalRecord, Registrar } from '../registrar/index.js';

export interface Credentials {
  readonly principal: string;
  readonly secret: string;
}

export type AuthFailure = Failure<'UNAUTHENTICATED' | 'FORBIDDEN'>;

/** Parses an Authorization header; undefined when absent or malformed. */
export function parseAuthorization(header: string | undefined): Credentials | undefined {
  if (!header) return undefined;
  const [scheme, value] = header.trim().split(/\s+/, 2);
  if (!scheme || !value) return undefined;
  let decoded: string;
  if (scheme.toLowerCase() === 'basic') decoded = Buffer.from(value, 'base64').toString('utf8');
  else if (scheme.toLowerCase() === 'bearer') decoded = Buffer.from(value, 'base64url').toString('utf8');
  else return undefined;
  const colon = decoded.indexOf(':');
  if (colon <= 0) return undefined;
  return { principal: decoded.slice(0, colon), secret: decoded.slice(colon + 1) };
}

/**
 * A new secret: 192 random bits in hex. Not base64url: a secret starting with '-' reads as an option on a
 * command line (`--secret -x...`).
 */
export function newSecret(): string {
  return randomBytes(24).toString('hex');
}

/** The bearer token for a principal's credentials. */
export function bearerToken(credentials: Credentials): string {
  return Buffer.from(`${credentials.principal}:${credentials.secret}`, 'utf8').toString('base64url');
}

const CACHE_MS = 60_000;

export class Authenticator {
  private readonly cache = new Map<string, { record: PrincipalRecord; until: number }>();

  constructor(
    private readonly registrar: Pick<Registrar, 'principals'>,
    private readonly now: () => number = Date.now,
  ) {}

  /** Checks the header and that the principal is of an allowed kind. */
  async authenticate(
    header: string | undefined,
    kinds: readonly PrincipalKind[],
  ): Promise<Result<PrincipalRecord, AuthFailure>> {
    const credentials = parseAuthorization(header);
    if (!credentials) return failure('UNAUTHENTICATED', 'Missing or malformed credentials');
    const key = createHash('sha256').update(`${credentials.principal}\u0000${credentials.secret}`).digest('hex');
    const cached = this.cache.get(key);
    let record: PrincipalRecord;
    if (cached && cached.until > this.now()) {
      record = cached.record;
    } else {
      const result = await this.registrar.principals.authenticate(credentials.principal, credentials.secret);
      if (!result.ok) return failure('UNAUTHENTICATED', result.error.message);
      record = result.value;
      if (this.cache.size > 10_000) this.cache.clear();
      this.cache.set(key, { record, until: this.now() + CACHE_MS });
    }
    if (!kinds.includes(record.kind)) {
      return failure('FORBIDDEN', `A ${record.kind} principal may not call this API`);
    }
    return ok(record);
  }
}
