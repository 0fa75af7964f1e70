/**
 * The fetcher's share of the metadata firewall (`--block_metadata`): the agent downloads as itself, outside the
 * tasks' cgroups, so the firewall that keeps tasks from the instance metadata service does not hold it. A URI
 * (or a redirect) that leads to a blocked address would put the instance role's credentials in the task's
 * sandbox; it is refused instead. Addresses are checked as resolved just before the request (a name that
 * resolves differently a moment later is not caught: the firewall stays the main guard).
 */
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import type { MetadataTarget } from '../isolation/firewall-rules.js';

/** `::ffff:169.254.169.254` is the IPv4 address; IPv6 compressed and lower case, as the targets are. */
function canonical(address: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return mapped[1] as string;
  return isIP(address) === 6 ? new URL(`http://[${address}]/`).hostname.slice(1, -1) : address;
}

/** Whether `address` on `port` is one of the blocked targets. Pure. */
export function isBlocked(address: string, port: number, targets: readonly MetadataTarget[]): boolean {
  const seen = canonical(address);
  return targets.some((target) => target.address === seen && (target.port === undefined || target.port === port));
}

/** The addresses `url`'s host stands for: itself when it is one, else what the resolver answers. */
async function addressesOf(url: URL): Promise<string[]> {
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  if (isIP(host) !== 0) return [host];
  return (await lookup(host, { all: true })).map((answer) => answer.address);
}

/** Undefined when `url` may be fetched; else why not. */
export async function blockedReason(url: URL, targets: readonly MetadataTarget[]): Promise<string | undefined> {
  if (targets.length === 0) return undefined;
  const port = Number(url.port || (url.protocol === 'https:' ? 443 : 80));
  const addresses = await addressesOf(url).catch(() => []);
  const blocked = addresses.find((address) => isBlocked(address, port, targets));
  return blocked === undefined
    ? undefined
    : `${url.host} is ${blocked}, the instance metadata service, which tasks may not reach (--block_metadata)`;
}
