/**
 * Framing: every frame is a 4-byte big-endian payload length followed by the
 * payload (one MessagePack value). The decoder adopts the incoming chunk when a
 * frame lies wholly inside it and copies only when a frame spans chunks.
 */

export const FRAME_HEADER_BYTES = 4;

/** Why a byte stream cannot be decoded any further. */
export interface FrameFault {
  kind: 'too_large';
  length: number;
  max: number;
}

/** Receives each complete payload; the Buffer may alias the socket chunk. */
export type FrameSink = (payload: Buffer) => void;

/** Incremental decoder for length-prefixed frames with a size cap. */
export class FrameDecoder {
  private readonly maxPayload: number;
  // Bytes of a frame that spans chunks: header bytes first, then the body.
  private readonly header = Buffer.allocUnsafe(FRAME_HEADER_BYTES);
  private headerFill = 0;
  private body: Buffer | null = null;
  private bodyFill = 0;
  private fault: FrameFault | null = null;

  constructor(maxPayload: number) {
    this.maxPayload = maxPayload;
  }

  /** The fault that stopped decoding, if any; after one, input is ignored. */
  get failed(): FrameFault | null {
    return this.fault;
  }

  /** Bytes held for a frame that has not fully arrived. */
  get buffered(): number {
    return this.headerFill + this.bodyFill;
  }

  /**
   * Feeds one chunk and emits every complete payload. Returns the fault when
   * a declared length exceeds the cap; the body is never buffered in that case.
   */
  push(chunk: Buffer, sink: FrameSink): FrameFault | null {
    if (this.fault) return this.fault;
    let pos = 0;
    if (this.headerFill > 0 || this.body) {
      pos = this.continueSpanning(chunk, sink);
      if (pos < 0) return this.fault;
    }
    const end = chunk.length;
    while (end - pos >= FRAME_HEADER_BYTES) {
      const length = chunk.readUInt32BE(pos);
      if (length > this.maxPayload) return this.fail(length);
      const start = pos + FRAME_HEADER_BYTES;
      if (end - start < length) {
        this.beginBody(length, chunk.subarray(start, end));
        return null;
      }
      pos = start + length;
      sink(chunk.subarray(start, pos));
    }
    if (pos < end) {
      chunk.copy(this.header, 0, pos, end);
      this.headerFill = end - pos;
    }
    return null;
  }

  /** Completes a frame begun in earlier chunks; returns where the chunk's unread part starts. */
  private continueSpanning(chunk: Buffer, sink: FrameSink): number {
    let pos = 0;
    if (!this.body) {
      const take = Math.min(FRAME_HEADER_BYTES - this.headerFill, chunk.length);
      chunk.copy(this.header, this.headerFill, 0, take);
      this.headerFill += take;
      pos = take;
      if (this.headerFill < FRAME_HEADER_BYTES) return chunk.length;
      const length = this.header.readUInt32BE(0);
      this.headerFill = 0;
      if (length > this.maxPayload) {
        this.fail(length);
        return -1;
      }
      this.body = Buffer.allocUnsafe(length);
      this.bodyFill = 0;
    }
    const body = this.body;
    const take = Math.min(body.length - this.bodyFill, chunk.length - pos);
    chunk.copy(body, this.bodyFill, pos, pos + take);
    this.bodyFill += take;
    pos += take;
    if (this.bodyFill === body.length) {
      this.body = null;
      this.bodyFill = 0;
      sink(body);
    }
    return pos;
  }

  private beginBody(length: number, part: Buffer): void {
    this.body = Buffer.allocUnsafe(length);
    part.copy(this.body, 0);
    this.bodyFill = part.length;
  }

  private fail(length: number): FrameFault {
    this.fault = { kind: 'too_large', length, max: this.maxPayload };
    this.header.fill(0);
    this.headerFill = 0;
    this.body = null;
    this.bodyFill = 0;
    return this.fault;
  }
}

/** Prefixes one encoded payload with its length header. */
export function frame(payload: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(FRAME_HEADER_BYTES + payload.length);
  out.writeUInt32BE(payload.length, 0);
  out.set(payload, FRAME_HEADER_BYTES);
  return out;
}
