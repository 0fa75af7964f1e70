import { describe, expect, it } from 'vitest';
import { chunks, groupBy, mapConcurrently } from '#shared/collections.js';

describe('groupBy', () => {
  it('groups by key, keeping order within each group', () => {
    expect([...groupBy(['a1', 'b1', 'a2'], (s) => s[0] as string)]).toEqual([
      ['a', ['a1', 'a2']],
      ['b', ['b1']],
    ]);
  });
});

describe('chunks', () => {
  it('cuts items into consecutive groups of at most the size, the last one shorter, none for none', () => {
    expect(chunks([1, 2, 3, 4, 5], 2)).toEqual([[1, 2], [3, 4], [5]]);
    expect(chunks([1, 2], 25)).toEqual([[1, 2]]);
    expect(chunks([], 25)).toEqual([]);
  });
});

describe('mapConcurrently', () => {
  it('answers in the items’ order and never runs more than the limit at once', async () => {
    let running = 0;
    let most = 0;
    const results = await mapConcurrently([30, 5, 20, 1, 10, 2], 3, async (ms, index) => {
      running++;
      most = Math.max(most, running);
      await new Promise((resolve) => setTimeout(resolve, ms));
      running--;
      return `${index}:${ms}`;
    });
    expect(results).toEqual(['0:30', '1:5', '2:20', '3:1', '4:10', '5:2']);
    expect(most).toBe(3);
  });

  it('rejects with the first failure, and answers an empty list for no items', async () => {
    await expect(
      mapConcurrently([1, 2, 3], 2, async (n) => {
        if (n === 2) throw new Error('two');
        return n;
      }),
    ).rejects.toThrow('two');
    expect(await mapConcurrently([], 4, async () => 1)).toEqual([]);
  });
});
