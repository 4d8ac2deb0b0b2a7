/**
 * Retry delays. Reconnects use exponential backoff with full jitter (a uniform
 * draw in [0, cap)): after a server restart, thousands of clients would
 * otherwise reconnect in lockstep and knock it over again.
 */

/** Bounds of an exponential backoff. */
export interface BackoffOptions {
  /** Ceiling of the first delay. */
  initialMs: number;
  /** Ceiling no delay exceeds, however many attempts failed. */
  maxMs: number;
}

/** A source of uniform numbers in [0, 1); injectable so tests are deterministic. */
export type Random = () => number;

// 2^31 already passes any sane maxMs; a larger exponent only risks Infinity.
const MAX_EXPONENT = 31;

/** Full-jitter delay for a zero-based attempt: uniform in [0, min(maxMs, initialMs·2^attempt)). */
export function fullJitter(attempt: number, opts: BackoffOptions, random: Random = Math.random): number {
  const ceiling = Math.min(opts.maxMs, opts.initialMs * 2 ** Math.min(Math.max(0, attempt), MAX_EXPONENT));
  return Math.floor(random() * ceiling);
}

/**
 * A server-suggested wait stretched by up to half again, so clients told the
 * same `retryMs` do not all come back in the same millisecond.
 */
export function jitterAbove(ms: number, random: Random = Math.random): number {
  const base = Math.max(0, ms);
  return Math.floor(base + random() * (base / 2));
}

/** Counts failed attempts and hands out the next full-jitter delay. */
export class Backoff {
  private failures = 0;

  constructor(
    private readonly opts: BackoffOptions,
    private readonly random: Random = Math.random,
  ) {}

  /** Failed attempts since the last reset. */
  get attempts(): number {
    return this.failures;
  }

  /** Delay before the next attempt; each call counts one more failure. */
  next(): number {
    return fullJitter(this.failures++, this.opts, this.random);
  }

  /** Forgets past failures, after a success. */
  reset(): void {
    this.failures = 0;
  }
}

/** Resolves after `ms`, or at once when `signal` aborts (never rejects). */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = (): void => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}
