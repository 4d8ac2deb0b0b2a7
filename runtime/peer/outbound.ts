import type { Socket } from 'node:net';

/**
 * Batches the frames written in one tick into one cork/uncork, like the
 * gateway's Outbound, but with the link's overload rule instead of a
 * disconnect: past the high-water mark the owner refuses new requests (BUSY)
 * and drops pushes, while replies and frames already accepted still go out.
 * Memory therefore stays near the mark plus whatever the in-flight cap lets
 * replies add, and a peer that reads again is served again without a reconnect.
 */
export class PeerOutbound {
  private queue: Buffer[] = [];
  private queued = 0;
  private scheduled = false;

  constructor(
    private readonly socket: Socket,
    private readonly highWaterBytes: number,
  ) {}

  /** Bytes accepted but not yet taken by the kernel. */
  get backlog(): number {
    return this.queued + this.socket.writableLength;
  }

  /** True while the peer is not keeping up; callers refuse or drop new work. */
  get congested(): boolean {
    return this.backlog > this.highWaterBytes;
  }

  write(frame: Buffer): void {
    if (this.socket.destroyed) return;
    this.queue.push(frame);
    this.queued += frame.length;
    if (!this.scheduled) {
      this.scheduled = true;
      queueMicrotask(this.flush);
    }
  }

  /** Hands everything queued to the socket now. */
  readonly flush = (): void => {
    this.scheduled = false;
    const q = this.queue;
    if (q.length === 0) return;
    this.queue = [];
    this.queued = 0;
    if (this.socket.destroyed) return;
    if (q.length === 1) {
      this.socket.write(q[0]!);
      return;
    }
    this.socket.cork();
    for (const b of q) this.socket.write(b);
    this.socket.uncork();
  };
}
