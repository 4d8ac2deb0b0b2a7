import test from 'ava';
import { arrive } from '../../bench/concurrency.js';

test('arrivals start on their own schedule, in order, without waiting for the ones before to finish', async (t) => {
  const startedAt: number[] = [];
  let running = 0;
  let most = 0;
  const t0 = performance.now();
  // 20 items at 200/s: one every 5 ms, 100 ms in all; each takes 50 ms.
  await arrive(Array.from({ length: 20 }, (_, i) => i), 200, async (item, index) => {
    t.is(item, index);
    startedAt.push(performance.now() - t0);
    most = Math.max(most, ++running);
    await new Promise((r) => setTimeout(r, 50));
    running--;
  });
  t.is(startedAt.length, 20);
  t.true(most > 1, 'a slow item did not hold back the next one');
  for (let i = 1; i < startedAt.length; i++) t.true(startedAt[i]! >= startedAt[i - 1]!);
  t.true(startedAt.at(-1)! >= 90, `the last started no earlier than its time (${startedAt.at(-1)} ms)`);
});
