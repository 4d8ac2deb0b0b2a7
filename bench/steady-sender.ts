/**
 * A steady stream of sends on one channel from one client, released on a
 * timer (not after each ack), so new sends keep being issued while the owner
 * is down and the first ack after a kill is not held back by the sender.
 * In-flight sends are capped; a due send beyond the cap is counted, not queued.
 */
import type { TertuliaClient } from '../protocol/client/index.js';
import { sleep } from './concurrency.js';
import { Tally, errorKey } from './stats.js';

export interface SentAck {
  n: number;
  cmid: string;
  body: string;
  seq: number;
  sentAt: number;
  at: number;
}

export interface SteadySender {
  acks: SentAck[];
  errors: Tally;
  skippedAtCap(): number;
  inflight(): number;
  /** Stops issuing, waits (bounded) for the sends in flight to settle. */
  stop(waitMs: number): Promise<void>;
}

export function steadySender(c: TertuliaClient, channel: number, tag: string, o: { everyMs: number; cap: number; timeoutMs: number }): SteadySender {
  const acks: SentAck[] = [];
  const errors = new Tally();
  let n = 0;
  let inflight = 0;
  let skipped = 0;
  const timer = setInterval(() => {
    if (inflight >= o.cap) {
      skipped++;
      return;
    }
    const k = n++;
    const cmid = `${tag}-${k}`;
    const body = `${tag}:${k}`;
    const sentAt = performance.now();
    inflight++;
    c.send(channel, body, cmid, { timeoutMs: o.timeoutMs }).then(
      (r) => void acks.push({ n: k, cmid, body, seq: r.seq, sentAt, at: performance.now() }),
      (err: unknown) => errors.add(errorKey(err)),
    ).finally(() => inflight--);
  }, o.everyMs);
  return {
    acks,
    errors,
    skippedAtCap: () => skipped,
    inflight: () => inflight,
    async stop(waitMs) {
      clearInterval(timer);
      const end = performance.now() + waitMs;
      while (inflight > 0 && performance.now() < end) await sleep(50);
    },
  };
}
