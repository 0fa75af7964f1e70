/**
 * RecordIO (docs/recordio.md in Mesos): `<decimal byte length>\n<payload>`, records back to back with
 * no separator. HTTP chunk boundaries have nothing to do with record boundaries, so the decoder takes
 * bytes as they come and yields whole records.
 */

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const NEWLINE = 0x0a;

/** One record: text (a JSON event) or bytes (a protobuf one). */
export function encodeRecord(payload: string | Uint8Array): Uint8Array {
  const body = typeof payload === 'string' ? encoder.encode(payload) : payload;
  const header = encoder.encode(`${body.byteLength}\n`);
  const record = new Uint8Array(header.byteLength + body.byteLength);
  record.set(header, 0);
  record.set(body, header.byteLength);
  return record;
}

/** Largest record accepted (a corrupt length must not make the decoder buffer without bound). */
export const MAX_RECORD_BYTES = 64 * 1024 * 1024;

export class RecordIODecoder {
  private buffer = new Uint8Array(0);

  /** Feeds bytes; returns the records they complete, as text. Throws on a malformed header. */
  decode(chunk: Uint8Array): string[] {
    return this.decodeBytes(chunk).map((record) => decoder.decode(record));
  }

  /** Feeds bytes; returns the records they complete, as bytes. Throws on a malformed header. */
  decodeBytes(chunk: Uint8Array): Uint8Array[] {
    const joined = new Uint8Array(this.buffer.byteLength + chunk.byteLength);
    joined.set(this.buffer, 0);
    joined.set(chunk, this.buffer.byteLength);
    const records: Uint8Array[] = [];
    let offset = 0;
    for (;;) {
      const newline = joined.indexOf(NEWLINE, offset);
      if (newline < 0) {
        if (joined.byteLength - offset > 20) throw new Error('RecordIO: record length header is too long');
        break;
      }
      const header = decoder.decode(joined.subarray(offset, newline));
      if (!/^\d{1,20}$/.test(header)) throw new Error(`RecordIO: invalid record length '${header.slice(0, 20)}'`);
      const length = Number(header);
      if (length > MAX_RECORD_BYTES) throw new Error(`RecordIO: record of ${length} bytes is over the limit`);
      const start = newline + 1;
      if (joined.byteLength - start < length) break;
      records.push(joined.slice(start, start + length));
      offset = start + length;
    }
    this.buffer = joined.slice(offset);
    return records;
  }

  /** Bytes received that do not yet form a whole record. */
  get pending(): number {
    return this.buffer.byteLength;
  }
}
