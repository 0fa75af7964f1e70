/**
 * The Docker parameters Mantle passes and who may pass them (shared/protocol/docker-parameters.ts): sizes
 * and ulimits as Docker reads them, and the rules the master's ACL and the agent's grant share.
 */
import { describe, expect, it } from 'vitest';
import { PERMISSIVE_ACL, SAFE_ACL } from '#shared/acl.js';
import {
  dockerParameterRefusal,
  parseDockerSize,
  parseUlimit,
  type DockerParameterRules,
} from '#shared/protocol/docker-parameters.js';
import { PERMISSIVE_GRANT, SAFE_GRANT } from '#shared/protocol/internal.js';

const p = (key: string, value: string) => ({ key, value });

describe('Docker sizes and ulimits', () => {
  it.each([
    ['256m', 256 * 1024 ** 2],
    ['16g', 16 * 1024 ** 3],
    ['16GB', 16 * 1024 ** 3],
    ['1.5g', 1.5 * 1024 ** 3],
    ['512k', 512 * 1024],
    ['67108864', 67108864],
    ['2t', 2 * 1024 ** 4],
  ])('reads %s as %d bytes', (text, bytes) => {
    expect(parseDockerSize(text)).toBe(bytes);
  });

  it.each(['', 'lots', '-1g', '0', '16x', '1e9'])('refuses %j as a size', (text) => {
    expect(parseDockerSize(text)).toBeUndefined();
  });

  it('reads name=soft[:hard] with -1 or unlimited for no limit', () => {
    expect(parseUlimit('memlock=-1:-1')).toEqual({ Name: 'memlock', Soft: -1, Hard: -1 });
    expect(parseUlimit('memlock=-1')).toEqual({ Name: 'memlock', Soft: -1, Hard: -1 });
    expect(parseUlimit('stack=67108864')).toEqual({ Name: 'stack', Soft: 67108864, Hard: 67108864 });
    expect(parseUlimit('nofile=1024:65536')).toEqual({ Name: 'nofile', Soft: 1024, Hard: 65536 });
    expect(parseUlimit('nofile=1024:unlimited')).toEqual({ Name: 'nofile', Soft: 1024, Hard: -1 });
  });

  it.each(['memlock', 'bogus=1', 'nofile=2:1', 'nofile=-1:10', 'nofile=x', 'stack=1:2:3', 'MEMLOCK=1'])(
    'refuses the ulimit %j',
    (text) => {
      expect(parseUlimit(text)).toBeUndefined();
    },
  );
});

describe('who may pass which parameter', () => {
  const training = [
    p('shm-size', '64g'),
    p('ulimit', 'memlock=-1:-1'),
    p('ulimit', 'stack=67108864'),
    p('ulimit', 'nofile=1048576'),
    p('ipc', 'private'),
    p('ipc', 'shareable'),
    p('cap-add', 'CHOWN'),
    p('label', 'a=b'),
  ];

  it('lets the safe defaults use the PyTorch knobs that stay inside the container', () => {
    expect(dockerParameterRefusal(training, SAFE_ACL)).toBeUndefined();
    expect(dockerParameterRefusal(training, SAFE_GRANT)).toBeUndefined();
  });

  it.each([
    [[p('ipc', 'host')], 'ipc_modes', "use the IPC mode 'host'"],
    [[p('ulimit', 'rtprio=99')], 'ulimits', "set the ulimit 'rtprio'"],
    [[p('ulimit', 'nproc=100')], 'ulimits', "set the ulimit 'nproc'"],
    [[p('cap-add', 'sys_admin')], 'capabilities', 'add the capability SYS_ADMIN'],
    [[p('cap-add', 'ALL')], 'capabilities', 'add the capability ALL'],
    [[p('pid', 'host')], 'docker_parameters', "pass the Docker parameter 'pid'"],
    [[p('cap_add', 'NET_ADMIN')], 'docker_parameters', "pass the Docker parameter 'cap_add'"],
  ])('refuses %j under the safe defaults (%s)', (parameters, setting, what) => {
    for (const rules of [SAFE_ACL, SAFE_GRANT] as DockerParameterRules[]) {
      expect(dockerParameterRefusal(parameters, rules)).toEqual({ setting, what });
    }
    expect(dockerParameterRefusal(parameters, PERMISSIVE_ACL)).toBeUndefined();
    expect(dockerParameterRefusal(parameters, PERMISSIVE_GRANT)).toBeUndefined();
  });

  it('bounds /dev/shm by max_shm_size_mb when the ACL sets one', () => {
    const rules = { ...SAFE_GRANT, max_shm_size_mb: 1024 };
    expect(dockerParameterRefusal([p('shm-size', '1g')], rules)).toBeUndefined();
    expect(dockerParameterRefusal([p('shm-size', '1025m')], rules)).toEqual({
      setting: 'max_shm_size_mb',
      what: 'use a /dev/shm of 1025m (at most 1024 MB)',
    });
  });

  it('grants by name, or all with *', () => {
    const rules = { ...SAFE_GRANT, capabilities: ['IPC_LOCK'], ipc_modes: ['host'], ulimits: ['*'] };
    expect(
      dockerParameterRefusal([p('cap-add', 'CAP_IPC_LOCK'), p('ipc', 'host'), p('ulimit', 'rtprio=1')], rules),
    ).toBeUndefined();
    expect(dockerParameterRefusal([p('cap-add', 'NET_ADMIN')], rules)?.setting).toBe('capabilities');
  });
});
