import type { Socket } from 'node:net';

/**
 * Batches the frames written during one turn of the event loop into a single
 * cork/uncork (one writev). Flushing at the end of the turn rather than the
 * current microtask lets a commit's delivery and the acks it releases leave in
 * one write: loopback writes dominated the profile under load. Subclasses add
 * their overload rule on top of `backlog`.
 */
export class WriteBatcher {
  private queue: Buffer[] = [];
  private queued = 0;
  private scheduled = false;

  constructor(protected readonly socket: Socket) {}

  /** Bytes accepted but not yet taken by the kernel. */
  get backlog(): number {
    return this.queued + this.socket.writableLength;
  }

  /** Queues one encoded frame for the end of this turn. */
  protected enqueue(frame: Buffer): void {
    this.queue.push(frame);
    this.queued += frame.length;
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.flush);
    }
  }

  /** Drops everything queued and not yet written. */
  protected discard(): void {
    this.queue = [];
    this.queued = 0;
  }

  /** Hands everything queued to the socket now. */
  readonly flush = (): void => {
    this.scheduled = false;
    const q = this.queue;
    if (q.length === 0) return;
    this.discard();
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
