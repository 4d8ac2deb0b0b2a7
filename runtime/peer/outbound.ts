import type { Socket } from 'node:net';
import { WriteBatcher } from '../net/write-batcher.js';

/**
 * A peer link's writes, batched per turn like a client connection's, but with
 * the link's overload rule instead of a disconnect: past the high-water mark
 * the owner refuses new requests (BUSY) and drops pushes, while replies and
 * frames already accepted still go out. Memory therefore stays near the mark
 * plus whatever the in-flight cap lets replies add, and a peer that reads
 * again is served again without a reconnect.
 */
export class PeerOutbound extends WriteBatcher {
  constructor(
    socket: Socket,
    private readonly highWaterBytes: number,
  ) {
    super(socket);
  }

  /** True while the peer is not keeping up; callers refuse or drop new work. */
  get congested(): boolean {
    return this.backlog > this.highWaterBytes;
  }

  write(frame: Buffer): void {
    if (!this.socket.destroyed) this.enqueue(frame);
  }
}
