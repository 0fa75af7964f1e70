/**
 * The fetcher refuses the `--block_metadata` addresses itself (it downloads outside the tasks' firewall): a URI
 * naming one, and a redirect leading to one, against real loopback servers standing in for the metadata service.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { blockedReason, isBlocked } from '../../agent/fetcher/blocked-hosts.js';
import { download, FetchError } from '../../agent/fetcher/download.js';
import { S3Objects } from '../../agent/fetcher/s3.js';
import { parseMetadataTarget, type MetadataTarget } from '../../agent/isolation/firewall-rules.js';
import { ROOT_GRANT } from '../support/agent.js';

let metadata: Server;
let other: Server;
let dir: string;
let blocked: MetadataTarget;
const url = (server: Server, path = '/') => `http://127.0.0.1:${(server.address() as AddressInfo).port}${path}`;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'fetch-blocked-'));
  metadata = createServer((_req, res) => res.end('AKIA-secret'));
  other = createServer((req, res) => {
    if (req.url === '/to-metadata') {
      res.writeHead(302, { Location: url(metadata, '/latest/meta-data/') });
      res.end();
    } else res.end('fine');
  });
  await Promise.all([metadata, other].map((s) => new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve))));
  const parsed = parseMetadataTarget(`127.0.0.1:${(metadata.address() as AddressInfo).port}`);
  if (!parsed.ok) throw new Error(parsed.error);
  blocked = parsed.value;
});

afterAll(async () => {
  for (const server of [metadata, other]) server.close();
  await rm(dir, { recursive: true, force: true });
});

const options = () => ({
  signal: new AbortController().signal,
  stallTimeoutMs: 5_000,
  grant: ROOT_GRANT,
  protectedPaths: [],
  blocked: [blocked],
  s3: new S3Objects({}),
});

describe('the fetcher and the metadata service', () => {
  it('matches blocked addresses by address and port, IPv4-mapped IPv6 included', () => {
    const imds: MetadataTarget = { address: '169.254.169.254', family: 4 };
    expect(isBlocked('169.254.169.254', 80, [imds])).toBe(true);
    expect(isBlocked('::ffff:169.254.169.254', 8080, [imds])).toBe(true);
    expect(isBlocked('169.254.169.253', 80, [imds])).toBe(false);
    expect(isBlocked('fd00:ec2:0::254', 80, [{ address: 'fd00:ec2::254', family: 6 }])).toBe(true);
    expect(isBlocked('127.0.0.1', 81, [{ address: '127.0.0.1', family: 4, port: 80 }])).toBe(false);
  });

  it('refuses a URI whose host is, or resolves to, a blocked address; nothing blocked, nothing refused', async () => {
    expect(await blockedReason(new URL(url(metadata)), [blocked])).toMatch(/instance metadata service/);
    const byName = new URL(url(metadata).replace('127.0.0.1', 'localhost'));
    const localhost = await blockedReason(byName, [blocked]);
    // localhost may resolve to ::1 only on some hosts; where it gives 127.0.0.1 it is refused.
    if (localhost !== undefined) expect(localhost).toMatch(/--block_metadata/);
    expect(await blockedReason(new URL(url(metadata)), [])).toBeUndefined();
  });

  it('downloads from elsewhere, and refuses the metadata service named or reached by a redirect', async () => {
    await download({ scheme: 'http', url: url(other) }, join(dir, 'fine'), options());
    expect(await readFile(join(dir, 'fine'), 'utf8')).toBe('fine');
    await expect(download({ scheme: 'http', url: url(metadata) }, join(dir, 'direct'), options())).rejects.toThrow(
      FetchError,
    );
    const redirected = download({ scheme: 'http', url: url(other, '/to-metadata') }, join(dir, 'hop'), options());
    await expect(redirected).rejects.toThrow(/refused: .*instance metadata service/);
    await expect(readFile(join(dir, 'hop'))).rejects.toThrow();
  });
});
