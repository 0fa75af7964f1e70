/**
 * What DynamoDB bills a write of a PartiQL statement, for the cost test's meter: DynamoDB Local reports no consumed
 * capacity for BatchExecuteStatement, while AWS bills each statement as the single write it stands for, one unit per
 * KB of the item (the larger of its sizes before and after), at least one, refused writes included. Item sizes as
 * AWS documents them: each attribute's name in UTF-8 bytes plus its value; a string its UTF-8 bytes, a number about
 * one byte per two significant digits plus one, a boolean or null one byte, a list or map three bytes plus each
 * element and one byte per element.
 */
const KB = 1024;

function valueSize(value: unknown): number {
  if (value === null || value === undefined || typeof value === 'boolean') return 1;
  if (typeof value === 'string') return Buffer.byteLength(value, 'utf8');
  if (typeof value === 'number') {
    const digits = String(Math.abs(value))
      .replace(/[.\-e+]/g, '')
      .replace(/^0+/, '').length;
    return Math.ceil(Math.max(digits, 1) / 2) + 1;
  }
  if (value instanceof Uint8Array) return value.byteLength;
  if (Array.isArray(value) || value instanceof Set) return 3 + [...value].reduce((sum, v) => sum + valueSize(v) + 1, 0);
  return 3 + itemSize(value as Record<string, unknown>) + Object.keys(value as object).length;
}

export function itemSize(item: Record<string, unknown>): number {
  return Object.entries(item).reduce(
    (sum, [name, value]) => sum + Buffer.byteLength(name, 'utf8') + valueSize(value),
    0,
  );
}

export function writeUnits(...items: ReadonlyArray<Record<string, unknown> | undefined>): number {
  const largest = Math.max(0, ...items.map((item) => (item ? itemSize(item) : 0)));
  return Math.max(1, Math.ceil(largest / KB));
}
