/**
 * The fetcher's cache (Mesos's fetcher cache, docs/fetcher-cache-internals.md): URIs fetched with
 * `cache: true` are kept on the agent under `<work_dir>/fetch`, keyed by the URI, up to
 * `--fetcher_cache_size` bytes; the least recently used entries go first when a new one needs room. A URI
 * that several tasks fetch at once is downloaded once. An entry is pinned while a task copies it out, so
 * eviction never pulls it away mid-copy. A file larger than the whole cache is used for its fetch and not
 * kept. Cleared when the agent starts, as Mesos clears it: its content was never checkpointed.
 */
import { createHash, randomUUID } from 'node:crypto';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';

interface Entry {
  readonly path: string;
  readonly size: number;
  pins: number;
}

export class FetcherCache {
  /** Insertion order is recency: a hit moves its entry to the end. */
  private readonly entries = new Map<string, Entry>();
  private readonly downloading = new Map<string, Promise<Entry>>();
  private used = 0;

  constructor(
    readonly directory: string,
    readonly capacity: number,
  ) {}

  /** Empties the cache directory (at agent start). */
  async reset(): Promise<void> {
    await rm(this.directory, { recursive: true, force: true });
    await mkdir(this.directory, { recursive: true, mode: 0o700 });
  }

  get usedBytes(): number {
    return this.used;
  }

  /**
   * Runs `consume` on the cached file of `uri`, downloading it first (through `download`, into the path
   * it is given) when the cache does not hold it. `hit` tells whether the cache had it.
   */
  async use<T>(
    uri: string,
    download: (path: string) => Promise<void>,
    consume: (path: string, hit: boolean) => Promise<T>,
  ): Promise<T> {
    const key = createHash('sha256').update(uri).digest('hex');
    let entry = this.entries.get(key);
    const hit = entry !== undefined;
    if (entry) {
      this.entries.delete(key);
      this.entries.set(key, entry);
    } else {
      let pending = this.downloading.get(key);
      if (!pending) {
        pending = this.admit(key, download).finally(() => this.downloading.delete(key));
        this.downloading.set(key, pending);
      }
      entry = await pending;
    }
    entry.pins++;
    try {
      return await consume(entry.path, hit);
    } finally {
      entry.pins--;
      if (!this.entries.has(key) && entry.pins === 0) await rm(entry.path, { force: true });
    }
  }

  private async admit(key: string, download: (path: string) => Promise<void>): Promise<Entry> {
    // Each entry has its own file: a pinned, evicted entry and its fresh download never share a path.
    const path = join(this.directory, `${key}.${randomUUID()}`);
    const partial = `${path}.partial`;
    try {
      await download(partial);
    } catch (error) {
      await rm(partial, { force: true });
      throw error;
    }
    const { size } = await stat(partial);
    // Too big to keep: used by this fetch alone, removed once consumed (it is never in `entries`).
    if (size > this.capacity) return { path: partial, size, pins: 0 };
    await this.evict(size);
    await rename(partial, path);
    const entry: Entry = { path, size, pins: 0 };
    this.entries.set(key, entry);
    this.used += size;
    return entry;
  }

  /** Drops least recently used entries until `size` more bytes fit; a pinned one goes once released. */
  private async evict(size: number): Promise<void> {
    for (const [key, entry] of this.entries) {
      if (this.used + size <= this.capacity) return;
      this.entries.delete(key);
      this.used -= entry.size;
      if (entry.pins === 0) await rm(entry.path, { force: true });
    }
  }
}
