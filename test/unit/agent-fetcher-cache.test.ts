import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FetcherCache } from '../../agent/fetcher/cache.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mantle-fetch-cache-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A download that writes `bytes` bytes and counts itself. */
function downloader(bytes: number, counter: { count: number }) {
  return async (path: string) => {
    counter.count++;
    await writeFile(path, Buffer.alloc(bytes, 'x'));
  };
}

const read = (path: string) => readFile(path, 'utf8');

describe('the fetcher cache', () => {
  it('downloads a URI once and serves it from the cache afterwards', async () => {
    const cache = new FetcherCache(join(dir, 'cache'), 1000);
    await cache.reset();
    const counter = { count: 0 };
    const first = await cache.use('http://h/a', downloader(10, counter), async (path, hit) => ({
      hit,
      body: await read(path),
    }));
    const second = await cache.use('http://h/a', downloader(10, counter), async (_path, hit) => hit);
    expect(first).toEqual({ hit: false, body: 'x'.repeat(10) });
    expect(second).toBe(true);
    expect(counter.count).toBe(1);
    expect(cache.usedBytes).toBe(10);
  });

  it('shares one download between fetches of the same URI at once', async () => {
    const cache = new FetcherCache(join(dir, 'cache'), 1000);
    await cache.reset();
    const counter = { count: 0 };
    const hits = await Promise.all(
      [1, 2, 3].map(() => cache.use('http://h/a', downloader(10, counter), async (path) => read(path))),
    );
    expect(hits).toEqual(['x'.repeat(10), 'x'.repeat(10), 'x'.repeat(10)]);
    expect(counter.count).toBe(1);
  });

  it('evicts the least recently used entries to stay within its size', async () => {
    const cache = new FetcherCache(join(dir, 'cache'), 250);
    await cache.reset();
    const counter = { count: 0 };
    const use = (uri: string) => cache.use(uri, downloader(100, counter), async (_path, hit) => hit);
    await use('a');
    await use('b');
    expect(await use('a')).toBe(true); // a is now the most recent
    await use('c'); // evicts b
    expect(cache.usedBytes).toBe(200);
    expect(await use('a')).toBe(true);
    expect(await use('b')).toBe(false);
    expect(counter.count).toBe(4);
    expect((await readdir(join(dir, 'cache'))).length).toBe(2);
  });

  it('uses a file larger than the cache once without keeping it, and keeps nothing of a failed download', async () => {
    const cache = new FetcherCache(join(dir, 'cache'), 50);
    await cache.reset();
    const counter = { count: 0 };
    const body = await cache.use('big', downloader(100, counter), async (path) => read(path));
    expect(body.length).toBe(100);
    await expect(
      cache.use(
        'broken',
        async (path) => {
          await writeFile(path, 'partial');
          throw new Error('connection reset');
        },
        async () => undefined,
      ),
    ).rejects.toThrow('connection reset');
    expect(await readdir(join(dir, 'cache'))).toEqual([]);
    expect(cache.usedBytes).toBe(0);
  });

  it('starts empty: reset removes what an earlier agent left', async () => {
    const cache = new FetcherCache(join(dir, 'cache'), 1000);
    await cache.reset();
    await writeFile(join(dir, 'cache', 'stale'), 'old');
    await cache.reset();
    expect(await readdir(join(dir, 'cache'))).toEqual([]);
  });
});
