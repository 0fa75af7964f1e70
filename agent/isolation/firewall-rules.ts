/**
 * The metadata firewall's rules (firewall.ts installs them): the `--block_metadata` addresses parsed,
 * the iptables/ip6tables rules for them and the task cgroup subtrees, and which rules of a listing are
 * this agent's. Pure.
 */
import { isIP } from 'node:net';
import { err, ok, type Result } from '#shared/result.js';

export const RULE_COMMENT = 'mantle-agent';

export interface MetadataTarget {
  readonly address: string;
  readonly family: 4 | 6;
  readonly port?: number;
}

/** `169.254.169.254`, `169.254.169.254:80`, `fd00:ec2::254`, `[fd00:ec2::254]:80`. Pure. */
export function parseMetadataTarget(text: string): Result<MetadataTarget, string> {
  const trimmed = text.trim();
  let address = trimmed;
  let port: string | undefined;
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(trimmed);
  if (bracketed) {
    address = bracketed[1] as string;
    port = bracketed[2];
  } else if (isIP(trimmed) === 0 && /^[^:]+:\d+$/.test(trimmed)) {
    [address, port] = trimmed.split(':') as [string, string];
  }
  const family = isIP(address);
  if (family === 0) return err(`'${text}' is not an IP address, address:port or [IPv6]:port`);
  const target: MetadataTarget = { address: canonical(address, family), family: family as 4 | 6 };
  if (port === undefined) return ok(target);
  const number = Number(port);
  if (!Number.isInteger(number) || number < 1 || number > 65535) return err(`'${text}' has no valid port`);
  return ok({ ...target, port: number });
}

export function parseMetadataTargets(list: readonly string[]): Result<MetadataTarget[], string> {
  const targets: MetadataTarget[] = [];
  for (const entry of list) {
    const parsed = parseMetadataTarget(entry);
    if (!parsed.ok) return err(`--block_metadata: ${parsed.error}`);
    targets.push(parsed.value);
  }
  return ok(targets);
}

/** The address as iptables prints it (IPv6 compressed, lower case). */
function canonical(address: string, family: number): string {
  return family === 6 ? new URL(`http://[${address}]/`).hostname.slice(1, -1) : address;
}

export interface Rule {
  readonly binary: 'iptables' | 'ip6tables';
  readonly chain: 'OUTPUT' | 'FORWARD';
  /** What follows the chain name in `-I <chain> 1 ...` and `-D <chain> ...`. */
  readonly spec: readonly string[];
}

export function binaryOf(target: MetadataTarget): Rule['binary'] {
  return target.family === 6 ? 'ip6tables' : 'iptables';
}

/** The subtree as the cgroup match takes it: relative to the cgroup2 root. */
function matchPath(subtree: string): string {
  return subtree.replace(/^\/+/, '');
}

/** Every rule for these targets and subtrees. Pure. */
export function firewallRules(targets: readonly MetadataTarget[], subtrees: readonly string[]): Rule[] {
  const rules: Rule[] = [];
  for (const target of targets) {
    const match = [
      '-d',
      target.address,
      ...(target.port !== undefined ? ['-p', 'tcp', '--dport', String(target.port)] : []),
    ];
    const end = ['-m', 'comment', '--comment', RULE_COMMENT, '-j', 'REJECT'];
    for (const subtree of subtrees) {
      rules.push({
        binary: binaryOf(target),
        chain: 'OUTPUT',
        spec: [...match, '-m', 'cgroup', '--path', matchPath(subtree), ...end],
      });
    }
    rules.push({ binary: binaryOf(target), chain: 'FORWARD', spec: [...match, ...end] });
  }
  return rules;
}

/**
 * The rules of `<binary> -S <chain>` that are this agent's: the comment, and on OUTPUT one of its
 * subtrees, on FORWARD one of its addresses (as `-D` arguments after the chain). Pure.
 */
export function ownRules(
  listing: string,
  chain: Rule['chain'],
  targets: readonly MetadataTarget[],
  subtrees: readonly string[],
): string[][] {
  const paths = new Set(subtrees.map(matchPath));
  const addresses = new Set(targets.map((target) => target.address));
  const own: string[][] = [];
  for (const line of listing.split('\n')) {
    const tokens = line.trim().split(/\s+/);
    if (tokens[0] !== '-A' || tokens[1] !== chain) continue;
    const value = (flag: string) => {
      const at = tokens.indexOf(flag);
      return at < 0 ? undefined : tokens[at + 1];
    };
    if (value('--comment') !== RULE_COMMENT) continue;
    const ours =
      chain === 'OUTPUT'
        ? paths.has(matchPath(value('--path') ?? ''))
        : addresses.has((value('-d') ?? '').replace(/\/(32|128)$/, ''));
    if (ours) own.push(tokens.slice(2));
  }
  return own;
}
