/**
 * Authorization: what a principal's frameworks may do (Mesos ACLs, docs/security.md). A cluster has a
 * default ACL (the master's `acls` setting); a principal may carry its own `acl`, whose fields replace
 * the default's one by one. The built-in default is the safe one: no root, nothing privileged, no host
 * paths, no Docker parameters beyond the harmless ones and the training knobs that stay inside the
 * container (shm-size, memlock/stack/nofile ulimits, a private IPC namespace), no added capabilities, no
 * S3 buckets. `permissive` allows
 * everything (a single-user cluster on loopback). Pure.
 */
import { posix } from 'node:path';
import { z } from 'zod';
import {
  capabilityName,
  DEFAULT_IPC_MODES,
  DEFAULT_ULIMITS,
  IPC_MODES,
  ULIMIT_NAMES,
} from './protocol/docker-parameters.js';
import { DOCKER_NETWORKS } from './protocol/mesos.js';
import type { LaunchGrant } from './protocol/internal.js';
import { validateRole } from './roles.js';
import { err, ok, type Result } from './result.js';

export type NetworkMode = (typeof DOCKER_NETWORKS)[number];

/** An absolute path with `.` and `..` resolved and no trailing slash; undefined when it is not absolute. */
export function normalAbsolute(path: string): string | undefined {
  if (!posix.isAbsolute(path)) return undefined;
  const normal = posix.normalize(path);
  return normal.length > 1 && normal.endsWith('/') ? normal.slice(0, -1) : normal;
}

export { capabilityName };

const names = (what: string) =>
  z
    .array(
      z
        .string()
        .trim()
        .min(1, { error: `${what} must not be empty` }),
    )
    .max(1000, { error: `Too many ${what}` });

const AclFields = {
  /** Mesos register_frameworks: the roles the frameworks may subscribe and reserve with; "*" is any role. */
  roles: names('roles').refine((roles) => roles.every((role) => role === '*' || validateRole(role) === undefined), {
    error: 'roles must be valid role names or *',
  }),
  /** Mesos run_tasks: the users tasks may run as; "*" is any user but root, which must be named. */
  run_as_users: names('run_as_users'),
  /** Docker privileged containers. */
  privileged: z.boolean(),
  /** Absolute host path prefixes tasks may mount; "/" is any path. */
  host_paths: names('host_paths').transform((paths, context) => {
    const normal = paths.map(normalAbsolute);
    if (normal.some((path) => path === undefined)) {
      context.addIssue({ code: 'custom', message: 'host_paths must be absolute paths' });
      return z.NEVER;
    }
    return normal as string[];
  }),
  /** Docker parameter keys allowed beyond label, env and workdir (`user` is checked as a user); "*" is any. */
  docker_parameters: names('docker_parameters'),
  /** Docker network modes (Docker tasks without one use HOST, as in Mesos). */
  network_modes: z.array(z.enum(DOCKER_NETWORKS)),
  /** Linux capabilities tasks may add to Docker's default set; "*" is any. */
  capabilities: names('capabilities').transform((list) =>
    list.map((name) => (name === '*' ? name : capabilityName(name))),
  ),
  /** Docker IPC modes (`ipc` parameter); `host` shares the host's shared memory and semaphores. */
  ipc_modes: z.array(z.enum(IPC_MODES)),
  /** Ulimits tasks may set (`ulimit` parameter), by Docker's names; "*" is any. */
  ulimits: names('ulimits').refine(
    (list) => list.every((name) => name === '*' || (ULIMIT_NAMES as readonly string[]).includes(name)),
    { error: `ulimits must be * or among ${ULIMIT_NAMES.join(', ')}` },
  ),
  /** The largest /dev/shm (`shm-size` parameter) in MB; null: only the task's memory, which its pages count against. */
  max_shm_size_mb: z.number().int().positive().nullable(),
  /** S3 buckets whose `s3://` URIs the fetcher reads for the tasks, with the agent's credentials; "*" is any. */
  s3_buckets: names('s3_buckets'),
};

/** An ACL as written (any field may be left out). Unknown fields are refused: a typo must not open anything. */
export const AclSchema = z.strictObject({
  roles: AclFields.roles.optional(),
  run_as_users: AclFields.run_as_users.optional(),
  privileged: AclFields.privileged.optional(),
  host_paths: AclFields.host_paths.optional(),
  docker_parameters: AclFields.docker_parameters.optional(),
  network_modes: AclFields.network_modes.optional(),
  capabilities: AclFields.capabilities.optional(),
  ipc_modes: AclFields.ipc_modes.optional(),
  ulimits: AclFields.ulimits.optional(),
  max_shm_size_mb: AclFields.max_shm_size_mb.optional(),
  s3_buckets: AclFields.s3_buckets.optional(),
});
export type PartialAcl = z.output<typeof AclSchema>;

/** A principal's own ACL: its roles are the principal's `roles`, so they are not repeated here. */
export const PrincipalAclSchema = AclSchema.omit({ roles: true });
export type PrincipalAcl = z.output<typeof PrincipalAclSchema>;

/** An ACL with every field decided. */
export type Acl = Required<PartialAcl>;

export const SAFE_ACL: Acl = Object.freeze({
  roles: ['*'],
  run_as_users: ['*'],
  privileged: false,
  host_paths: [],
  docker_parameters: [],
  network_modes: [...DOCKER_NETWORKS],
  capabilities: [],
  ipc_modes: [...DEFAULT_IPC_MODES],
  ulimits: [...DEFAULT_ULIMITS],
  max_shm_size_mb: null,
  s3_buckets: [],
});

export const PERMISSIVE_ACL: Acl = Object.freeze({
  roles: ['*'],
  run_as_users: ['*', 'root'],
  privileged: true,
  host_paths: ['/'],
  docker_parameters: ['*'],
  network_modes: [...DOCKER_NETWORKS],
  capabilities: ['*'],
  ipc_modes: [...IPC_MODES],
  ulimits: ['*'],
  max_shm_size_mb: null,
  s3_buckets: ['*'],
});

/** The cluster's ACL setting: `permissive`, or an ACL whose missing fields take the safe defaults. */
export const ClusterAclSchema = z.union([
  z.literal('permissive').transform((): Acl => PERMISSIVE_ACL),
  AclSchema.transform((acl): Acl => ({ ...SAFE_ACL, ...definedFields(acl) })),
]);
export type ClusterAclInput = z.input<typeof ClusterAclSchema>;

function definedFields<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, field]) => field !== undefined)) as Partial<T>;
}

function issues(error: z.ZodError): string {
  return error.issues.map((issue) => (issue.path.length ? `${issue.path.join('.')}: ` : '') + issue.message).join('; ');
}

/** Reads a cluster ACL from text: `permissive` or JSON. */
export function parseClusterAcl(text: string): Result<Acl, string> {
  const trimmed = text.trim();
  let json: unknown = trimmed;
  if (trimmed !== 'permissive') {
    try {
      json = JSON.parse(trimmed);
    } catch (error) {
      return err(`ACLs must be 'permissive' or JSON: ${(error as Error).message}`);
    }
  }
  if (json === 'permissive') return ok(PERMISSIVE_ACL);
  // Parsed as an ACL (not as the union with 'permissive') so that the error names the field.
  const parsed = AclSchema.safeParse(json);
  return parsed.success
    ? ok({ ...SAFE_ACL, ...definedFields(parsed.data) })
    : err(`Invalid ACLs: ${issues(parsed.error)}`);
}

/** Reads a principal's ACL (JSON, or an object already parsed). */
export function parsePrincipalAcl(value: unknown): Result<PrincipalAcl, string> {
  const parsed = PrincipalAclSchema.safeParse(value);
  return parsed.success ? ok(definedFields(parsed.data)) : err(`Invalid ACL: ${issues(parsed.error)}`);
}

/** What a principal may do: its own fields, the cluster's for the rest. Without a principal: the cluster's. */
export function effectiveAcl(cluster: Acl, principal?: { readonly roles: string[]; readonly acl?: PrincipalAcl }): Acl {
  if (!principal) return cluster;
  return { ...cluster, ...definedFields(principal.acl ?? {}), roles: principal.roles };
}

/** Whether the ACL lets a framework use `role`. */
export function allowsRole(acl: Pick<Acl, 'roles'>, role: string): boolean {
  return acl.roles.includes('*') || acl.roles.includes(role);
}

/** The user part of a user spec (`name`, `uid`, `user:group`). */
export function userOf(spec: string): string {
  return spec.trim().split(':')[0] ?? '';
}

/** Whether a user spec names root (`root`, uid 0); an empty user is the image's default, root, too. */
export function isRootUser(spec: string): boolean {
  const user = userOf(spec);
  return user === '' || user === 'root' || /^0+$/.test(user);
}

/** Whether the ACL lets tasks run as `spec`: root only when named, anyone else under "*" or by name. */
export function allowsUser(acl: Pick<Acl, 'run_as_users'>, spec: string): boolean {
  const user = userOf(spec);
  if (isRootUser(spec)) return acl.run_as_users.some((allowed) => isRootUser(allowed) && allowed.trim() !== '');
  return acl.run_as_users.some((allowed) => allowed === '*' || userOf(allowed) === user);
}

/** Whether `path` (absolute) is one of the ACL's host path prefixes or under one. */
export function allowsHostPath(acl: Pick<Acl, 'host_paths'>, path: string): boolean {
  const normal = normalAbsolute(path);
  if (normal === undefined) return false;
  return acl.host_paths.some((prefix) => prefix === '/' || normal === prefix || normal.startsWith(`${prefix}/`));
}

/** Whether an ACL (or the launch grant made from it) lets the fetcher read `bucket` for a task. */
export function allowsS3Bucket(acl: { readonly s3_buckets: readonly string[] }, bucket: string): boolean {
  return acl.s3_buckets.includes('*') || acl.s3_buckets.includes(bucket);
}

/** What a launch tells the agent it may do, for the agent to enforce again. */
export function launchGrant(acl: Acl): LaunchGrant {
  return {
    root: acl.run_as_users.some((user) => user.trim() !== '' && isRootUser(user)),
    privileged: acl.privileged,
    host_paths: [...acl.host_paths],
    docker_parameters: [...acl.docker_parameters],
    network_modes: [...acl.network_modes],
    capabilities: [...acl.capabilities],
    ipc_modes: [...acl.ipc_modes],
    ulimits: [...acl.ulimits],
    max_shm_size_mb: acl.max_shm_size_mb,
    s3_buckets: [...acl.s3_buckets],
  };
}
