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
    this.enqueueBy(frame, delayMs <= 0 ? 0 : performance.now() + delayMs);
  }

  /**
   * Queues a frame to leave no sooner than `gapMs` after the last write: at
   * the end of this turn if that much has passed, else with the write due then.
   */
  protected enqueueSpaced(frame: Buffer, gapMs: number): void {
    this.enqueueBy(frame, gapMs <= 0 ? 0 : this.lastFlushAt + gapMs);
  }

  /**
   * Queues a frame to leave by `dueAt` (performance.now() time; 0: the end of
   * this turn). The clock is read only when a timer is to be set or brought
   * forward, not for every frame that joins a write already due.
   */
  private enqueueBy(frame: Buffer, dueAt: number): void {
    this.queue.push(frame);
    this.queued += frame.length;
    if (this.scheduled || (this.timer && this.timerDue <= dueAt)) return;
    const wait = dueAt - (dueAt > 0 ? performance.now() : 0);
    if (wait <= 0) {
      if (this.timer) clearTimeout(this.timer);
      this.timer = null;
      this.scheduled = true;
      setImmediate(this.flush);
      return;
    }
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(this.flush, wait);
    this.timerDue = dueAt;
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
