/**
 * Overhead of the actor kernel: asks/second through the kernel (comedy +
 * serial mailbox + timeout) against a direct async method call and the bare
 * mailbox, in one run; then spawn/stop cost with and without buckets.
 * Run: npx tsx bench/kernel.ts
 */
import { performance } from 'node:perf_hooks';
import { pino } from 'pino';
import { ActorKernel } from '../actors/kernel.js';
import type { Envelope } from '../actors/kernel-types.js';
import { SerialMailbox } from '../actors/mailbox.js';
import { SerialActor, dispatcherFor } from '../actors/serial-actor.js';

interface BenchProtocol {
  add(n: number): number;
}

class Summer extends SerialActor<BenchProtocol> {
  total = 0;
  async add(n: number): Promise<number> {
    this.total += n;
    return this.total;
  }
}

const log = pino({ level: 'silent' });
const N = 200_000;
const BATCH = 100;

/** Runs `call` N times, `width` at a time, best of three; returns calls/second. */
async function rate(width: number, call: (i: number) => Promise<unknown>): Promise<number> {
  let best = 0;
  for (let round = 0; round < 3; round++) {
    const t0 = performance.now();
    for (let i = 0; i < N; i += width) {
      const batch: Promise<unknown>[] = [];
      for (let j = 0; j < width; j++) batch.push(call(i + j));
      await Promise.all(batch);
    }
    best = Math.max(best, N / ((performance.now() - t0) / 1000));
  }
  return best;
}

async function asks(): Promise<void> {
  const kernel = await ActorKernel.start({ log, askTimeoutMs: 5000, mailboxCap: 10_000 });
  const ref = await kernel.spawn('bench', () => new Summer());
  const direct = new Summer();
  const bare = new Summer();
  const mailbox = new SerialMailbox(dispatcherFor(bare), { cap: 10_000, busyRetryMs: 50, log });
  const viaMailbox = (n: number): Promise<Envelope> =>
    new Promise((settle) => mailbox.post('add', n, Number.POSITIVE_INFINITY, settle));

  for (const width of [1, BATCH]) {
    const d = await rate(width, (i) => direct.add(i));
    const m = await rate(width, (i) => viaMailbox(i));
    const k = await rate(width, (i) => ref.ask('add', i));
    console.log(
      `width ${String(width).padStart(3)}: direct ${fmt(d)}/s  mailbox ${fmt(m)}/s  kernel ${fmt(k)}/s  ` +
        `direct/kernel ${(d / k).toFixed(1)}x  direct/mailbox ${(d / m).toFixed(1)}x  µs/ask ${(1e6 / k).toFixed(2)}`,
    );
  }
  await kernel.shutdown();
}

async function lifecycle(buckets: number, count: number): Promise<void> {
  const kernel = await ActorKernel.start({ log, askTimeoutMs: 5000, mailboxCap: 100, buckets });
  const t0 = performance.now();
  const refs = await Promise.all(Array.from({ length: count }, (_, i) => kernel.spawn(`k${i}`, () => new Summer())));
  const t1 = performance.now();
  await Promise.all(refs.map((r) => kernel.stop(r)));
  const t2 = performance.now();
  console.log(
    `${count} actors, ${String(buckets).padStart(2)} bucket(s): spawn ${(t1 - t0).toFixed(0)} ms, stop ${(t2 - t1).toFixed(0)} ms`,
  );
  await kernel.shutdown();
}

function fmt(n: number): string {
  return n >= 1e6 ? `${(n / 1e6).toFixed(2)}M` : `${(n / 1e3).toFixed(0)}k`;
}

await asks();
for (const b of [1, 64]) await lifecycle(b, 20_000);
