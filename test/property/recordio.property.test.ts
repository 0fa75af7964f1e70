import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { encodeRecord, RecordIODecoder } from '#shared/protocol/recordio.js';

function concat(parts: Uint8Array[]): Uint8Array {
  const total = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let at = 0;
  for (const part of parts) {
    total.set(part, at);
    at += part.byteLength;
  }
  return total;
}

describe('RecordIO', () => {
  it('encodes as Mesos does: byte length, newline, payload, nothing after', () => {
    const payload = '{"type":"HEARTBEAT"}';
    expect(new TextDecoder().decode(encodeRecord(payload))).toBe(`20\n${payload}`);
    // Length counts UTF-8 bytes, not characters.
    expect(new TextDecoder().decode(encodeRecord('é'))).toBe('2\né');
  });

  it('decodes any sequence of records split at arbitrary byte boundaries', () => {
    fc.assert(
      fc.property(
        fc.array(fc.string({ unit: 'binary', minLength: 1, maxLength: 200 }), { minLength: 1, maxLength: 20 }),
        fc.array(fc.integer({ min: 1, max: 64 }), { minLength: 1, maxLength: 50 }),
        (records, cuts) => {
          const bytes = concat(records.map(encodeRecord));
          const decoder = new RecordIODecoder();
          const decoded: string[] = [];
          let at = 0;
          let i = 0;
          while (at < bytes.byteLength) {
            const size = cuts[i++ % cuts.length] as number;
            decoded.push(...decoder.decode(bytes.subarray(at, at + size)));
            at += size;
          }
          expect(decoded).toEqual(records);
          expect(decoder.pending).toBe(0);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('refuses malformed headers instead of buffering forever', () => {
    expect(() => new RecordIODecoder().decode(new TextEncoder().encode('abc\n{}'))).toThrow(/invalid record length/);
    expect(() => new RecordIODecoder().decode(new TextEncoder().encode('1'.repeat(30)))).toThrow(/too long/);
    expect(() => new RecordIODecoder().decode(new TextEncoder().encode('99999999999\n'))).toThrow(/over the limit/);
  });
});
