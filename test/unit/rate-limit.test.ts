import test from 'ava';
import { TokenBucket } from '../../actors/rate-limit.js';

test('a burst is granted, then one token per 1/rate seconds', (t) => {
  let now = 0;
  const b = new TokenBucket(10, 3, () => now);
  t.is(b.take(), 0);
  t.is(b.take(), 0);
  t.is(b.take(), 0);
  t.is(b.take(), 100, 'the next token is 100 ms away');
  now += 50;
  t.is(b.take(), 50);
  now += 50;
  t.is(b.take(), 0);
  now += 10_000;
  for (let i = 0; i < 3; i++) t.is(b.take(), 0);
  t.true(b.take() > 0, 'never more than the burst');
});
