/**
 * Items as this process read them lately, by key: what `recent-agents.ts` and `recent-frameworks.ts` keep. Callers
 * asking for a key while it is being read share that read; a read is kept only if nothing `forget`s its key
 * meanwhile (a write this process made overtook it), for as long as the caller's `keepFor` says. Bounded.
 */

/** Bounds the memory a process with very many items spends on this. */
const MAX_ENTRIES = 10_000;

export class RecentReads<V> {
  private readonly entries = new Map<string, { readonly value: V; readonly until: number }>();
  private readonly reading = new Map<string, Promise<V>>();

  /** `keepFor`: how long a value read is kept, in ms (Infinity: for good; undefined: not kept). */
  constructor(
    private readonly read: (key: string) => Promise<V>,
    private readonly keepFor: (value: V) => number | undefined,
    private readonly now: () => number,
  ) {}

  /** The value as read within its time, or read now (shared with the callers asking meanwhile). */
  get(key: string): Promise<V> {
    const now = this.now();
    const kept = this.entries.get(key);
    if (kept && kept.until > now) return Promise.resolve(kept.value);
    const shared = this.reading.get(key);
    if (shared) return shared;
    const read = this.read(key).then((value) => {
      const ms = this.keepFor(value);
      if (ms !== undefined && this.reading.get(key) === read) {
        if (this.entries.size >= MAX_ENTRIES) this.entries.clear();
        this.entries.set(key, { value, until: now + ms });
      }
      return value;
    });
    const done = () => {
      if (this.reading.get(key) === read) this.reading.delete(key);
    };
    read.then(done, done);
    this.reading.set(key, read);
    return read;
  }

  /** Drops what was kept or is being read of the key: the next `get` reads it. */
  forget(key: string): void {
    this.entries.delete(key);
    this.reading.delete(key);
  }
}
