import { performance, type EventLoopUtilization } from 'node:perf_hooks';

// Below this share of the event loop busy, deliveries never wait; at HIGH and
// above they wait the whole configured gap; in between, a proportional part.
const LOW = 0.5;
const HIGH = 0.8;
/** How fast the gap falls back once the load eases: it halves in this long. */
const HALF_LIFE_MS = 150;

/**
 * How far apart a connection's writes that carry deliveries should be right
 * now. Spacing them saves write syscalls (each wakes the reader too) at the
 * cost of up to a gap of delivery latency, a trade worth making only when the
 * pod is short of time: while the event loop has room the gap is 0 and every
 * delivery leaves at the end of its turn; as the loop fills, the gap grows to
 * the configured one.
 *
 * The loop's utilization is sampled every 50 ms and the gap rises at once to
 * what a sample asks for, but falls back only gradually. A burst (traffic
 * starting, a crowd arriving) otherwise ran a quarter of a second unspaced,
 * with every delivery its own write, before the first sample saw it; and one
 * quiet sample amid a busy stretch would let every connection write at once.
 */
export class DeliveryPacer {
  private current = 0;
  private timer: NodeJS.Timeout | null = null;
  private last: EventLoopUtilization | null = null;
  private readonly decay: number;

  constructor(
    private readonly maxGapMs: number,
    private readonly sampleMs = 50,
  ) {
    this.decay = 0.5 ** (sampleMs / HALF_LIFE_MS);
  }

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

  /** Takes one sample of the event loop's utilization (0 to 1) and sets the gap from it. */
  update(utilization: number): void {
    const share = Math.min(1, Math.max(0, (utilization - LOW) / (HIGH - LOW)));
    const wanted = this.maxGapMs * share;
    const eased = this.current * this.decay;
    // Under half a millisecond a gap saves nothing: let deliveries go at once.
    this.current = Math.max(wanted, eased < 0.5 ? 0 : eased);
  }
}
