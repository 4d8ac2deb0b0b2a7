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
  private timer: NodeJS.Timeout | null = null;

  constructor(protected readonly socket: Socket) {}

  /** Bytes accepted but not yet taken by the kernel. */
  get backlog(): number {
    return this.queued + this.socket.writableLength;
  }

  /**
   * Queues one encoded frame for the end of this turn, or, with `delayMs`,
   * for at most that long: whatever is queued meanwhile, and the next frame
   * due at the end of a turn, leave with it in one write. Order is kept.
   */
  protected enqueue(frame: Buffer, delayMs = 0): void {
    this.queue.push(frame);
    this.queued += frame.length;
    if (this.scheduled) return;
    if (delayMs <= 0) {
      this.scheduled = true;
      setImmediate(this.flush);
    } else if (!this.timer) {
      this.timer = setTimeout(this.flush, delayMs);
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
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
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
