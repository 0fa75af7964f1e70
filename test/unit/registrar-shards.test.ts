import { describe, expect, it } from 'vitest';
import { SHARDS, shardKey, shardKeys, shardOf } from '../../functions/registrar/shards.js';

describe("a framework's write shards", () => {
  it('puts an id in the same shard in every process and release (the tables are laid out by it)', () => {
    expect(['task-1', 'agent-0-S1', 'scale-0-0', ''].map((id) => shardOf(id))).toEqual([6, 14, 25, 5]);
    expect(shardKey('fw-1', 6)).toBe('fw-1#6');
    expect(shardKeys('fw-1')).toHaveLength(SHARDS);
    expect(new Set(shardKeys('fw-1')).size).toBe(SHARDS);
  });

  it("spreads a framework's sequential ids evenly: no shard takes much more than its share", () => {
    const counts = new Array<number>(SHARDS).fill(0);
    for (let i = 0; i < 10_000; i++) {
      const shard = shardOf(`scale-0-${i}`);
      counts[shard] = (counts[shard] ?? 0) + 1;
    }
    const share = 10_000 / SHARDS;
    expect(Math.max(...counts)).toBeLessThan(share * 1.15);
    expect(Math.min(...counts)).toBeGreaterThan(share * 0.85);
  });
});
