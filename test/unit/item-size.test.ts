/**
 * The meters' item sizes (test/support/item-size.ts) and statement parsing (bench/support/partiql.ts), against
 * DynamoDB's documented sizing and the statements the registrar writes.
 */
import { describe, expect, it } from 'vitest';
import { insertedItem, statementTable, updatedKey } from '../../bench/support/partiql.js';
import { itemSize, writeUnits } from '../support/item-size.js';

describe('item sizes as DynamoDB bills them', () => {
  it('sizes names and values', () => {
    // "a" + "xyz", "n" + 12345 (three bytes of digits and one), "b" + true, "l" + ["x"] (3 + 1 + 1).
    expect(itemSize({ a: 'xyz', n: 12345, b: true, l: ['x'] })).toBe(4 + 5 + 2 + 6);
    expect(itemSize({ m: { k: 'v' } })).toBe(1 + 3 + 2 + 1);
  });

  it('bills at least a unit, a unit per KB of the larger item', () => {
    expect(writeUnits({ a: 'x' })).toBe(1);
    expect(writeUnits(undefined)).toBe(1);
    expect(writeUnits({ a: 'x'.repeat(1500) }, { a: 'x' })).toBe(2);
  });

  it("reads a statement's table, an INSERT's item and an UPDATE's key", () => {
    expect(statementTable('UPDATE "c-tasks" SET "state" = ? WHERE "task_id" = ?')).toBe('c-tasks');
    expect(insertedItem(`INSERT INTO "t" VALUE {'k': ?, 'it''s': ?}`, ['a', 2])).toEqual({ k: 'a', "it's": 2 });
    expect(insertedItem('UPDATE "t" SET "v" = ? WHERE "k" = ?', [1, 'a'])).toBeUndefined();
    const update =
      'UPDATE "t" SET "v" = ? SET "w" = ? WHERE "s" = ? AND "k" = ? AND "state" IN [?, ?] AND "version" = ?';
    expect(updatedKey(update, [1, 2, 'shard', 'key', 'A', 'B', 7], ['s', 'k'])).toEqual({ s: 'shard', k: 'key' });
    expect(updatedKey(update, [1, 2, 'shard', 'key', 'A', 'B', 7], ['s', 'missing'])).toBeUndefined();
  });
});
