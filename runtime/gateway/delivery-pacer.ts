import { performance, type EventLoopUtilization } from 'node:perf_hooks';

// Below this share of the event loop busy, deliveries never wait; at HIGH and
// above they wait the whole configured gap; in between, a proportional part.
const LOW = 0.5;
const HIGH = 0.8;

/**
 * How far apart a connection's writes that carry deliveries should be right
 * now. Spacing them saves write syscalls (each wakes the reader too) at the
 * cost of up to a gap of delivery latency, a trade worth making only when the
 * pod is short of time: while the event loop has room the gap is 0 and every
 * delivery leaves at the end of its turn; as the loop fills, the gap grows to
 * the configured one. The loop's utilization is sampled a few times a second.
 */
export class DeliveryPacer {
  private current = 0;
  private timer: NodeJS.Timeout | null = null;
  private last: EventLoopUtilization | null = null;

  constructor(
    private readonly maxGapMs: number,
    private readonly sampleMs = 250,
  ) {}

  /** The gap to keep now, in ms. */
  get gapMs(): number {
    return this.current;
  }

  start(): void {
    if (this.timer || this.maxGapMs <= 0) return;
    this.last = performance.eventLoopUtilization();
    this.timer = setInterval(() => {
      const now = performance.eventLoopUtilization();
      this.update(performance.eventLoopUtilization(now, this.last!).utilization);
      this.last = now;
    }, this.sampleMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** Sets the gap for a measured utilization (0 to 1) of the event loop. */
  update(utilization: number): void {
    const share = Math.min(1, Math.max(0, (utilization - LOW) / (HIGH - LOW)));
    this.current = this.maxGapMs * share;
  }
}
