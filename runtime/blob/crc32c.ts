/**
 * CRC32C (Castagnoli, reflected polynomial 0x82F63B78), the checksum GCS keeps
 * for every object. Reported as base64 of the big-endian 32-bit value, the form
 * the JSON API's `crc32c` field and the `x-goog-hash` header use.
 */

const TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0x82f63b78 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/** Incremental CRC32C: feed chunks, read the value at any point. */
export class Crc32c {
  private crc = 0xffffffff;

  update(bytes: Uint8Array): this {
    let c = this.crc;
    for (let i = 0; i < bytes.length; i++) c = TABLE[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
    this.crc = c;
    return this;
  }

  /** The checksum as an unsigned 32-bit number. */
  value(): number {
    return (this.crc ^ 0xffffffff) >>> 0;
  }

  /** The checksum as GCS writes it. */
  base64(): string {
    const out = Buffer.alloc(4);
    out.writeUInt32BE(this.value());
    return out.toString('base64');
  }
}

/** CRC32C of one buffer, in GCS's base64 form. */
export const crc32cBase64 = (bytes: Uint8Array): string => new Crc32c().update(bytes).base64();
