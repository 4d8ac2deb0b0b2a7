import test from 'ava';
import { Backoff, fullJitter, jitterAbove, sleep } from '../../protocol/client/backoff.js';

const opts = { initialMs: 100, maxMs: 5000 };
const almostOne = 1 - Number.EPSILON;

test('full jitter stays in [0, min(max, initial·2^attempt))', (t) => {
  for (let attempt = 0; attempt < 40; attempt++) {
    const ceiling = Math.min(opts.maxMs, opts.initialMs * 2 ** attempt);
    t.is(fullJitter(attempt, opts, () => 0), 0);
    const top = fullJitter(attempt, opts, () => almostOne);
    t.true(top < ceiling && top >= ceiling - 1, `attempt ${attempt}: ${top}`);
  }
});

test('full jitter grows exponentially, then stops at maxMs', (t) => {
  const tops = [0, 1, 2, 3, 6, 10, 1000].map((a) => fullJitter(a, opts, () => almostOne));
  t.deepEqual(tops, [99, 199, 399, 799, 4999, 4999, 4999]);
});

test('full jitter spreads draws over the whole range', (t) => {
  const draws = Array.from({ length: 2000 }, () => fullJitter(5, opts));
  t.true(draws.every((d) => d >= 0 && d < 3200));
  // Lockstep reconnects are what jitter prevents: the draws must not bunch up.
  t.true(new Set(draws).size > 1000);
  t.true(Math.min(...draws) < 320 && Math.max(...draws) > 2880);
});

test('Backoff counts attempts and resets after success', (t) => {
  const b = new Backoff(opts, () => almostOne);
  t.deepEqual([b.next(), b.next(), b.next()], [99, 199, 399]);
  t.is(b.attempts, 3);
  b.reset();
  t.is(b.attempts, 0);
  t.is(b.next(), 99);
});

test('jitterAbove waits at least the hint and at most half again', (t) => {
  t.is(jitterAbove(200, () => 0), 200);
  t.is(jitterAbove(200, () => 0.999), 299);
  t.is(jitterAbove(-5, () => 0.5), 0);
  for (let i = 0; i < 500; i++) {
    const d = jitterAbove(1000);
    t.true(d >= 1000 && d < 1500);
  }
});

test('sleep ends early when aborted', async (t) => {
  const ac = new AbortController();
  const started = Date.now();
  const done = sleep(10_000, ac.signal);
  setTimeout(() => ac.abort(), 20);
  await done;
  t.true(Date.now() - started < 5000, "well before the 10 s sleep");
  await sleep(5, ac.signal); // already aborted: resolves at once
});
