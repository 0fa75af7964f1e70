import { describe, expect, it } from 'vitest';
import { dockerCommand, processCommand, taskEnvironment } from '../../agent/containerizer/command.js';
import { LaunchError, type LaunchSpec } from '../../agent/containerizer/containerizer.js';
import {
  dockerCreateOptions,
  dockerNetwork,
  LABELS,
  taskImage,
  type NoneNetworkSpec,
} from '../../agent/containerizer/docker-spec.js';
import { taskPorts } from '../../agent/containerizer/docker.js';
import { sandboxLinks, taskMounts } from '../../agent/containerizer/volumes.js';
import type { Gpu } from '../../agent/gpu/nvidia.js';
import { containerLimits } from '../../agent/isolation/limits.js';
import { PERMISSIVE_GRANT, SAFE_GRANT } from '#shared/protocol/internal.js';
import type { ContainerInfo, TaskInfo } from '#shared/protocol/mesos.js';
import { dockerTask, resources } from '../support/agent.js';

const gpu = (index: number): Gpu => ({
  index,
  uuid: `GPU-00000000-0000-0000-0000-00000000000${index}`,
  model: 'NVIDIA A10G',
  memoryMiB: 23028,
  minor: index,
});

function spec(task: TaskInfo, extra: Partial<LaunchSpec> = {}): LaunchSpec {
  return {
    containerId: 'cid-1',
    agentId: 'agent-1',
    frameworkId: 'fw-1',
    frameworkInfo: { user: 'root', name: 'f' },
    executorId: task.task_id.value,
    task,
    sandbox: '/w/sandbox',
    gpus: [],
    allGpus: [],
    recorded: Promise.resolve(),
    grant: SAFE_GRANT,
    ...extra,
  };
}

function options(s: LaunchSpec, noneNetwork?: NoneNetworkSpec) {
  return dockerCreateOptions(s, {
    workDir: '/w',
    sandboxDirectory: '/mnt/mesos/sandbox',
    limits: containerLimits(s.task.resources ?? [], s.task.limits, { enableCfs: true, pidsLimit: 4096 }),
    environment: taskEnvironment(s, '/mnt/mesos/sandbox'),
    mounts: taskMounts(s.task.container?.volumes ?? [], s.task.resources ?? [], {
      sandbox: s.sandbox,
      volumeDir: (role, id) => `/w/volumes/roles/${role}/${id}`,
    }),
    taskPorts: taskPorts(s),
    cgroupParent: '/mantle',
    noNewPrivileges: !s.grant.privileged,
    ...(noneNetwork ? { noneNetwork } : {}),
  });
}

const NONE_FILES: NoneNetworkSpec = {
  hosts: '/w/meta/docker/cid-1/hosts',
  resolvConf: '/w/meta/docker/cid-1/resolv.conf',
  ipv6: true,
};

describe('Docker container options', () => {
  it('carries image, shell command, environment, limits, sandbox, labels', () => {
    const task = dockerTask('t1', 'echo hi', {
      resources: resources('cpus:0.5;mem:64'),
      command: { value: 'echo hi', environment: { variables: [{ name: 'GREETING', value: 'hello' }] } },
      labels: { labels: [{ key: 'team', value: 'ml' }] },
    });
    const created = options(spec(task));
    expect(created).toMatchObject({
      name: 'mantle-cid-1',
      Image: 'mantle/busybox:test',
      Entrypoint: ['/bin/sh'],
      Cmd: ['-c', 'echo hi'],
      WorkingDir: '/mnt/mesos/sandbox',
      Labels: {
        team: 'ml',
        [LABELS.workDir]: '/w',
        [LABELS.containerId]: 'cid-1',
        [LABELS.frameworkId]: 'fw-1',
        [LABELS.taskId]: 't1',
        [LABELS.executorId]: 't1',
      },
      HostConfig: {
        Binds: ['/w/sandbox:/mnt/mesos/sandbox:rw'],
        NetworkMode: 'none',
        CpuShares: 512,
        CpuPeriod: 100_000,
        CpuQuota: 50_000,
        Memory: 64 * 1024 * 1024,
        MemorySwap: 64 * 1024 * 1024,
        PidsLimit: 4096,
        CgroupParent: '/mantle',
        SecurityOpt: ['no-new-privileges'],
      },
    });
    expect(created.Env).toEqual(
      expect.arrayContaining([
        'GREETING=hello',
        'MESOS_TASK_ID=t1',
        'MESOS_SANDBOX=/mnt/mesos/sandbox',
        'MESOS_AGENT_ID=agent-1',
      ]),
    );
    expect(created.HostConfig?.DeviceRequests).toBeUndefined();
  });

  it('lets setuid binaries raise privileges only under a grant of privileged containers', () => {
    const task = dockerTask('t1', 'true');
    expect(options(spec(task, { grant: PERMISSIVE_GRANT })).HostConfig?.SecurityOpt).toBeUndefined();
  });

  it('keeps the entrypoint for shell: false and passes value then arguments', () => {
    expect(dockerCommand({ shell: false, value: 'python', arguments: ['-m', 'http.server'] })).toEqual({
      Cmd: ['python', '-m', 'http.server'],
    });
    expect(dockerCommand(undefined)).toEqual({});
  });

  it('requests exactly the allocated GPUs and hides the others', () => {
    const s = spec(dockerTask('t2', 'nvidia-smi'), { gpus: [gpu(1), gpu(3)], allGpus: [0, 1, 2, 3].map(gpu) });
    const created = options(s);
    expect(created.HostConfig?.DeviceRequests).toEqual([
      { Driver: 'nvidia', Count: 0, DeviceIDs: [gpu(1).uuid, gpu(3).uuid], Capabilities: [['gpu']] },
    ]);
    expect(created.Env).toEqual(
      expect.arrayContaining(['CUDA_VISIBLE_DEVICES=1,3', `NVIDIA_VISIBLE_DEVICES=${gpu(1).uuid},${gpu(3).uuid}`]),
    );
    const none = options(spec(dockerTask('t3', 'true'), { allGpus: [gpu(0)] }));
    expect(none.Env).toEqual(expect.arrayContaining(['NVIDIA_VISIBLE_DEVICES=void', 'CUDA_VISIBLE_DEVICES=']));
  });

  it('maps the offered ports on a bridge network', () => {
    const container: ContainerInfo = {
      type: 'DOCKER',
      docker: {
        image: 'web',
        network: 'BRIDGE',
        port_mappings: [
          { host_port: 31001, container_port: 80 },
          { host_port: 31002, container_port: 53, protocol: 'UDP' },
        ],
      },
    };
    const task = dockerTask('t4', 'serve', { container, resources: resources('cpus:1;mem:64;ports:[31001-31002]') });
    const created = options(spec(task));
    expect(created.HostConfig?.NetworkMode).toBe('bridge');
    expect(created.HostConfig?.PortBindings).toEqual({
      '80/tcp': [{ HostPort: '31001' }],
      '53/udp': [{ HostPort: '31002' }],
    });
    expect(created.ExposedPorts).toEqual({ '80/tcp': {}, '53/udp': {} });
    expect(dockerNetwork(container, [{ begin: 31001, end: 31002 }]).checkFrom).toBe('container');
  });

  it('refuses a port the task was not offered, and a USER network without a name', () => {
    const container: ContainerInfo = {
      type: 'DOCKER',
      docker: { image: 'web', network: 'BRIDGE', port_mappings: [{ host_port: 8080, container_port: 80 }] },
    };
    expect(() => dockerNetwork(container, [{ begin: 31000, end: 32000 }])).toThrow(/8080 is not in the task's ports/);
    expect(() => dockerNetwork({ type: 'DOCKER', docker: { image: 'x', network: 'USER' } }, [])).toThrow(
      /network_infos/,
    );
    const user = dockerNetwork(
      {
        type: 'DOCKER',
        docker: { image: 'x', network: 'USER' },
        network_infos: [{ name: 'overlay-a', port_mappings: [{ host_port: 31000, container_port: 9 }] }],
      },
      [{ begin: 31000, end: 31000 }],
    );
    expect(user).toMatchObject({ NetworkMode: 'overlay-a', PortBindings: { '9/tcp': [{ HostPort: '31000' }] } });
  });

  it('uses the host network by default, as Mesos does', () => {
    expect(dockerNetwork({ type: 'DOCKER', docker: { image: 'x' } }, [])).toEqual({
      NetworkMode: 'host',
      checkFrom: 'loopback',
    });
  });

  it('mounts volumes and persistent volumes (relative paths inside the sandbox)', () => {
    const task = dockerTask('t5', 'true', {
      container: {
        type: 'DOCKER',
        docker: { image: 'x', network: 'NONE' },
        volumes: [
          { mode: 'RO', container_path: '/etc/models', host_path: '/srv/models' },
          {
            mode: 'RW',
            container_path: 'scratch',
            source: { type: 'SANDBOX_PATH', sandbox_path: { type: 'SELF', path: 'tmp' } },
          },
          { mode: 'RW', container_path: '/cache', source: { type: 'DOCKER_VOLUME', docker_volume: { name: 'cache' } } },
        ],
      },
      resources: [
        ...(resources('cpus:1;mem:64') ?? []),
        {
          name: 'disk',
          type: 'SCALAR',
          scalar: { value: 100 },
          reservations: [{ type: 'DYNAMIC', role: 'ml', principal: 'p' }],
          disk: { persistence: { id: 'vol-1' }, volume: { mode: 'RW', container_path: 'data' } },
        },
      ],
    });
    expect(options(spec(task)).HostConfig?.Binds).toEqual([
      '/w/sandbox:/mnt/mesos/sandbox:rw',
      '/srv/models:/etc/models:ro',
      '/w/sandbox/tmp:/mnt/mesos/sandbox/scratch:rw',
      'cache:/cache:rw',
      '/w/volumes/roles/ml/vol-1:/mnt/mesos/sandbox/data:rw',
    ]);
  });

  it("runs network NONE with networking disabled, Docker's none-mode files mounted and IPv6 off", () => {
    const created = options(spec(dockerTask('t1', 'true')), NONE_FILES);
    expect(created.NetworkDisabled).toBe(true);
    expect(created.HostConfig).toMatchObject({
      NetworkMode: 'none',
      Binds: [
        '/w/sandbox:/mnt/mesos/sandbox:rw',
        '/w/meta/docker/cid-1/hosts:/etc/hosts:rw',
        '/w/meta/docker/cid-1/resolv.conf:/etc/resolv.conf:rw',
      ],
      Sysctls: { 'net.ipv6.conf.all.disable_ipv6': '1' },
    });
    // A host without IPv6 has no sysctl to set (runc would refuse to start the container).
    expect(options(spec(dockerTask('t1', 'true')), { ...NONE_FILES, ipv6: false }).HostConfig?.Sysctls).toBeUndefined();
  });

  it("leaves a task's own /etc/hosts or /etc/resolv.conf mount in place, and other networks to Docker", () => {
    const task = dockerTask('t1', 'true', {
      container: {
        type: 'DOCKER',
        docker: { image: 'x', network: 'NONE' },
        volumes: [{ host_path: '/srv/hosts', container_path: '/etc/hosts/', mode: 'RO' }],
      },
    });
    expect(options(spec(task, { grant: PERMISSIVE_GRANT }), NONE_FILES).HostConfig?.Binds).toEqual([
      '/w/sandbox:/mnt/mesos/sandbox:rw',
      '/srv/hosts:/etc/hosts/:ro',
      '/w/meta/docker/cid-1/resolv.conf:/etc/resolv.conf:rw',
    ]);
    const host = dockerTask('t2', 'true', { container: { type: 'DOCKER', docker: { image: 'x', network: 'HOST' } } });
    const created = options(spec(host), NONE_FILES);
    expect(created.NetworkDisabled).toBeUndefined();
    expect(created.HostConfig?.Binds).toEqual(['/w/sandbox:/mnt/mesos/sandbox:rw']);
    expect(created.HostConfig?.Sysctls).toBeUndefined();
  });

  it('passes supported docker parameters and refuses the others', () => {
    const withParameters = (parameters: Array<{ key: string; value: string }>) =>
      dockerTask('t6', 'true', { container: { type: 'DOCKER', docker: { image: 'x', network: 'NONE', parameters } } });
    const created = options(
      spec(
        withParameters([
          { key: 'label', value: 'a=b' },
          { key: 'env', value: 'X=1' },
          { key: 'user', value: 'nobody' },
        ]),
      ),
    );
    expect(created.Labels?.a).toBe('b');
    expect(created.Env).toContain('X=1');
    expect(created.User).toBe('nobody');
    const refused = (parameters: Array<{ key: string; value: string }>) => {
      try {
        options(spec(withParameters(parameters)));
      } catch (error) {
        return error as LaunchError;
      }
      return undefined;
    };
    expect(refused([{ key: 'pid', value: 'host' }])).toMatchObject({
      state: 'TASK_ERROR',
      reason: 'REASON_TASK_INVALID',
      message: expect.stringMatching(/'pid' is not supported \(supported: label, env, workdir, user, shm-size/),
    });
    expect(refused([{ key: 'shm-size', value: 'lots' }])?.message).toMatch(/'shm-size=lots' is invalid/);
    expect(refused([{ key: 'ulimit', value: 'memlock=2:1' }])?.message).toMatch(/'ulimit=memlock=2:1' is invalid/);
    expect(refused([{ key: 'ipc', value: 'container:other' }])?.message).toMatch(/'ipc=container:other' is invalid/);
  });

  it('passes the training knobs: /dev/shm size, IPC mode, ulimits (the last of a name wins), added capabilities', () => {
    const task = dockerTask('t7', 'true', {
      container: {
        type: 'DOCKER',
        docker: {
          image: 'x',
          network: 'NONE',
          parameters: [
            { key: 'shm-size', value: '16g' },
            { key: 'ipc', value: 'shareable' },
            { key: 'ulimit', value: 'memlock=1024' },
            { key: 'ulimit', value: 'memlock=-1:-1' },
            { key: 'ulimit', value: 'stack=67108864' },
            { key: 'cap-add', value: 'cap_ipc_lock' },
          ],
        },
      },
    });
    expect(options(spec(task)).HostConfig).toMatchObject({
      ShmSize: 16 * 1024 ** 3,
      IpcMode: 'shareable',
      Ulimits: [
        { Name: 'memlock', Soft: -1, Hard: -1 },
        { Name: 'stack', Soft: 67108864, Hard: 67108864 },
      ],
      CapAdd: ['IPC_LOCK'],
    });
    expect(options(spec(dockerTask('t8', 'true'))).HostConfig).not.toHaveProperty('ShmSize');
  });

  it('runs Docker images of MESOS containers and refuses other image types', () => {
    expect(taskImage({ type: 'MESOS', mesos: { image: { type: 'DOCKER', docker: { name: 'pytorch' } } } })).toBe(
      'pytorch',
    );
    expect(() => taskImage({ type: 'MESOS', mesos: { image: { type: 'APPC', appc: { name: 'x' } } } })).toThrow(/APPC/);
    expect(() => taskImage({ type: 'DOCKER' })).toThrow(LaunchError);
  });
});

describe('commands, environment and volumes of process tasks', () => {
  it('runs shell commands with /bin/sh -c and others as argv', () => {
    expect(processCommand({ value: 'echo $HOME' })).toEqual({ file: '/bin/sh', args: ['-c', 'echo $HOME'] });
    expect(processCommand({ shell: false, value: '/bin/echo', arguments: ['echo', 'a', 'b'] })).toEqual({
      file: '/bin/echo',
      args: ['a', 'b'],
    });
    expect(() => processCommand(undefined)).toThrow(/no command/);
    expect(() => processCommand({ shell: false })).toThrow(/executable/);
  });

  it('refuses secrets in the environment', () => {
    const task = dockerTask('t7', 'true', {
      command: { value: 'true', environment: { variables: [{ name: 'K', type: 'SECRET', secret: {} }] } },
    });
    expect(() => taskEnvironment(spec(task), '/sandbox')).toThrow(/secret/);
  });

  it('links sandbox-relative volumes and refuses what needs a mount namespace', () => {
    const mounts = taskMounts([{ mode: 'RW', container_path: 'models', host_path: '/srv/models' }], [], {
      sandbox: '/s',
      volumeDir: () => '/v',
    });
    expect(sandboxLinks(mounts)).toEqual([{ link: 'models', target: '/srv/models' }]);
    expect(() => sandboxLinks([{ source: '/srv', target: '/etc/x', readOnly: false, kind: 'host' }])).toThrow(
      /mount namespace/,
    );
    expect(() =>
      taskMounts(
        [{ mode: 'RW', container_path: 'x', source: { type: 'SANDBOX_PATH', sandbox_path: { path: '../../etc' } } }],
        [],
        {
          sandbox: '/s',
          volumeDir: () => '/v',
        },
      ),
    ).toThrow(/inside the sandbox/);
    expect(() =>
      taskMounts([{ mode: 'RW', container_path: 'x', source: { type: 'SECRET', secret: {} } }], [], {
        sandbox: '/s',
        volumeDir: () => '/v',
      }),
    ).toThrow(/SECRET volumes are not supported/);
  });
});
