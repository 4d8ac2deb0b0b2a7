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
  private timerDue = 0;
  private lastFlushAt = -Infinity;

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
      return;
    }
    // A frame due sooner than the pending timer brings it forward.
    const due = performance.now() + delayMs;
    if (this.timer && this.timerDue <= due) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(this.flush, delayMs);
    this.timerDue = due;
  }

  /** How long a frame waits so that writes are at least `gapMs` apart (0: it need not). */
  protected gapDelay(gapMs: number): number {
    return gapMs <= 0 ? 0 : this.lastFlushAt + gapMs - performance.now();
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
    this.lastFlushAt = performance.now();
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
