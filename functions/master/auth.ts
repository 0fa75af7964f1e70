/**
 * Authentication of HTTP callers (Mesos `--authenticate_http_frameworks` with the basic authenticator):
 * `Authorization: Basic base64(principal:secret)`, or `Authorization: Bearer <token>` where a token is
 * base64url(principal:secret) as `mantle principal create` prints it. Principals and their hashed
 * secrets live in the registrar.
 *
 * Every request re-reads the principal's item (one consistent GetItem), so a deleted principal is
 * refused at its next request, a rotated secret stops working at once, and a change of roles or ACL
 * applies at once. What is cached is only the slow part: which secret was verified against which hash
 * (scrypt takes tens of milliseconds by design); a new hash (a rotation) is verified again.
 */
import { createHash, randomBytes } from 'node:crypto';
import { failure, ok, type Failure, type Result } from '#shared/result.js';
import { verifyOrDecoy } from '../registrar/principals.js';
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

/** How many verified credentials a container remembers (a small map; cleared when full). */
const MAX_VERIFIED = 10_000;

export class Authenticator {
  /** sha256(principal, secret) → the secret hash it was verified against. */
  private readonly verified = new Map<string, string>();

  constructor(private readonly registrar: Pick<Registrar, 'principals'>) {}

  /** Checks the header and that the principal is of an allowed kind. */
  async authenticate(
    header: string | undefined,
    kinds: readonly PrincipalKind[],
  ): Promise<Result<PrincipalRecord, AuthFailure>> {
    const credentials = parseAuthorization(header);
    if (!credentials) return failure('UNAUTHENTICATED', 'Missing or malformed credentials');
    const key = createHash('sha256').update(`${credentials.principal}\u0000${credentials.secret}`).digest('hex');
    const found = await this.registrar.principals.credential(credentials.principal);
    if (!found || this.verified.get(key) !== found.secretHash) {
      if (!(await verifyOrDecoy(credentials.secret, found?.secretHash)) || !found) {
        this.verified.delete(key);
        return failure('UNAUTHENTICATED', 'Authentication failed');
      }
      if (this.verified.size >= MAX_VERIFIED) this.verified.clear();
      this.verified.set(key, found.secretHash);
    }
    const record = found.record;
    if (!kinds.includes(record.kind)) {
      return failure('FORBIDDEN', `A ${record.kind} principal may not call this API`);
    }
    return ok(record);
  }
}
