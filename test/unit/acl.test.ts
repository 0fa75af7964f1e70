/**
 * Authorization decided without I/O: the ACL schema and its defaults (shared/acl.ts), the task check at
 * ACCEPT (functions/scheduler/task-authorization.ts), UNRESERVE/DESTROY by principal, and the master's
 * configuration failing closed. The same over HTTP, DynamoDB Local and the queues is in
 * test/contract/scheduler-acls.test.ts.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  allowsHostPath,
  allowsUser,
  effectiveAcl,
  launchGrant,
  parseClusterAcl,
  parsePrincipalAcl,
  PERMISSIVE_ACL,
  SAFE_ACL,
  type Acl,
} from '#shared/acl.js';
import { PERMISSIVE_GRANT, SAFE_GRANT } from '#shared/protocol/internal.js';
import type { FrameworkInfo, Operation, Resource, TaskInfo } from '#shared/protocol/mesos.js';
import { allocate } from '#shared/resources/resources.js';
import {
  aclsFromEnvironment,
  authenticateFromEnvironment,
  masterConfigFromEnvironment,
} from '../../functions/master/config.js';
import { destroy, unreserve, type OperationContext } from '../../functions/scheduler/operations.js';
import {
  executorRefusal,
  taskRefusal,
  taskUser,
  type Authority,
} from '../../functions/scheduler/task-authorization.js';
import { describeAcls, localMasterConfig } from '../../local/cluster.js';
import { readAclsFlag } from '../../local/main.js';
import { resources } from '../support/resources.js';

const FRAMEWORK: FrameworkInfo = { user: 'alice', name: 'f' };
const who = (acl: Acl, principal: string | null = 'team-a'): Authority => ({
  acl,
  ...(principal !== null ? { principal } : {}),
  operator: false,
});

function task(extra: Partial<TaskInfo> = {}): TaskInfo {
  return { name: 't', task_id: { value: 't' }, agent_id: { value: 'S1' }, command: { value: 'true' }, ...extra };
}

const docker = (docker: Record<string, unknown>, extra: Record<string, unknown> = {}): Partial<TaskInfo> =>
  ({ container: { type: 'DOCKER', docker: { image: 'busybox', ...docker }, ...extra } }) as Partial<TaskInfo>;

describe('the ACL schema', () => {
  it('defaults safely: no root, nothing privileged, no host paths, parameters or capabilities', () => {
    expect(SAFE_ACL).toEqual({
      roles: ['*'],
      run_as_users: ['*'],
      privileged: false,
      host_paths: [],
      docker_parameters: [],
      network_modes: ['HOST', 'BRIDGE', 'NONE', 'USER'],
      capabilities: [],
      ipc_modes: ['private', 'shareable', 'none'],
      ulimits: ['memlock', 'stack', 'nofile'],
      max_shm_size_mb: null,
      s3_buckets: [],
    });
    expect(launchGrant(SAFE_ACL)).toEqual(SAFE_GRANT);
    expect(launchGrant(PERMISSIVE_ACL)).toEqual(PERMISSIVE_GRANT);
  });

  it('reads a cluster ACL from JSON or permissive; fields left out are the safe ones', () => {
    expect(parseClusterAcl('permissive')).toEqual({ ok: true, value: PERMISSIVE_ACL });
    expect(parseClusterAcl('{"privileged":true,"host_paths":["/srv/data/"]}')).toEqual({
      ok: true,
      value: { ...SAFE_ACL, privileged: true, host_paths: ['/srv/data'] },
    });
    expect(parseClusterAcl('{"capabilities":["cap_net_admin"]}')).toMatchObject({
      value: { capabilities: ['NET_ADMIN'] },
    });
  });

  it.each([
    ['not JSON', '{privileged', /must be 'permissive' or JSON/],
    ['an unknown field (a typo must not open anything)', '{"privilegd":true}', /Unrecognized key/],
    ['a relative host path', '{"host_paths":["srv"]}', /host_paths must be absolute/],
    ['an unknown network mode', '{"network_modes":["ALL"]}', /network_modes/],
    ['a bad role', '{"roles":["a b"]}', /roles/],
    ['a string where a boolean goes', '{"privileged":"yes"}', /privileged/],
  ])('refuses %s', (_what, text, message) => {
    const parsed = parseClusterAcl(text);
    expect(parsed.ok).toBe(false);
    expect(parsed.ok ? '' : parsed.error).toMatch(message);
  });

  it("makes a principal's own fields win over the cluster's, one by one; its roles are the principal's", () => {
    const own = parsePrincipalAcl({ privileged: true });
    expect(own.ok).toBe(true);
    const acl = effectiveAcl(SAFE_ACL, { roles: ['a'], ...(own.ok ? { acl: own.value } : {}) });
    expect(acl).toEqual({ ...SAFE_ACL, roles: ['a'], privileged: true });
    expect(effectiveAcl(PERMISSIVE_ACL)).toBe(PERMISSIVE_ACL);
    expect(parsePrincipalAcl({ roles: ['a'] }).ok).toBe(false);
  });

  it('lets "*" mean any user but root, which must be named (root, uid 0, 0:group)', () => {
    for (const user of ['alice', '1000', 'nobody:nogroup']) expect(allowsUser(SAFE_ACL, user)).toBe(true);
    for (const root of ['root', '0', '0:0', 'root:wheel', '', '00']) expect(allowsUser(SAFE_ACL, root)).toBe(false);
    expect(allowsUser({ run_as_users: ['alice'] }, 'bob')).toBe(false);
    expect(allowsUser({ run_as_users: ['root'] }, '0')).toBe(true);
  });

  it('matches host paths as whole path prefixes, after resolving . and ..', () => {
    const acl = { host_paths: ['/srv/data'] };
    expect(allowsHostPath(acl, '/srv/data')).toBe(true);
    expect(allowsHostPath(acl, '/srv/data/x/../y')).toBe(true);
    expect(allowsHostPath(acl, '/srv/database')).toBe(false);
    expect(allowsHostPath(acl, '/srv/data/../../etc')).toBe(false);
    expect(allowsHostPath(acl, 'srv/data')).toBe(false);
  });
});

describe('task authorization at ACCEPT', () => {
  it('takes the task user from command.user, then the Docker user parameter, then FrameworkInfo.user', () => {
    expect(taskUser(task(), FRAMEWORK)).toBe('alice');
    expect(taskUser(task(docker({ parameters: [{ key: 'user', value: 'bob' }] })), FRAMEWORK)).toBe('bob');
    expect(taskUser(task({ command: { value: 'x', user: 'carol' } }), FRAMEWORK)).toBe('carol');
  });

  it.each([
    ['run_as_users', task({ command: { value: 'x', user: 'root' } }), "run tasks as user 'root'"],
    ['run_as_users', task(docker({ parameters: [{ key: 'user', value: '0' }] })), "run tasks as user '0'"],
    [
      'run_as_users',
      task(
        docker({
          parameters: [
            { key: 'user', value: 'alice' },
            { key: 'user', value: 'root' },
          ],
        }),
      ),
      "run tasks as user 'root'",
    ],
    ['privileged', task(docker({ privileged: true })), 'run privileged containers'],
    ['docker_parameters', task(docker({ parameters: [{ key: 'pid', value: 'host' }] })), "Docker parameter 'pid'"],
    [
      'host_paths',
      task(docker({}, { volumes: [{ mode: 'RW', container_path: '/h', host_path: '/' }] })),
      "host path '/'",
    ],
    [
      'host_paths',
      task({
        container: {
          type: 'MESOS',
          volumes: [
            {
              mode: 'RW',
              container_path: '/s',
              source: { type: 'HOST_PATH', host_path: { path: '/var/run/docker.sock' } },
            },
          ],
        },
      } as Partial<TaskInfo>),
      "host path '/var/run/docker.sock'",
    ],
    [
      'host_paths',
      task(docker({}, { volumes: [{ mode: 'RW', container_path: '/h', host_path: 'relative' }] })),
      'which is not absolute',
    ],
    [
      'capabilities',
      task(docker({ parameters: [{ key: 'cap-add', value: 'SYS_ADMIN' }] }, {})),
      'capability SYS_ADMIN',
    ],
    ['ipc_modes', task(docker({ parameters: [{ key: 'ipc', value: 'host' }] }, {})), "IPC mode 'host'"],
    ['ulimits', task(docker({ parameters: [{ key: 'ulimit', value: 'rtprio=99' }] }, {})), "ulimit 'rtprio'"],
    ['docker_parameters', task(docker({ parameters: [{ key: 'pid', value: 'host' }] }, {})), "parameter 'pid'"],
    [
      'capabilities',
      task({
        container: { type: 'MESOS', linux_info: { capability_info: { capabilities: ['SYS_ADMIN'] } } },
      } as Partial<TaskInfo>),
      'add the capability SYS_ADMIN',
    ],
    [
      'host_paths',
      task({ command: { value: 'x', uris: [{ value: 'file:///etc/shadow' }] } }),
      "local file '/etc/shadow'",
    ],
    ['s3_buckets', task({ command: { value: 'x', uris: [{ value: 's3://models/w.pt' }] } }), "S3 bucket 'models'"],
  ])('refuses under the safe ACL what needs %s, naming the setting', (setting, refused, what) => {
    const why = taskRefusal(refused, FRAMEWORK, who(SAFE_ACL));
    expect(why).toContain(what);
    expect(why).toMatch(/^Not authorized: principal 'team-a' may not /);
    expect(why).toContain(`(acl: ${setting})`);
    // Permissive allows it all, but a relative host path names nothing to allow.
    const relative = what.includes('not absolute');
    expect(taskRefusal(refused, FRAMEWORK, who(PERMISSIVE_ACL)) !== undefined).toBe(relative);
  });

  it('allows exactly what a field grants', () => {
    const acl: Acl = {
      ...SAFE_ACL,
      run_as_users: ['bob'],
      host_paths: ['/srv/data'],
      docker_parameters: ['memory-swap'],
      network_modes: ['BRIDGE'],
      capabilities: ['NET_ADMIN'],
      s3_buckets: ['models'],
    };
    const uris = [{ value: 's3://models/w.pt' }, { value: '/srv/data/in.csv' }, { value: 'https://example.com/x' }];
    const allowed = task({
      command: { value: 'x', user: 'bob', uris },
      ...docker(
        {
          network: 'BRIDGE',
          parameters: [
            { key: 'cap-add', value: 'net_admin' },
            { key: 'memory-swap', value: '1g' },
            { key: 'label', value: 'a=b' },
          ],
        },
        { volumes: [{ mode: 'RO', container_path: '/d', host_path: '/srv/data/x' }] },
      ),
    });
    expect(taskRefusal(allowed, FRAMEWORK, who(acl))).toBeUndefined();
    const hostNetwork = task({ command: { value: 'x', user: 'bob' }, ...docker({}) });
    expect(taskRefusal(hostNetwork, FRAMEWORK, who(acl))).toContain('Docker network mode HOST (acl: network_modes)');
    expect(taskRefusal(task(), FRAMEWORK, who(acl))).toContain("user 'alice' (acl: run_as_users)");
    // Without authentication there is no principal: the message speaks of the cluster.
    expect(taskRefusal(task(), FRAMEWORK, who(acl, null))).toMatch(/^Not authorized: frameworks of this cluster/);
  });

  it("checks a task group's executor as its tasks", () => {
    const executor = { executor_id: { value: 'e' }, type: 'DEFAULT' as const, command: { value: 'x', user: 'root' } };
    expect(executorRefusal(executor, who(SAFE_ACL))).toContain('(acl: run_as_users)');
    expect(executorRefusal({ ...executor, command: { value: 'x' } }, who(SAFE_ACL))).toBeUndefined();
  });
});

describe('UNRESERVE and DESTROY by principal', () => {
  const reservedBy = (principal: string): Resource[] =>
    resources('cpus(a):2').map((r) => ({ ...r, reservations: [{ type: 'DYNAMIC', role: 'a', principal }] }));
  const volumeBy = (principal: string): Resource[] =>
    resources('disk(a):10').map((r) => ({
      ...r,
      reservations: [{ type: 'DYNAMIC', role: 'a', principal }],
      disk: { persistence: { id: 'v1', principal }, volume: { mode: 'RW', container_path: 'v' } },
    }));
  const context = (caller?: OperationContext['caller']): OperationContext => ({
    role: 'a',
    sharedResources: false,
    acl: SAFE_ACL,
    ...(caller ? { caller, principal: caller.principal } : {}),
  });
  const state = (offered: Resource[]) => ({ remaining: allocate(offered, 'a'), total: offered });
  const unreserving = (offered: Resource[]): Operation => ({ type: 'UNRESERVE', unreserve: { resources: offered } });
  const destroying = (offered: Resource[]): Operation => ({ type: 'DESTROY', destroy: { volumes: offered } });

  it('lets only the reserver (or an operator) unreserve', () => {
    const own = unreserve(
      state(reservedBy('team-a')),
      unreserving(reservedBy('team-a')),
      context({ principal: 'team-a', operator: false }),
    );
    expect(own.ok).toBe(true);
    const other = unreserve(
      state(reservedBy('team-b')),
      unreserving(reservedBy('team-b')),
      context({ principal: 'team-a', operator: false }),
    );
    expect(other.ok ? '' : other.error.message).toBe(
      "Not authorized: principal 'team-a' may not unreserve resources reserved by principal 'team-b'",
    );
    expect(
      unreserve(
        state(reservedBy('team-b')),
        unreserving(reservedBy('team-b')),
        context({ principal: 'ops', operator: true }),
      ).ok,
    ).toBe(true);
    // Authentication off: nobody to check, as before.
    expect(unreserve(state(reservedBy('team-b')), unreserving(reservedBy('team-b')), context()).ok).toBe(true);
  });

  it('lets only the creator (or an operator) destroy a volume', () => {
    const other = destroy(
      state(volumeBy('team-b')),
      destroying(volumeBy('team-b')),
      context({ principal: 'team-a', operator: false }),
    );
    expect(other.ok ? '' : other.error.message).toBe(
      "Not authorized: principal 'team-a' may not destroy volume 'v1' created by principal 'team-b'",
    );
    expect(
      destroy(
        state(volumeBy('team-a')),
        destroying(volumeBy('team-a')),
        context({ principal: 'team-a', operator: false }),
      ).ok,
    ).toBe(true);
  });
});

describe("the master's configuration fails closed", () => {
  it('authenticates unless MANTLE_AUTHENTICATE is exactly false, and refuses to start on anything else', () => {
    expect(authenticateFromEnvironment(undefined)).toBe(true);
    expect(authenticateFromEnvironment('')).toBe(true);
    expect(authenticateFromEnvironment('TRUE')).toBe(true);
    expect(authenticateFromEnvironment('false')).toBe(false);
    expect(() => authenticateFromEnvironment('off')).toThrow(/MANTLE_AUTHENTICATE must be true or false/);
    expect(() => authenticateFromEnvironment('0')).toThrow(/must be true or false/);
  });

  it('takes the safe ACL without MANTLE_ACLS and refuses to start on one that does not parse', () => {
    expect(aclsFromEnvironment(undefined)).toEqual(SAFE_ACL);
    expect(aclsFromEnvironment('permissive')).toEqual(PERMISSIVE_ACL);
    expect(() => aclsFromEnvironment('{"privileged":1}')).toThrow(/MANTLE_ACLS: Invalid ACLs/);
    const env = { MANTLE_CLUSTER: 'c', MANTLE_CLUSTER_ID: 'c1', MANTLE_AGENT_IDENTITY: 'principal' };
    expect(masterConfigFromEnvironment(env)).toMatchObject({ authenticate: true, acls: SAFE_ACL });
    expect(() => masterConfigFromEnvironment({ ...env, MANTLE_AUTHENTICATE: 'no' })).toThrow();
  });
});

describe('the local cluster', () => {
  it('is permissive without --authenticate and safe with it, unless --acls says otherwise, and says which', () => {
    expect(localMasterConfig({})).toMatchObject({ authenticate: false, acls: 'permissive' });
    expect(localMasterConfig({ authenticate: true })).toMatchObject({ authenticate: true, acls: SAFE_ACL });
    const own = { ...SAFE_ACL, privileged: true };
    expect(localMasterConfig({ authenticate: true, acls: own }).acls).toBe(own);
    expect(describeAcls(PERMISSIVE_ACL)).toMatch(/^permissive: tasks may run as root/);
    expect(describeAcls(SAFE_ACL)).toMatch(/^safe defaults: no root/);
    expect(describeAcls(own)).toBe(JSON.stringify(own));
  });

  it('reads --acls as permissive, JSON or @file, and says what is wrong', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mantle-acls-'));
    writeFileSync(join(dir, 'acls.json'), '{"host_paths":["/data"]}');
    expect(readAclsFlag('permissive')).toEqual(PERMISSIVE_ACL);
    expect(readAclsFlag('{"privileged":true}')).toEqual({ ...SAFE_ACL, privileged: true });
    expect(readAclsFlag(`@${join(dir, 'acls.json')}`)).toEqual({ ...SAFE_ACL, host_paths: ['/data'] });
    expect(() => readAclsFlag(`@${join(dir, 'missing.json')}`)).toThrow(/^--acls: cannot read .*missing\.json/);
    expect(() => readAclsFlag('{"run_as":["root"]}')).toThrow(/^--acls: Invalid ACLs: .*run_as/);
  });
});
