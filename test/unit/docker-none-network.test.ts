import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  NONE_HOSTS,
  NoneNetwork,
  noneResolvConf,
  usesResolvedStub,
} from '../../agent/containerizer/docker-none-network.js';

describe("Docker's none-mode resolv.conf", () => {
  it("keeps the host's file less its loopback nameservers", () => {
    expect(noneResolvConf('nameserver 10.255.255.53\n')).toBe('nameserver 10.255.255.53\n');
    expect(noneResolvConf('search example.com\nnameserver 127.0.0.1\nnameserver 10.0.0.2\noptions ndots:2\n')).toBe(
      'search example.com\nnameserver 10.0.0.2\noptions ndots:2\n',
    );
  });

  it("falls back to Docker's default servers when only loopback ones were there", () => {
    expect(noneResolvConf('nameserver 127.0.0.11\nnameserver ::1\n')).toBe(
      '\nnameserver 8.8.8.8\nnameserver 8.8.4.4\nnameserver 2001:4860:4860::8888\nnameserver 2001:4860:4860::8844',
    );
  });

  it("reads systemd-resolved's upstream file in place of its stub", () => {
    expect(usesResolvedStub('nameserver 127.0.0.53\noptions edns0 trust-ad\n')).toBe(true);
    expect(usesResolvedStub('nameserver 127.0.0.53\nnameserver 10.0.0.2\n')).toBe(false);
    expect(usesResolvedStub('nameserver 10.0.0.2\n')).toBe(false);
  });
});

describe('the none-mode files of a container', () => {
  let dir: string | undefined;
  afterEach(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('writes them per container and removes them with it', async () => {
    dir = await mkdtemp(join(tmpdir(), 'mantle-none-'));
    const resolvConf = join(dir, 'host-resolv.conf');
    await writeFile(resolvConf, 'nameserver 127.0.0.1\nnameserver 10.1.2.3\n');
    const none = new NoneNetwork({ dir: join(dir, 'docker'), resolvConf });
    const files = await none.write('c1');
    expect(files).toEqual({
      hosts: join(dir, 'docker', 'c1', 'hosts'),
      resolvConf: join(dir, 'docker', 'c1', 'resolv.conf'),
    });
    expect(await readFile(files.hosts, 'utf8')).toBe(NONE_HOSTS);
    expect(await readFile(files.resolvConf, 'utf8')).toBe('nameserver 10.1.2.3\n');
    await none.write('c2');
    await none.remove('c1');
    expect(await readdir(join(dir, 'docker'))).toEqual(['c2']);
  });
});
