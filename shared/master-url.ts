/**
 * Where the master is, named the ways Mesos users name it: `host:port` (`mesos-execute
 * --master=127.0.0.1:5050`), a bare host (port 5050, Mesos's default), Mesos's `master@host:port`, or an
 * `http(s)://host[:port][/path]` URL (an API Gateway stage has a path). The flag wins over MANTLE_MASTER,
 * which wins over MESOS_MASTER. One parser for every command and the SDK. Pure.
 */
import { err, ok, type Result } from './result.js';

export const DEFAULT_MASTER_PORT = 5050;

/** Where a master came from, in the words an error message uses. */
export type MasterSource = '--master' | 'MANTLE_MASTER' | 'MESOS_MASTER' | 'the default' | 'the master option';

const HOST_PORT = /^(\[[0-9A-Fa-f:.]+\]|[^\s:/?#[\]@]+)(?::(\d*))?$/;

function hostAndPort(text: string): Result<string, string> {
  const match = HOST_PORT.exec(text);
  if (!match?.[1]) {
    if (/^[0-9A-Fa-f]*:[0-9A-Fa-f]*:/.test(text)) return err('an IPv6 address goes in brackets: [::1]:5050');
    return err('expected host:port or http(s)://host:port');
  }
  const port = match[2] === undefined ? DEFAULT_MASTER_PORT : Number(match[2]);
  if (match[2] === '' || !Number.isInteger(port) || port < 1 || port > 65_535) {
    return err(`the port must be 1 to 65535, not '${match[2] ?? ''}'`);
  }
  return httpUrl(`http://${match[1]}:${port}`);
}

function httpUrl(text: string): Result<string, string> {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return err('not a valid URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return err('expected host:port or http(s)://host:port');
  if (url.hostname === '') return err('no host');
  if (url.username || url.password) {
    return err(
      'credentials do not go in the URL: use --principal and --secret (or MANTLE_PRINCIPAL and MANTLE_SECRET)',
    );
  }
  if (url.search || url.hash) return err('a master URL has no query or fragment');
  return ok(`${url.origin}${url.pathname.replace(/\/+$/, '')}`);
}

/** The master's base URL (no trailing slash) for what a user typed, or why it cannot be one. */
export function parseMasterUrl(text: string): Result<string, string> {
  const trimmed = text.trim();
  if (trimmed === '') return err('empty');
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//.exec(trimmed)?.[1]?.toLowerCase();
  if (scheme === 'zk') {
    return err(
      'ZooKeeper (zk://) is not supported: a Mantle master is not elected, so name it directly ' +
        '(host:port or http(s)://host:port)',
    );
  }
  if (scheme === undefined) return hostAndPort(trimmed.replace(/^master@/, ''));
  if (scheme !== 'http' && scheme !== 'https') {
    return err(`${scheme}:// is not supported: name the master as host:port or http(s)://host:port`);
  }
  return httpUrl(trimmed);
}

export interface MasterChoice {
  /** The --master flag (or the SDK's option), when given. */
  readonly given?: string | undefined;
  readonly givenAs?: MasterSource;
  readonly env: NodeJS.ProcessEnv;
  /** Used when neither the flag nor the environment names one; without it a master is required. */
  readonly fallback?: string;
}

/** The master named by the flag, else MANTLE_MASTER, else MESOS_MASTER, else the fallback. */
export function resolveMaster(choice: MasterChoice): Result<string, string> {
  const candidates: Array<[MasterSource, string | undefined]> = [
    [choice.givenAs ?? '--master', choice.given],
    ['MANTLE_MASTER', choice.env.MANTLE_MASTER],
    ['MESOS_MASTER', choice.env.MESOS_MASTER],
    ['the default', choice.fallback],
  ];
  const found = candidates.find(([, value]) => value !== undefined && value !== '');
  if (!found) return err('no master: give --master host:port, or set MANTLE_MASTER or MESOS_MASTER');
  const [source, value] = found as [MasterSource, string];
  const parsed = parseMasterUrl(value);
  if (!parsed.ok) return err(`${source} '${value}': ${parsed.error}`);
  return parsed;
}

/**
 * Whether a failed fetch failed for a reason that retrying cannot fix: the host does not exist
 * (getaddrinfo ENOTFOUND; EAI_AGAIN, a resolver that did not answer, is worth retrying).
 */
export function permanentFetchFailure(error: unknown): string | undefined {
  const cause = (error as { cause?: { code?: unknown; hostname?: unknown } } | undefined)?.cause;
  if (cause?.code === 'ENOTFOUND') {
    return `unknown host '${typeof cause.hostname === 'string' ? cause.hostname : '?'}'`;
  }
  return undefined;
}
