import type { Socket } from 'node:net';
import { WriteBatcher } from '../net/write-batcher.js';

/**
 * A client connection's writes, batched per turn, with a cap on bytes the
 * peer has not yet taken. Past the cap the connection is a slow consumer: the
 * owner is told and stops writing; memory stays bounded by the cap plus one
 * frame. The check is on the backlog before a frame, so one large reply (a
 * history page) never trips it on a connection that keeps up.
 */
export class Outbound extends WriteBatcher {
  private overflowed = false;

  constructor(
    socket: Socket,
    private readonly capBytes: number,
    private readonly onOverflow: () => void,
  ) {
    super(socket);
  }

  /** Queues a frame for the end of this turn, or for at most `delayMs` (see WriteBatcher). */
  write(frame: Buffer, delayMs = 0): void {
    if (this.overflowed || this.socket.destroyed) return;
    if (this.backlog > this.capBytes) {
      this.overflowed = true;
      this.discard();
      this.onOverflow();
      return;
    }
    this.enqueue(frame, delayMs);
  }

  /** Queues a frame so that it leaves no sooner than `gapMs` after the last write (at the end of this turn if that has passed). */
  writeSpaced(frame: Buffer, gapMs: number): void {
    this.write(frame, this.gapDelay(gapMs));
  }
}
