/**
 * What each `mantle principal` verb does to the registrar and prints: lines to show, or why it failed.
 * Secrets appear only in what create and rotate print, once.
 */
import { bearerToken, newSecret } from '../functions/master/auth.js';
import type { PrincipalKind, PrincipalRecord, Registrar } from '../functions/registrar/index.js';

export interface PrincipalOptions {
  readonly name?: string;
  readonly kind: string;
  readonly roles?: string[];
  /** Parsed JSON; null removes a principal's own ACL. */
  readonly acl?: unknown;
  readonly cluster: string;
  readonly endpoint?: string;
}

/** Lines to print, or the reason it failed. */
type Verb = (registrar: Registrar, options: PrincipalOptions) => Promise<string[] | string>;

function describe(record: PrincipalRecord): string {
  const acl = record.acl && Object.keys(record.acl).length > 0 ? `acl ${JSON.stringify(record.acl)}` : 'cluster ACL';
  return `${record.principal} (${record.kind}, roles ${record.roles.join(',') || '-'}, ${acl})`;
}

function credentialLines(principal: string, secret: string): string[] {
  return [
    `  MANTLE_PRINCIPAL=${principal} MANTLE_SECRET=${secret}`,
    `  Authorization: Basic ${Buffer.from(`${principal}:${secret}`).toString('base64')}`,
    `  Authorization: Bearer ${bearerToken({ principal, secret })}`,
    'The secret is not stored in clear anywhere: keep it now.',
  ];
}

const create: Verb = async (registrar, options) => {
  const name = options.name as string;
  const secret = newSecret();
  const created = await registrar.principals.create({
    principal: name,
    secret,
    kind: options.kind as PrincipalKind,
    roles: options.roles ?? ['*'],
    ...(options.acl !== undefined && options.acl !== null ? { acl: options.acl } : {}),
  });
  if (!created.ok) return created.error.message;
  return [`principal ${describe(created.value)}`, ...credentialLines(name, secret)];
};

const list: Verb = async (registrar) => {
  const records = await registrar.principals.list();
  if (records.length === 0) return ['no principals'];
  return records.map((record) => {
    const rotated = record.rotatedAt ? `, rotated ${new Date(record.rotatedAt).toISOString()}` : '';
    return `${describe(record)} created ${new Date(record.createdAt).toISOString()}${rotated}`;
  });
};

const update: Verb = async (registrar, options) => {
  const updated = await registrar.principals.update(options.name as string, {
    ...(options.roles ? { roles: options.roles } : {}),
    ...(options.acl !== undefined ? { acl: options.acl } : {}),
  });
  return updated.ok ? [`principal ${describe(updated.value)}`] : updated.error.message;
};

const rotate: Verb = async (registrar, options) => {
  const name = options.name as string;
  const secret = newSecret();
  const rotated = await registrar.principals.rotate(name, secret);
  if (!rotated.ok) return rotated.error.message;
  return [
    `principal ${describe(rotated.value)}: new secret; the old one no longer works`,
    ...credentialLines(name, secret),
  ];
};

const remove: Verb = async (registrar, options) => {
  const name = options.name as string;
  return (await registrar.principals.delete(name))
    ? [`principal ${name} deleted; its credentials no longer work`]
    : `Principal '${name}' does not exist`;
};

export const PRINCIPAL_VERBS: Readonly<Record<string, Verb>> = { create, list, update, rotate, delete: remove };
