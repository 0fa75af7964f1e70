/**
 * Principals: who may call the master (frameworks, operators, agents), with a hashed secret, the roles
 * each may use and, optionally, its own ACL (shared/acl.ts; fields it leaves out are the cluster's).
 * Secrets are never stored or returned in clear; hashes are scrypt with a salt. A principal can be
 * listed, changed, rotated (a new secret) and deleted; the master re-reads the item on every request, so
 * a deletion or rotation takes effect at once (functions/master/auth.ts).
 */
import { randomBytes, scrypt as scryptCallback, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import { DeleteCommand } from '@aws-sdk/lib-dynamodb';
import { parsePrincipalAcl, SAFE_ACL, type PrincipalAcl } from '#shared/acl.js';
import { ok, type Result } from '#shared/result.js';
import { validateRole } from '#shared/roles.js';
import type { RegistrarContext } from './context.js';
import { Expression, type Item } from './expression.js';
import { failure, type RegistrarError } from './errors.js';

export type PrincipalKind = 'framework' | 'operator' | 'agent';

export interface PrincipalRecord {
  readonly principal: string;
  readonly kind: PrincipalKind;
  /** Roles the principal may subscribe with; "*" in the list means any role. */
  readonly roles: string[];
  /** Its own ACL fields; absent: the cluster's ACL applies. */
  readonly acl?: PrincipalAcl;
  readonly createdAt: number;
  /** When its secret was last replaced (`mantle principal rotate`). */
  readonly rotatedAt?: number;
}

/** A principal's record and the hash its secret is checked against. */
export interface PrincipalCredential {
  readonly record: PrincipalRecord;
  readonly secretHash: string;
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

// A stored ACL that does not parse (edited by hand) grants nothing beyond the safe defaults.
const { roles: _roles, ...SAFE_PRINCIPAL_ACL } = SAFE_ACL;

function principalFromItem(item: Item): PrincipalRecord {
  const acl = item.acl === undefined ? undefined : parsePrincipalAcl(item.acl);
  return {
    principal: item.principal as string,
    kind: item.kind as PrincipalKind,
    roles: item.roles as string[],
    ...(acl ? { acl: acl.ok ? acl.value : SAFE_PRINCIPAL_ACL } : {}),
    createdAt: item.created_at as number,
    ...(item.rotated_at !== undefined ? { rotatedAt: item.rotated_at as number } : {}),
  };
}

function validSecret(secret: string): string | undefined {
  return typeof secret !== 'string' || secret.length < 16 ? 'A secret needs at least 16 characters' : undefined;
}

function rolesError(roles: readonly string[]): string | undefined {
  for (const role of roles) {
    const error = validateRole(role);
    if (error) return error;
  }
  return undefined;
}

function aclItem(acl: unknown): Result<PrincipalAcl, RegistrarError<'INVALID_ARGUMENT'>> {
  const parsed = parsePrincipalAcl(acl);
  return parsed.ok ? parsed : failure('INVALID_ARGUMENT', parsed.error);
}

export interface NewPrincipal {
  readonly principal: string;
  readonly secret: string;
  readonly kind: PrincipalKind;
  readonly roles: readonly string[];
  readonly acl?: unknown;
}

export class PrincipalRegistry {
  constructor(private readonly context: RegistrarContext) {}

  private get table(): string {
    return this.context.tables.principals;
  }

  async create(
    input: NewPrincipal,
  ): Promise<Result<PrincipalRecord, RegistrarError<'INVALID_ARGUMENT' | 'PRINCIPAL_EXISTS'>>> {
    const { principal, secret, kind, roles } = input;
    if (!/^[A-Za-z0-9._@-]{1,128}$/.test(principal)) {
      return failure('INVALID_ARGUMENT', 'A principal is 1-128 characters of letters, digits and ._@-');
    }
    const invalid = validSecret(secret) ?? rolesError(roles);
    if (invalid) return failure('INVALID_ARGUMENT', invalid);
    if (!KINDS.has(kind)) return failure('INVALID_ARGUMENT', `Unknown principal kind '${String(kind)}'`);
    const acl = input.acl === undefined ? undefined : aclItem(input.acl);
    if (acl && !acl.ok) return acl;
    const item: Item = {
      principal,
      kind,
      roles: [...new Set(roles)],
      ...(acl ? { acl: acl.value } : {}),
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

  /** The record and secret hash, read consistently: what every authenticated request checks against. */
  async credential(principal: string): Promise<PrincipalCredential | undefined> {
    const item = await this.context.get(this.table, { principal });
    return item ? { record: principalFromItem(item), secretHash: item.secret_hash as string } : undefined;
  }

  /** Every principal (the table is small: one item per tenant, operator and agent credential). */
  async list(): Promise<PrincipalRecord[]> {
    const records: PrincipalRecord[] = [];
    for await (const item of this.context.scan(this.table)) records.push(principalFromItem(item));
    return records.sort((a, b) => a.principal.localeCompare(b.principal));
  }

  /** Replaces a principal's secret: the old one stops working at the master's next request. */
  async rotate(
    principal: string,
    secret: string,
  ): Promise<Result<PrincipalRecord, RegistrarError<'INVALID_ARGUMENT' | 'UNKNOWN_PRINCIPAL'>>> {
    const invalid = validSecret(secret);
    if (invalid) return failure('INVALID_ARGUMENT', invalid);
    return this.change(principal, { secret_hash: await hashSecret(secret), rotated_at: this.context.now() });
  }

  /** Changes a principal's roles or ACL (`acl: null` removes its own ACL: the cluster's applies). */
  async update(
    principal: string,
    change: { roles?: readonly string[]; acl?: unknown },
  ): Promise<Result<PrincipalRecord, RegistrarError<'INVALID_ARGUMENT' | 'UNKNOWN_PRINCIPAL'>>> {
    const invalid = change.roles ? rolesError(change.roles) : undefined;
    if (invalid) return failure('INVALID_ARGUMENT', invalid);
    const acl = change.acl === undefined || change.acl === null ? undefined : aclItem(change.acl);
    if (acl && !acl.ok) return acl;
    if (!change.roles && change.acl === undefined) return failure('INVALID_ARGUMENT', 'Nothing to change');
    return this.change(
      principal,
      {
        ...(change.roles ? { roles: [...new Set(change.roles)] } : {}),
        ...(acl ? { acl: acl.value } : {}),
      },
      change.acl === null ? ['acl'] : [],
    );
  }

  /** Deletes a principal; false when there was none. */
  async delete(principal: string): Promise<boolean> {
    if (principal === '') return false;
    const result = await this.context.documents.send(
      new DeleteCommand({ TableName: this.table, Key: { principal }, ReturnValues: 'ALL_OLD' }),
    );
    return result.Attributes !== undefined;
  }

  private async change(
    principal: string,
    sets: Item,
    removes: readonly string[] = [],
  ): Promise<Result<PrincipalRecord, RegistrarError<'UNKNOWN_PRINCIPAL'>>> {
    const x = new Expression();
    const set = Object.entries(sets).map(([name, value]) => `${x.name(name)} = ${x.value(value)}`);
    const remove = removes.map((name) => x.name(name));
    const outcome = await this.context.update({
      TableName: this.table,
      Key: { principal },
      UpdateExpression: [set.length ? `SET ${set.join(', ')}` : '', remove.length ? `REMOVE ${remove.join(', ')}` : '']
        .join(' ')
        .trim(),
      ConditionExpression: `attribute_exists(${x.name('principal')})`,
      ...x.attributes(),
    });
    if (!outcome.written) return failure('UNKNOWN_PRINCIPAL', `Principal '${principal}' does not exist`);
    return ok(principalFromItem(outcome.item));
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

/** Checks a secret against a hash, or against a decoy when there is none (the same time either way). */
export async function verifyOrDecoy(secret: string, secretHash: string | undefined): Promise<boolean> {
  const matches = await verifySecret(secret, secretHash ?? (await decoyHash()));
  return secretHash !== undefined && matches;
}
