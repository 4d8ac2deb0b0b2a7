import type { Socket } from 'node:net';

/**
 * Batches frames written in one turn of the event loop into a single writev, and enforces a cap
 * on bytes the peer has not yet taken. Past the cap the connection is a slow
 * consumer: the owner is told and stops writing; memory stays bounded by the
 * cap plus one frame. The check is on the backlog before a frame, so one large
 * reply (a history page) never trips it on a connection that keeps up.
 */
export class Outbound {
  private queue: Buffer[] = [];
  private queued = 0;
  private scheduled = false;
  private overflowed = false;

  constructor(
    private readonly socket: Socket,
    private readonly capBytes: number,
    private readonly onOverflow: () => void,
  ) {}

  /** Bytes accepted but not yet handed to the kernel's socket buffer. */
  get backlog(): number {
    return this.queued + this.socket.writableLength;
  }

  write(frame: Buffer): void {
    if (this.overflowed || this.socket.destroyed) return;
    if (this.backlog > this.capBytes) {
      this.overflowed = true;
      this.queue = [];
      this.queued = 0;
      this.onOverflow();
      return;
    }
    this.queue.push(frame);
    this.queued += frame.length;
    if (!this.scheduled) {
      this.scheduled = true;
      // At the end of this turn of the event loop rather than the current
      // microtask: a commit's delivery and the acks it releases leave in one
      // write. Loopback writes dominated the profile under load.
      setImmediate(this.flush);
    }
  }

  /** Writes everything queued now; used before a close. */
  readonly flush = (): void => {
    this.scheduled = false;
    const q = this.queue;
    if (q.length === 0 || this.socket.destroyed) return;
    this.queue = [];
    this.queued = 0;
    if (q.length === 1) {
      this.socket.write(q[0]!);
      return;
    }
    this.socket.cork();
    for (const b of q) this.socket.write(b);
    this.socket.uncork();
  };
}
