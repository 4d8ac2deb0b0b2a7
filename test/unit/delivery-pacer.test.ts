import test from 'ava';
import { DeliveryPacer } from '../../runtime/gateway/delivery-pacer.js';

test('no gap while the event loop has room; the whole gap once it is busy; a proportional part between', (t) => {
  for (const [utilization, gap] of [[0, 0], [0.3, 0], [0.5, 0], [0.65, 25], [0.8, 50], [0.95, 50], [1, 50]] as const) {
    const p = new DeliveryPacer(50);
    t.is(p.gapMs, 0, 'none before any sample');
    p.update(utilization);
    t.is(Math.round(p.gapMs), gap, `utilization ${utilization}`);
  }
});

test('the gap rises at the first busy sample and falls back gradually when the load goes', (t) => {
  const p = new DeliveryPacer(50, 50);
  p.update(0.2);
  t.is(p.gapMs, 0);
  p.update(0.9);
  t.is(p.gapMs, 50, 'one busy sample is enough');
  p.update(0.2);
  t.true(p.gapMs > 30 && p.gapMs < 50, `one quiet sample eases it only a little (${p.gapMs})`);
  p.update(0.65);
  t.true(p.gapMs > 30, 'a sample asking for less than the eased gap keeps the eased gap');
  // The gap halves every 150 ms: from 50 ms to under half a millisecond takes about 1 s.
  let samples = 0;
  while (p.gapMs > 0 && samples < 100) {
    p.update(0.1);
    samples++;
  }
  t.is(p.gapMs, 0, 'back to none');
  t.true(samples >= 15 && samples <= 25, `about a second of quiet samples (${samples})`);
});

test('the easing follows time, not the sampling rate', (t) => {
  const fast = new DeliveryPacer(50, 25);
  const slow = new DeliveryPacer(50, 150);
  fast.update(1);
  slow.update(1);
  for (let i = 0; i < 6; i++) fast.update(0);
  slow.update(0);
  t.is(Math.round(fast.gapMs * 100), Math.round(slow.gapMs * 100), 'six 25 ms samples ease as much as one of 150 ms');
  t.is(Math.round(slow.gapMs), 25, 'halved in 150 ms');
});

test('a gap of 0 never spaces anything, however busy', (t) => {
  const p = new DeliveryPacer(0);
  p.update(1);
  t.is(p.gapMs, 0);
  p.start();
  p.stop();
});

test('while started, samples of a busy loop raise the gap', async (t) => {
  const p = new DeliveryPacer(50, 10);
  p.start();
  const until = performance.now() + 60;
  while (performance.now() < until) {
    // Keep the loop busy so that the samples see it.
  }
  await new Promise((r) => setTimeout(r, 30));
  p.stop();
  t.true(p.gapMs > 0, `a busy loop raised the gap (${p.gapMs})`);
});
