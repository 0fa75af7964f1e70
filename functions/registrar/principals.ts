/**
 * Principals: who may call the master (frameworks, operators, agents), with a hashed secret and the
 * roles each may use. Secrets are never stored or returned in clear; hashes are scrypt with a salt.
 */
import { randomBytes, scrypt as scryptCallback, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import { ok, type Result } from '#shared/result.js';
import { validateRole } from '#shared/roles.js';
import type { RegistrarContext } from './context.js';
import type { Item } from './expression.js';
import { failure, type RegistrarError } from './errors.js';

export type PrincipalKind = 'framework' | 'operator' | 'agent';

export interface PrincipalRecord {
  readonly principal: string;
  readonly kind: PrincipalKind;
  /** Roles the principal may subscribe with; "*" in the list means any role. */
  readonly roles: string[];
  readonly createdAt: number;
}

const KINDS = new Set<PrincipalKind>(['framework', 'operator', 'agent']);
const SCRYPT: ScryptOptions = { N: 16384, r: 8, p: 1 };
const KEY_LENGTH = 32;

function scrypt(secret: string, salt: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scryptCallback(secret, salt, KEY_LENGTH, SCRYPT, (error, key) => (error ? reject(error) : resolve(key)));
  });
}

export async function hashSecret(secret: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await scrypt(secret, salt);
  return `scrypt$${SCRYPT.N}$${SCRYPT.r}$${SCRYPT.p}$${salt.toString('base64')}$${key.toString('base64')}`;
}

export async function verifySecret(secret: string, encoded: string): Promise<boolean> {
  const [scheme, n, r, p, salt, hash] = encoded.split('$');
  if (scheme !== 'scrypt' || !salt || !hash) return false;
  const expected = Buffer.from(hash, 'base64');
  const key = await new Promise<Buffer>((resolve, reject) => {
    scryptCallback(
      secret,
      Buffer.from(salt, 'base64'),
      expected.length,
      { N: Number(n), r: Number(r), p: Number(p) },
      (error, derived) => (error ? reject(error) : resolve(derived)),
    );
  });
  return key.length === expected.length && timingSafeEqual(key, expected);
}

// Verified against when the principal does not exist, so that timing does not tell who exists.
// Made on first use: hashing costs tens of milliseconds, which a cold start should not pay up front.
let decoy: Promise<string> | undefined;
function decoyHash(): Promise<string> {
  decoy ??= hashSecret(randomBytes(16).toString('hex'));
  return decoy;
}

function principalFromItem(item: Item): PrincipalRecord {
  return {
    principal: item.principal as string,
    kind: item.kind as PrincipalKind,
    roles: item.roles as string[],
    createdAt: item.created_at as number,
  };
}

export class PrincipalRegistry {
  constructor(private readonly context: RegistrarContext) {}

  private get table(): string {
    return this.context.tables.principals;
  }

  async create(input: {
    principal: string;
    secret: string;
    kind: PrincipalKind;
    roles: readonly string[];
  }): Promise<Result<PrincipalRecord, RegistrarError<'INVALID_ARGUMENT' | 'PRINCIPAL_EXISTS'>>> {
    const { principal, secret, kind, roles } = input;
    if (!/^[A-Za-z0-9._@-]{1,128}$/.test(principal)) {
      return failure('INVALID_ARGUMENT', 'A principal is 1-128 characters of letters, digits and ._@-');
    }
    if (typeof secret !== 'string' || secret.length < 16) {
      return failure('INVALID_ARGUMENT', 'A secret needs at least 16 characters');
    }
    if (!KINDS.has(kind)) return failure('INVALID_ARGUMENT', `Unknown principal kind '${String(kind)}'`);
    for (const role of roles) {
      const error = validateRole(role);
      if (error) return failure('INVALID_ARGUMENT', error);
    }
    const item: Item = {
      principal,
      kind,
      roles: [...new Set(roles)],
      secret_hash: await hashSecret(secret),
      created_at: this.context.now(),
    };
    const outcome = await this.context.put({
      TableName: this.table,
      Item: item,
      ConditionExpression: 'attribute_not_exists(principal)',
    });
    if (!outcome.written) return failure('PRINCIPAL_EXISTS', `Principal '${principal}' already exists`);
    return ok(principalFromItem(item));
  }

  async get(principal: string): Promise<PrincipalRecord | undefined> {
    const item = await this.context.get(this.table, { principal });
    return item ? principalFromItem(item) : undefined;
  }

  /** Checks a principal's secret. The error never says whether the principal exists. */
  async authenticate(
    principal: string,
    secret: string,
  ): Promise<Result<PrincipalRecord, RegistrarError<'UNAUTHENTICATED'>>> {
    const item = await this.context.get(this.table, { principal });
    const matches = await verifySecret(secret, item ? (item.secret_hash as string) : await decoyHash());
    if (!item || !matches) return failure('UNAUTHENTICATED', 'Authentication failed');
    return ok(principalFromItem(item));
  }
}

/** Whether a principal may use a role (subscribe with it, reserve for it). */
export function mayUseRole(principal: PrincipalRecord, role: string): boolean {
  return principal.roles.includes('*') || principal.roles.includes(role);
}
