/**
 * Latency samples and their percentiles. Samples are kept whole (a run has at
 * most a few hundred thousand) so percentiles are exact, not bucketed.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { errorName } from '../protocol/errors.js';

/** Percentile by nearest rank over sorted samples; NaN when there are none. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

export interface Summary {
  count: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

/** Collects millisecond samples. */
export class Samples {
  private readonly values: number[] = [];

  add(ms: number): void {
    this.values.push(ms);
  }

  get count(): number {
    return this.values.length;
  }

  summary(): Summary {
    const s = [...this.values].sort((a, b) => a - b);
    return { count: s.length, p50: percentile(s, 50), p95: percentile(s, 95), p99: percentile(s, 99), max: s.length ? s[s.length - 1]! : NaN };
  }
}

/** Counts by key, for errors grouped by code or message. */
export class Tally {
  private readonly counts = new Map<string, number>();

  add(key: string, n = 1): void {
    this.counts.set(key, (this.counts.get(key) ?? 0) + n);
  }

  get total(): number {
    let t = 0;
    for (const n of this.counts.values()) t += n;
    return t;
  }

  toObject(): Record<string, number> {
    return Object.fromEntries([...this.counts].sort((a, b) => b[1] - a[1]));
  }
}

/** A short label for an error: the protocol code name when it has one. */
export function errorKey(err: unknown): string {
  const e = err as { code?: unknown; message?: unknown; name?: unknown };
  if (typeof e?.code === 'number') return `${errorName(e.code)}${e.name === 'ConnectionLostError' ? ' (connection lost)' : ''}`;
  if (typeof e?.code === 'string') return e.code;
  return String(e?.message ?? err).slice(0, 80);
}

export const LAG_RESOLUTION_MS = 10;

/** Event-loop delay histograms record whole timer intervals, so an idle loop reads as the resolution: subtract it. */
export function loopDelayMs(ns: number, resolutionMs = LAG_RESOLUTION_MS): number {
  return Math.max(0, ns / 1e6 - resolutionMs);
}

/** Watches this process's event loop: when it is late, the bench's own timings are inflated. */
export function loopMonitor(): { stop(): { p50: number; p99: number; max: number } } {
  const h = monitorEventLoopDelay({ resolution: LAG_RESOLUTION_MS });
  h.enable();
  return {
    stop() {
      h.disable();
      return { p50: loopDelayMs(h.percentile(50)), p99: loopDelayMs(h.percentile(99)), max: loopDelayMs(h.max) };
    },
  };
}
