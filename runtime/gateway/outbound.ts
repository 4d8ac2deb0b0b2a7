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
    if (this.admit()) this.enqueue(frame, delayMs);
  }

  /** Queues a frame so that it leaves no sooner than `gapMs` after the last write (at the end of this turn if that has passed). */
  writeSpaced(frame: Buffer, gapMs: number): void {
    if (this.admit()) this.enqueueSpaced(frame, gapMs);
  }

  /** False once the connection is gone or past its cap; the first time past it, the owner is told. */
  private admit(): boolean {
    if (this.overflowed || this.socket.destroyed) return false;
    if (this.backlog <= this.capBytes) return true;
    this.overflowed = true;
    this.discard();
    this.onOverflow();
    return false;
  }
}
