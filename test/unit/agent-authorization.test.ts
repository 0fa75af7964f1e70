/**
 * Task isolation's pure decisions: the grant against a task's description, Docker users, the cgroup2
 * placement of tasks, the metadata firewall's rules; and the mount policy on a real directory tree with
 * symlinks.
 */
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { grantRefusal, isRootUser, underPrefix } from '../../agent/authorization.js';
import {
  coversUserDatabase,
  needsLookup,
  numericOwner,
  parseUserSpec,
  requestedUser,
  tarEntry,
} from '../../agent/containerizer/docker-user.js';
import { checkMounts, protectedPaths, resolvePath } from '../../agent/containerizer/mount-policy.js';
import type { Mount } from '../../agent/containerizer/volumes.js';
import { cgroup2MountIn, dockerCgroupParent, slicePath } from '../../agent/isolation/cgroup2.js';
import {
  firewallRules,
  ownRules,
  parseMetadataTarget,
  parseMetadataTargets,
  RULE_COMMENT,
} from '../../agent/isolation/firewall-rules.js';
import { PERMISSIVE_GRANT, SAFE_GRANT, type LaunchGrant } from '#shared/protocol/internal.js';
import type { TaskInfo, Volume } from '#shared/protocol/mesos.js';
import { commandTask, dockerTask } from '../support/agent.js';

const refusal = (task: TaskInfo, grant: LaunchGrant = SAFE_GRANT) => grantRefusal(task, grant);
const withVolumes = (volumes: Volume[]) =>
  dockerTask('t', 'true', { container: { type: 'DOCKER', docker: { image: 'i', network: 'NONE' }, volumes } });

describe('the grant against a task', () => {
  it('lets the safe defaults run an unprivileged task on any network', () => {
    for (const network of ['HOST', 'BRIDGE', 'NONE'] as const) {
      expect(
        refusal(dockerTask('t', 'true', { container: { type: 'DOCKER', docker: { image: 'i', network } } })),
      ).toBeUndefined();
    }
    expect(refusal(commandTask('t', 'true', { command: { value: 'true', user: 'alice' } }))).toBeUndefined();
  });

  it.each([
    [
      'a privileged container',
      dockerTask('t', 'true', { container: { type: 'DOCKER', docker: { image: 'i', privileged: true } } }),
      'privileged',
    ],
    [
      'a Docker parameter other than label, env, workdir, user',
      dockerTask('t', 'true', {
        container: {
          type: 'DOCKER',
          docker: {
            image: 'i',
            parameters: [
              { key: 'label', value: 'a=b' },
              { key: 'pid', value: 'host' },
            ],
          },
        },
      }),
      'docker_parameters',
    ],
    [
      'an added capability',
      dockerTask('t', 'true', {
        container: { type: 'DOCKER', docker: { image: 'i', parameters: [{ key: 'cap-add', value: 'ALL' }] } },
      }),
      'capabilities',
    ],
    [
      'the host IPC namespace',
      dockerTask('t', 'true', {
        container: { type: 'DOCKER', docker: { image: 'i', parameters: [{ key: 'ipc', value: 'host' }] } },
      }),
      'ipc_modes',
    ],
    [
      'a real-time priority ulimit',
      dockerTask('t', 'true', {
        container: { type: 'DOCKER', docker: { image: 'i', parameters: [{ key: 'ulimit', value: 'rtprio=99' }] } },
      }),
      'ulimits',
    ],
    ['a host path', withVolumes([{ mode: 'RO', container_path: '/x', host_path: '/srv/data' }]), 'host_paths'],
    [
      'a HOST_PATH source escaping with ..',
      withVolumes([
        { mode: 'RO', container_path: '/x', source: { type: 'HOST_PATH', host_path: { path: '/srv/../etc' } } },
      ]),
      'host_paths',
    ],
    [
      'root as the command user',
      commandTask('t', 'true', { command: { value: 'true', user: 'root' } }),
      'run_as_users',
    ],
    [
      'uid 0 as a Docker user parameter',
      dockerTask('t', 'true', {
        container: { type: 'DOCKER', docker: { image: 'i', parameters: [{ key: 'user', value: '0:0' }] } },
      }),
      'run_as_users',
    ],
  ])('refuses %s with TASK_ERROR, naming the ACL', (_what, task, acl) => {
    const refused = refusal(task);
    expect(refused).toMatchObject({ state: 'TASK_ERROR', reason: 'REASON_TASK_UNAUTHORIZED' });
    expect(refused?.message).toMatch(new RegExp(`^Not authorized: .*\\(acl: ${acl}\\)$`));
  });

  it('allows what is granted', () => {
    const grant: LaunchGrant = {
      ...SAFE_GRANT,
      root: true,
      privileged: true,
      host_paths: ['/srv/'],
      capabilities: ['NET_ADMIN'],
    };
    const task = dockerTask('t', 'true', {
      command: { value: 'true', user: 'root' },
      container: {
        type: 'DOCKER',
        docker: { image: 'i', privileged: true, parameters: [{ key: 'cap-add', value: 'NET_ADMIN' }] },
        volumes: [{ mode: 'RO', container_path: '/x', host_path: '/srv/data/../models' }],
      },
    });
    expect(refusal(task, grant)).toBeUndefined();
    expect(refusal(task, PERMISSIVE_GRANT)).toBeUndefined();
  });

  it('refuses a network mode that is not granted, for Docker tasks only', () => {
    const grant = { ...SAFE_GRANT, network_modes: ['NONE' as const] };
    expect(
      refusal(dockerTask('t', 'true', { container: { type: 'DOCKER', docker: { image: 'i' } } }), grant)?.message,
    ).toBe('Not authorized: the task may not use the Docker network mode HOST (acl: network_modes)');
    expect(refusal(commandTask('t', 'true'), grant)).toBeUndefined();
  });

  it('refuses a relative host path as invalid', () => {
    expect(
      refusal(withVolumes([{ mode: 'RO', container_path: '/x', host_path: 'srv' }]), PERMISSIVE_GRANT),
    ).toMatchObject({
      state: 'TASK_ERROR',
      reason: 'REASON_TASK_INVALID',
    });
  });

  it('knows root in every spelling, and prefixes only at path boundaries', () => {
    for (const user of ['', 'root', '0', '00', '0:1000', 'root:wheel', ' root ']) expect(isRootUser(user)).toBe(true);
    for (const user of ['1000', 'rooty', '1000:0', 'app']) expect(isRootUser(user)).toBe(false);
    expect(underPrefix('/srv/data', ['/srv'])).toBe(true);
    expect(underPrefix('/srv', ['/srv/'])).toBe(true);
    expect(underPrefix('/srvx', ['/srv'])).toBe(false);
    expect(underPrefix('/anything', ['/'])).toBe(true);
    expect(underPrefix('/srv', ['srv'])).toBe(false);
  });
});

describe('Docker users', () => {
  it("takes the command's user, else the last user parameter", () => {
    const params = [
      { key: 'user', value: 'a' },
      { key: 'user', value: 'b' },
    ];
    const task = dockerTask('t', 'true', { container: { type: 'DOCKER', docker: { image: 'i', parameters: params } } });
    expect(requestedUser(task)).toBe('b');
    expect(requestedUser({ ...task, command: { value: 'true', user: 'c' } })).toBe('c');
    expect(requestedUser(dockerTask('t', 'true'))).toBeUndefined();
  });

  it('reads uid and gid, and says when a name must be looked up in the image', () => {
    expect(parseUserSpec('app:staff')).toEqual({ user: 'app', group: 'staff' });
    expect(numericOwner(parseUserSpec('1000:100'))).toEqual({ uid: 1000, gid: 100 });
    expect(numericOwner(parseUserSpec('1000'))).toEqual({ uid: 1000, gid: -1 });
    expect(numericOwner(parseUserSpec('app'))).toBeUndefined();
    expect(needsLookup(parseUserSpec('app'))).toBe(true);
    expect(needsLookup(parseUserSpec('1000'))).toBe(false);
    expect(needsLookup(parseUserSpec('root'))).toBe(false);
  });

  it('knows which mounts would replace the user database runc reads', () => {
    expect(coversUserDatabase(['/mnt/mesos/sandbox', '/data'])).toBe(false);
    for (const target of ['/', '/etc', '/etc/', '/etc/passwd', '/etc/group', '/etc/../etc']) {
      expect(coversUserDatabase([target])).toBe(true);
    }
  });

  it('reads a file and a symlink out of a tar archive, skipping extended headers', () => {
    const header = (name: string, type: string, size: number, link = '') => {
      const block = Buffer.alloc(512);
      block.write(name, 0);
      block.write(size.toString(8).padStart(11, '0'), 124);
      block.write(type, 156);
      block.write(link, 157);
      return block;
    };
    const pad = (data: Buffer) => Buffer.concat([data, Buffer.alloc((512 - (data.length % 512)) % 512)]);
    const pax = pad(Buffer.from('30 path=passwd\n'));
    const content = Buffer.from('app:x:0:0::/:/bin/sh\n');
    const archive = Buffer.concat([
      header('PaxHeader', 'x', 15),
      pax,
      header('passwd', '0', content.length),
      pad(content),
    ]);
    expect(tarEntry(archive)).toEqual({ content });
    expect(tarEntry(header('passwd', '2', 0, '../usr/passwd'))).toEqual({ link: '../usr/passwd' });
    expect(tarEntry(Buffer.alloc(1024))).toBeUndefined();
  });
});

describe('task cgroups in cgroup2', () => {
  it('finds the cgroup2 mount of a pure v2 and of a hybrid host', () => {
    const hybrid = [
      '30 25 0:26 / /sys/fs/cgroup rw,nosuid - tmpfs tmpfs ro,mode=755',
      '31 30 0:27 / /sys/fs/cgroup/unified rw,nosuid,nodev shared:10 - cgroup2 cgroup2 rw,nsdelegate',
      '32 30 0:28 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory',
    ].join('\n');
    expect(cgroup2MountIn(hybrid)).toBe('/sys/fs/cgroup/unified');
    expect(cgroup2MountIn('35 24 0:30 / /sys/fs/cgroup rw shared:9 - cgroup2 cgroup2 rw')).toBe('/sys/fs/cgroup');
    expect(cgroup2MountIn('32 30 0:28 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory')).toBeUndefined();
  });

  it("puts Docker's containers where its cgroup driver takes them", () => {
    expect(dockerCgroupParent('cgroupfs', 'mantle')).toEqual({ parent: '/mantle', path: '/mantle' });
    expect(dockerCgroupParent(undefined, '/mantle/')).toEqual({ parent: '/mantle', path: '/mantle' });
    expect(dockerCgroupParent('systemd', 'mantle')).toEqual({ parent: 'mantle.slice', path: '/mantle.slice' });
    expect(dockerCgroupParent('systemd', 'mantle-tasks')).toEqual({
      parent: 'mantle-tasks.slice',
      path: '/mantle.slice/mantle-tasks.slice',
    });
    expect(slicePath('a-b-c.slice')).toBe('/a.slice/a-b.slice/a-b-c.slice');
  });
});

describe('the metadata firewall rules', () => {
  it('parses addresses with and without ports, IPv4 and IPv6', () => {
    expect(parseMetadataTarget('169.254.169.254')).toEqual({
      ok: true,
      value: { address: '169.254.169.254', family: 4 },
    });
    expect(parseMetadataTarget('169.254.169.254:80')).toEqual({
      ok: true,
      value: { address: '169.254.169.254', family: 4, port: 80 },
    });
    expect(parseMetadataTarget('fd00:ec2::254')).toEqual({ ok: true, value: { address: 'fd00:ec2::254', family: 6 } });
    expect(parseMetadataTarget('[FD00:EC2:0::254]:8080')).toEqual({
      ok: true,
      value: { address: 'fd00:ec2::254', family: 6, port: 8080 },
    });
    for (const bad of ['metadata', '169.254.169.254:0', '1.2.3.4:99999', '[::1', '']) {
      expect(parseMetadataTarget(bad).ok).toBe(false);
    }
    expect(parseMetadataTargets(['169.254.169.254', 'nope'])).toEqual({
      ok: false,
      error: "--block_metadata: 'nope' is not an IP address, address:port or [IPv6]:port",
    });
  });

  it('rejects each address from each task subtree, and on forwarded packets', () => {
    const targets = [
      { address: '169.254.169.254', family: 4 as const },
      { address: 'fd00:ec2::254', family: 6 as const, port: 80 },
    ];
    expect(firewallRules(targets, ['/mantle', '/mantle.slice'])).toEqual([
      {
        binary: 'iptables',
        chain: 'OUTPUT',
        spec: [
          '-d',
          '169.254.169.254',
          '-m',
          'cgroup',
          '--path',
          'mantle',
          '-m',
          'comment',
          '--comment',
          RULE_COMMENT,
          '-j',
          'REJECT',
        ],
      },
      {
        binary: 'iptables',
        chain: 'OUTPUT',
        spec: [
          '-d',
          '169.254.169.254',
          '-m',
          'cgroup',
          '--path',
          'mantle.slice',
          '-m',
          'comment',
          '--comment',
          RULE_COMMENT,
          '-j',
          'REJECT',
        ],
      },
      {
        binary: 'iptables',
        chain: 'FORWARD',
        spec: ['-d', '169.254.169.254', '-m', 'comment', '--comment', RULE_COMMENT, '-j', 'REJECT'],
      },
      {
        binary: 'ip6tables',
        chain: 'OUTPUT',
        spec: [
          '-d',
          'fd00:ec2::254',
          '-p',
          'tcp',
          '--dport',
          '80',
          '-m',
          'cgroup',
          '--path',
          'mantle',
          '-m',
          'comment',
          '--comment',
          RULE_COMMENT,
          '-j',
          'REJECT',
        ],
      },
      {
        binary: 'ip6tables',
        chain: 'OUTPUT',
        spec: [
          '-d',
          'fd00:ec2::254',
          '-p',
          'tcp',
          '--dport',
          '80',
          '-m',
          'cgroup',
          '--path',
          'mantle.slice',
          '-m',
          'comment',
          '--comment',
          RULE_COMMENT,
          '-j',
          'REJECT',
        ],
      },
      {
        binary: 'ip6tables',
        chain: 'FORWARD',
        spec: [
          '-d',
          'fd00:ec2::254',
          '-p',
          'tcp',
          '--dport',
          '80',
          '-m',
          'comment',
          '--comment',
          RULE_COMMENT,
          '-j',
          'REJECT',
        ],
      },
    ]);
  });

  it("picks its own rules out of a listing, not another agent's or anyone else's", () => {
    const listing = [
      '-P OUTPUT ACCEPT',
      '-A OUTPUT -d 169.254.169.254/32 -m cgroup --path mantle -m comment --comment mantle-agent -j REJECT --reject-with icmp-port-unreachable',
      '-A OUTPUT -d 169.254.169.254/32 -m cgroup --path other -m comment --comment mantle-agent -j REJECT --reject-with icmp-port-unreachable',
      '-A OUTPUT -d 169.254.169.254/32 -m owner ! --uid-owner 0 -j REJECT --reject-with icmp-port-unreachable',
      '-A OUTPUT -d 10.0.0.1/32 -m comment --comment "someone else" -j DROP',
    ].join('\n');
    const targets = [{ address: '169.254.169.254', family: 4 as const }];
    expect(ownRules(listing, 'OUTPUT', targets, ['/mantle'])).toEqual([
      [
        '-d',
        '169.254.169.254/32',
        '-m',
        'cgroup',
        '--path',
        'mantle',
        '-m',
        'comment',
        '--comment',
        'mantle-agent',
        '-j',
        'REJECT',
        '--reject-with',
        'icmp-port-unreachable',
      ],
    ]);
    const forward =
      '-A FORWARD -d 169.254.169.254/32 -m comment --comment mantle-agent -j REJECT\n-A FORWARD -d 169.254.169.253/32 -m comment --comment mantle-agent -j REJECT';
    expect(ownRules(forward, 'FORWARD', targets, ['/mantle'])).toHaveLength(1);
  });
});

describe('the mount policy, on a real tree with symlinks', () => {
  let root: string;
  const mount = (source: string, kind: Mount['kind'], within?: string): Mount => ({
    source,
    target: '/x',
    readOnly: false,
    kind,
    ...(within ? { within } : {}),
  });

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'mantle-mounts-'));
    for (const dir of ['granted/data', 'secret', 'work/meta', 'work/sandbox', 'run'])
      await mkdir(join(root, dir), { recursive: true });
    await writeFile(join(root, 'run', 'docker.sock'), '');
    await writeFile(join(root, 'credential'), 'agent secret');
    await symlink(join(root, 'secret'), join(root, 'granted', 'escape'));
    await symlink(join(root, 'run', 'docker.sock'), join(root, 'granted', 'sock'));
    await symlink(join(root, 'work', 'meta'), join(root, 'work', 'sandbox', 'meta-link'));
    await symlink(join(root, 'nowhere'), join(root, 'granted', 'dangling'));
    await symlink(join(root, 'secret'), join(root, 'work', 'sandbox', 'secret-link'));
  });
  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  const guarded = () =>
    protectedPaths({
      dockerSocket: join(root, 'run', 'docker.sock'),
      credential: join(root, 'credential'),
      workDir: join(root, 'work'),
      meta: join(root, 'work', 'meta'),
    });
  const grant = () => ({ ...SAFE_GRANT, host_paths: [join(root, 'granted'), join(root, 'run'), '/'] });

  it('resolves symlinks, and paths that do not exist yet through their deepest existing ancestor', async () => {
    expect(await resolvePath(join(root, 'granted', 'escape', 'x'))).toBe(join(root, 'secret', 'x'));
    expect(await resolvePath(join(root, 'granted', 'new', 'dir'))).toBe(join(root, 'granted', 'new', 'dir'));
    await expect(resolvePath(join(root, 'granted', 'dangling'))).rejects.toThrow(/Cannot resolve/);
  });

  it('mounts a granted host path, resolved', async () => {
    const grantOnly = { ...SAFE_GRANT, host_paths: [join(root, 'granted')] };
    expect(await checkMounts([mount(join(root, 'granted', 'data'), 'host')], grantOnly, guarded())).toEqual([
      mount(join(root, 'granted', 'data'), 'host'),
    ]);
  });

  it('refuses a symlink out of the granted prefix', async () => {
    const grantOnly = { ...SAFE_GRANT, host_paths: [join(root, 'granted')] };
    await expect(
      checkMounts([mount(join(root, 'granted', 'escape'), 'host')], grantOnly, guarded()),
    ).rejects.toMatchObject({
      state: 'TASK_ERROR',
      reason: 'REASON_TASK_UNAUTHORIZED',
      message: expect.stringMatching(/outside the granted host paths \(acl: host_paths\)$/),
    });
  });

  it.each([
    ['the engine socket, through a symlink', () => join(root, 'granted', 'sock'), /container engine socket/],
    ['a directory holding the engine socket', () => join(root, 'run'), /container engine socket/],
    ["the agent's credential", () => join(root, 'credential'), /credential/],
    ['/, which holds all of them', () => '/', /container engine socket/],
    ["the agent's checkpoint", () => join(root, 'work', 'meta'), /checkpoint/],
    ["another task's sandbox in the work dir", () => join(root, 'work', 'sandbox'), /work dir/],
  ])('never mounts %s, whatever the grant', async (_what, source, what) => {
    await expect(checkMounts([mount(source(), 'host')], grant(), guarded())).rejects.toMatchObject({
      reason: 'REASON_TASK_UNAUTHORIZED',
      message: expect.stringMatching(what),
    });
  });

  it('keeps a sandbox path inside its sandbox once resolved, and out of the checkpoint', async () => {
    const sandbox = join(root, 'work', 'sandbox');
    await expect(
      checkMounts([mount(join(sandbox, 'meta-link'), 'sandbox', sandbox)], PERMISSIVE_GRANT, guarded()),
    ).rejects.toMatchObject({ message: expect.stringMatching(/checkpoint/) });
    await expect(
      checkMounts([mount(join(sandbox, 'secret-link'), 'sandbox', sandbox)], PERMISSIVE_GRANT, guarded()),
    ).rejects.toMatchObject({ message: expect.stringMatching(/outside the sandbox/) });
    expect(await checkMounts([mount(join(sandbox, 'data'), 'sandbox', sandbox)], SAFE_GRANT, guarded())).toHaveLength(
      1,
    );
  });
});
