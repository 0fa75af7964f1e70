/**
 * Network NONE without Docker's network code. A container created with `--network none` gets a network
 * namespace from libnetwork, and its start runs libnetwork's `libnetwork-setkey` prestart hook (dockerd's
 * own binary, executed again): 200 to 300 ms of a 450 to 650 ms start on the 2-core machine, against
 * 250 ms with networking disabled (`NetworkDisabled`, bench in docs/agent.md). A container with networking
 * disabled still gets a network namespace of its own holding only loopback (runc's default), so the agent
 * adds what `none` mode adds besides: Docker's /etc/hosts (the loopback names only) and /etc/resolv.conf
 * (the host's, less loopback nameservers), per container and writable as Docker's are, and IPv6 off
 * (libnetwork turns it off in every namespace it makes). The task sees what `docker run --network none`
 * shows it. The text is pure; writing and removing the files is the I/O.
 */
import { access, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/** Docker's /etc/hosts for a container with no address (libnetwork/etchosts's defaults). */
export const NONE_HOSTS =
  '127.0.0.1\tlocalhost\n' +
  '::1\tlocalhost ip6-localhost ip6-loopback\n' +
  'fe00::0\tip6-localnet\n' +
  'ff00::0\tip6-mcastprefix\n' +
  'ff02::1\tip6-allnodes\n' +
  'ff02::2\tip6-allrouters\n';

const LOCALHOST_NAMESERVER = /^nameserver\s+((127\.([0-9]{1,3}\.){2}[0-9]{1,3})|(::1)$)\s*\n*/gm;
const DEFAULT_NAMESERVERS = [
  'nameserver 8.8.8.8',
  'nameserver 8.8.4.4',
  'nameserver 2001:4860:4860::8888',
  'nameserver 2001:4860:4860::8844',
];

/** The resolv.conf Docker gives a container from the host's (libnetwork's FilterResolvDNS, IPv6 assumed). */
export function noneResolvConf(host: string): string {
  const cleaned = host.replace(LOCALHOST_NAMESERVER, '');
  return nameservers(cleaned).length > 0 ? cleaned : `${cleaned}\n${DEFAULT_NAMESERVERS.join('\n')}`;
}

/** systemd-resolved's stub: Docker reads the upstream servers' file instead (libnetwork/resolvconf.Path). */
export function usesResolvedStub(host: string): boolean {
  const servers = nameservers(host);
  return servers.length === 1 && servers[0] === '127.0.0.53';
}

function nameservers(resolvConf: string): string[] {
  return [...resolvConf.matchAll(/^\s*nameserver\s+(\S+)/gm)].map((match) => match[1] as string);
}

export interface NoneNetworkFiles {
  readonly hosts: string;
  readonly resolvConf: string;
}

export interface NoneNetworkOptions {
  /** Where each container's files go (one directory a container, named by its container id). */
  readonly dir: string;
  /** The host's resolv.conf (a test seam). */
  readonly resolvConf?: string;
}

const RESOLVED_UPSTREAM = '/run/systemd/resolve/resolv.conf';

export class NoneNetwork {
  private ipv6: Promise<boolean> | undefined;

  constructor(private readonly options: NoneNetworkOptions) {}

  get dir(): string {
    return this.options.dir;
  }

  /** Whether the host has IPv6 at all (else there is no sysctl to turn it off, and runc would refuse it). */
  hasIpv6(): Promise<boolean> {
    this.ipv6 ??= access('/proc/sys/net/ipv6/conf/all/disable_ipv6').then(
      () => true,
      () => false,
    );
    return this.ipv6;
  }

  /** Writes the container's hosts and resolv.conf, read from the host's as Docker does at each start. */
  async write(containerId: string): Promise<NoneNetworkFiles> {
    const source = this.options.resolvConf ?? '/etc/resolv.conf';
    let host = await readFile(source, 'utf8').catch(() => '');
    if (this.options.resolvConf === undefined && usesResolvedStub(host)) {
      host = await readFile(RESOLVED_UPSTREAM, 'utf8').catch(() => host);
    }
    const dir = join(this.options.dir, containerId);
    await mkdir(dir, { recursive: true, mode: 0o711 });
    const files = { hosts: join(dir, 'hosts'), resolvConf: join(dir, 'resolv.conf') };
    await Promise.all([
      writeFile(files.hosts, NONE_HOSTS, { mode: 0o644 }),
      writeFile(files.resolvConf, noneResolvConf(host), { mode: 0o644 }),
    ]);
    return files;
  }

  async remove(containerId: string): Promise<void> {
    await rm(join(this.options.dir, containerId), { recursive: true, force: true });
  }
}
